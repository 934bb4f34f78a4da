"""Source texts for the synthetic test pages (ground truth is whatever is rendered)."""
import inspect
import json
import logging
import functools
import shutil
import subprocess
import urllib.parse

ENGLISH_PROSE = [
    "Minutes of the quarterly review held on Tuesday, 14 March 2023, at 10:30 in Room 4.17 of the "
    "Harbour Street office. Present: A. Lindqvist (chair), M. O'Connor, R. Patel, J. Nakamura and "
    "S. Williams; apologies were received from D. Fischer, who was travelling to Rotterdam.",
    "The chair opened the meeting by noting that revenue for the quarter reached $1,284,560, an "
    "increase of 7.4% over the same period last year, while operating costs rose by only 2.9%. "
    "Gross margin therefore improved from 38.1% to 41.6%; the board had expected 40.0% at most.",
    "Item 3 concerned the warehouse lease. The current agreement (ref. LSE-2019/0442) expires on "
    "30 June 2024 and the landlord has proposed a five-year renewal at EUR 18.50 per square metre, "
    "payable monthly in advance. After some discussion it was agreed to ask for a break clause "
    "after 36 months and a cap of 3% on annual indexation.",
    "R. Patel reported that the migration of the customer database was 92% complete. Of the "
    "2,417,803 records checked so far, 1,156 contained malformed postcodes and 87 had duplicate "
    "account numbers; these will be corrected manually before Friday, 24 March.",
    "Action points: (a) M. O'Connor to circulate the revised budget by 21/03/2023; (b) J. Nakamura "
    "to obtain three quotes for the new forklifts, each below GBP 45,000; (c) S. Williams to "
    "confirm the audit date with the external auditors, currently pencilled in for 9-11 May.",
    "Any other business: the staff survey closes at midnight on 31 March. So far 214 of 306 "
    "employees (about 70%) have responded. The next meeting will take place on 13 June 2023 at "
    "the same time; the chair thanked everyone and closed the meeting at 12:05.",
    "Dear Ms. Hargreaves, thank you for your letter of 2 February regarding invoice no. 2023-0178. "
    "We have checked our records and can confirm that the amount of $3,972.40 was received on "
    "17 February, three days after the due date. As this was your first late payment in six "
    "years, we are happy to waive the 1.5% surcharge.",
    "Please note that from 1 April our bank details will change. The new sort code is 20-45-77 and "
    "the account number is 61830495; the IBAN remains GB29 NWBK 6016 1331 9268 19. If you have any "
    "questions, call us on +44 (0)161 496 0732 between 9 a.m. and 5 p.m., Monday to Friday.",
    "The river rose quickly after the storm of 11 November 1998. By dawn the water stood 2.3 metres "
    "above its usual level, and the old stone bridge, built in 1787, was closed for the first time "
    "in living memory. Nobody was hurt, but 143 houses were flooded and the repairs cost nearly "
    "four million pounds.",
    "Looking back, the engineers agreed on three lessons: first, gauges upstream must report every "
    "15 minutes rather than hourly; second, the flood wall should be raised from 1.8 m to 2.6 m; "
    "and third - perhaps the most important - residents need clear warnings at least 6 hours ahead.",
    "Results of the field trial were encouraging. Yield per hectare rose from 6.2 t to 7.1 t "
    "(+14.5%), water use fell by 11%, and the cost of fertiliser per tonne of grain dropped to "
    "$23.80. However, the sample of 48 plots is small, and a second season (2024/25) is needed "
    "before any firm conclusion can be drawn.",
    "Shipping notice: order #A-55190 left our depot in Leeds on 05.09.2023 at 16:40 and is expected "
    "to arrive in Lyon within 3-4 working days. The consignment weighs 412.5 kg and consists of "
    "12 pallets; please quote the tracking number 7731-0042-9958 in any correspondence.",
]

FRENCH = [
    "Compte rendu de la réunion du conseil municipal du jeudi 12 octobre 2023, tenue à 18 h 30 "
    "dans la salle des fêtes. Étaient présents : Mme Lefèvre (maire), M. Dubois, Mme Garçon, "
    "M. Hébert et Mlle Côté ; M. Noël, excusé, avait donné pouvoir à Mme Lefèvre.",
    "Le budget prévisionnel pour l'année 2024 s'élève à 4 872 300 €, soit une hausse de 3,8 % par "
    "rapport à l'exercice précédent. Les dépenses d'énergie, qui représentaient 612 000 € en 2022, "
    "devraient diminuer de 15 % grâce à l'isolation de l'école élémentaire.",
    "Après un débat animé, le conseil a approuvé à l'unanimité la rénovation de la bibliothèque, "
    "dont les travaux débuteront le 8 janvier et s'achèveront au plus tard le 30 juin. Le coût "
    "total est estimé à 285 000 € hors taxes, financé pour moitié par la région.",
    "Mme Garçon a rappelé que la fête du village aura lieu le samedi 22 juin ; les associations "
    "qui souhaitent y participer doivent s'inscrire avant le 15 mai. « Nous espérons accueillir "
    "plus de 1 200 visiteurs », a-t-elle précisé, « comme l'été dernier ».",
    "Enfin, le maire a évoqué la sécurité routière près du collège : la vitesse sera limitée à "
    "30 km/h dès la rentrée, et deux passages piétons supplémentaires seront créés. La séance a "
    "été levée à 20 h 45. Prochaine réunion : mardi 14 novembre, même lieu, même heure.",
    "Il était une fois, dans un petit village de Provence, une boulangère qui se levait chaque "
    "matin à quatre heures. Ses croissants, dorés et légers, étaient célèbres jusqu'à Avignon ; "
    "on venait de loin pour goûter sa brioche à la fleur d'oranger et son pain de seigle.",
]

GERMAN = [
    "Protokoll der Mitgliederversammlung vom Freitag, 17. November 2023, im Gemeindesaal der "
    "Stadt Würzburg. Beginn: 19:00 Uhr. Anwesend waren 63 von 118 stimmberechtigten Mitgliedern; "
    "die Versammlung war somit beschlussfähig. Die Sitzungsleitung übernahm Frau Dr. Schäfer.",
    "Der Kassenbericht für das Geschäftsjahr 2022 weist Einnahmen in Höhe von 48.735,20 € und "
    "Ausgaben von 45.912,85 € aus. Der Überschuss von 2.822,35 € wird der Rücklage für die "
    "Sanierung des Vereinsheims zugeführt. Die Kassenprüfer bestätigten eine ordnungsgemäße Führung.",
    "Unter Punkt 4 wurde über die Erhöhung des Jahresbeitrags diskutiert. Der Vorstand schlug vor, "
    "den Beitrag für Erwachsene von 60 € auf 72 € und für Jugendliche von 30 € auf 36 € anzuheben. "
    "Der Antrag wurde mit 51 Ja-Stimmen bei 8 Gegenstimmen und 4 Enthaltungen angenommen.",
    "Herr Müller berichtete über das Sommerfest, das am 8. Juli bei schönem Wetter stattfand. "
    "Über 450 Gäste besuchten die Veranstaltung; der Erlös von 3.140 € geht an die Jugendabteilung. "
    "Für die große Unterstützung bedankte er sich ausdrücklich bei allen Helferinnen und Helfern.",
    "Verschiedenes: Die Grünfläche hinter der Sporthalle wird ab März 2024 neu gestaltet. Frau "
    "Köhler weist darauf hin, dass Schlüssel nur gegen Unterschrift ausgegeben werden. Die "
    "Versammlung endete um 21:15 Uhr. Nächster Termin: Donnerstag, 14. März 2024.",
    "Straßenbau in der Goethestraße: Wegen Kanalarbeiten bleibt der Abschnitt zwischen Hausnummer "
    "12 und 58 vom 3. bis voraussichtlich 28. April gesperrt. Anlieger können ihre Grundstücke "
    "über die Schillerstraße erreichen; wir bitten um Verständnis für die Unannehmlichkeiten.",
]


def _reflow(doc):
    paras = []
    for block in doc.split("\n\n"):
        lines = [l.strip() for l in block.splitlines() if l.strip()]
        if not lines:
            continue
        paras.append(" ".join(lines))
    return paras


def docstring_paragraphs():
    out = []
    for obj in [subprocess.run, shutil.copytree, json.dumps, logging.basicConfig,
                functools.lru_cache, shutil.rmtree, urllib.parse.urlsplit]:
        out.extend(_reflow(inspect.getdoc(obj) or ""))
    return out
