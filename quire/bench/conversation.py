"""`quire bench conversation DIR`: does a question asked inside a chat retrieve as well as the
same question asked alone?

SQuAD v1.1 dev (DIR holds `answers.jsonl` and `beir/`): every chat has four turns [A1, A2, B1,
B2] from two different articles A and B. A1 and B1 are questions of their article that name the
article's title phrase T, asked as written (B1 changes the subject). A2 and B2 are other
questions of the same article that name T, made into follow-ups by FOLLOWUP_RULE: "Where did
Super Bowl 50 take place?" becomes "Where did it take place?". Each turn is searched twice: as
typed with the chat before it (`Answerer.ask(..., mode="quotes")`, the answers of the earlier
turns in its history), and as originally written with no history (the reference). A hit is the
gold paragraph among the top 5 hits; any paragraph of the right article is the lenient figure.
For the first `rewrite_questions` follow-ups the configured model is asked for a rewrite too.

A BEIR folder without answers (SciFact): chats of four unrelated queries, so every turn after the
first is a subject change; its claims stand alone, so no follow-ups can be made from them.
"""

from __future__ import annotations

import functools
import json
import random
import re
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from quire.bench.retrieval import corpus_files, read_beir
from rag.answer.followup import Turn, check_rewrite, context_forms, depends_on_chat
from rag.answer.policy import policy
from rag.errors import QuireError
from rag.settings import Settings

FIRST, FOLLOWUP, SUBJECT_CHANGE = "first", "follow-up", "subject change"
GROUPS = (FIRST, FOLLOWUP, SUBJECT_CHANGE)
TOP = 5  # a hit is the gold document among this many hits

FOLLOWUP_RULE = (
    "T is the article title with '_' read as spaces and a trailing '(...)' or ', ...' qualifier "
    "dropped (Fresno,_California -> Fresno), matched case-insensitively as whole words, with an "
    "optional leading 'the' that goes with it. A question is used only if every T in it can be "
    "replaced, which needs: no capitalised word just before it (it would end a longer name: "
    "'Lower Rhine', 'University of Warsaw'); without 'the', only the question's start, "
    "punctuation, a function word (of, in, is, that, ...), a wh-word other than what, which, "
    "whose, or a word in -ed just before it (not 'liquid oxygen', 'a teacher', 'What immune "
    "system'); just after it, a possessive, the end, punctuation, a function word or a word in "
    "-ed, or, for a capitalised T without 'the' after do/did/can/will/... ('did Kenya do'), "
    "any lowercase word; never a capitalised word, a digit or a hyphen ('the Warsaw Uprising', "
    "'Sky+'). The pronoun is 'it' ('its' for T's), for people too (no gender is guessed); a T "
    "whose last word ends in s but not in ss, is or us is plural: 'their' for T's or T', 'them' "
    "after a preposition or another lowercase word that is not an auxiliary, wh-word or "
    "conjunction, else 'they'. Example: 'Where did Super Bowl 50 take place?' -> 'Where did it "
    "take place?'"
)

_AUX = {
    "do", "does", "did", "is", "was", "are", "were", "has", "have", "had", "will", "would",
    "can", "could", "should", "may", "might", "must", "shall",
}  # fmt: skip
_DO_MODAL = {
    "do", "does", "did", "will", "would", "can", "could", "should", "may", "might", "must",
}  # fmt: skip
_PREPOSITIONS = {
    "in", "on", "at", "of", "to", "for", "from", "with", "by", "as", "into", "over", "under",
    "between", "about", "against", "during", "since", "until", "after", "before", "through",
    "throughout", "within", "without", "near", "around", "across", "among", "than", "like",
    "upon", "toward", "towards", "behind", "beyond", "outside", "inside",
}  # fmt: skip
_FUNCTION = _AUX | _PREPOSITIONS | {
    "and", "or", "but", "that", "which", "who", "whom", "whose", "when", "where", "while",
    "because", "if", "not", "also", "first", "ever", "still", "be", "been", "being",
}  # fmt: skip
_WH = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
_TOKEN = re.compile(r"[\w'’+-]+|[^\w\s]")


def title_phrase(title: str) -> str:
    """The phrase questions use for an article: "Fresno,_California" -> "Fresno"."""
    text = re.sub(r"\s*\([^)]*\)\s*$", "", title.replace("_", " "))
    return " ".join(text.split(",")[0].split())


def _pattern(phrase: str) -> re.Pattern:
    words = r"\s+".join(re.escape(w) for w in phrase.split())
    return re.compile(
        rf"(?<![\w'’])(?:(?P<the>the)\s+)?(?P<t>{words})(?P<pos>['’]s(?!\w)|['’](?![\w]))?(?![\w])",
        re.IGNORECASE,
    )


def names_title(question: str, phrase: str) -> bool:
    """Whether `question` contains the title phrase (case-insensitive, whole words)."""
    return bool(phrase) and _pattern(phrase).search(question) is not None


def is_plural(phrase: str) -> bool:
    """Whether the phrase reads as plural: its last word ends in s, not in ss, is or us."""
    last = phrase.split()[-1].lower() if phrase.split() else ""
    return last.endswith("s") and not last.endswith(("ss", "is", "us"))


def make_followup(question: str, phrase: str) -> str | None:
    """`question` with its title phrase replaced by a pronoun (FOLLOWUP_RULE); None when the
    phrase is missing or stands somewhere a pronoun cannot (e.g. it modifies a noun)."""
    if not phrase:
        return None
    matches = list(_pattern(phrase).finditer(question))
    if not matches:
        return None
    plural = is_plural(phrase)
    out, end = [], 0
    for m in matches:
        before = _TOKEN.findall(question[: m.start()])
        after = question[m.end() :].lstrip()
        the, proper = bool(m.group("the")), m.group("t")[:1].isupper()
        pronoun = _pronoun(before, after, bool(m.group("pos")), plural, the, proper)
        if pronoun is None:
            return None
        if m.start() == 0 or question[: m.start()].strip() in ('"', "'"):
            pronoun = pronoun.capitalize()
        out.append(question[end : m.start()] + pronoun)
        end = m.end()
    return "".join(out) + question[end:]


def _pronoun(
    before: list[str], after: str, possessive: bool, plural: bool, the: bool, proper: bool
) -> str | None:
    """The pronoun for one occurrence of T, from the words around it; None if none fits."""
    prev = before[-1] if before else ""
    prev_l = prev.lower()
    plain_word = prev.isalpha() and prev.islower() and prev_l not in _FUNCTION | _WH
    if len(before) >= 2 and prev[:1].isupper():
        return None  # "the Lower Rhine": T ends a longer name
    if len(before) >= 3 and prev_l == "of" and before[-2][:1].isupper():
        return None  # "the University of Warsaw"
    if not the and plain_word and not prev_l.endswith("ed"):
        return None  # "liquid oxygen", "a teacher": T is not the thing itself
    if not the and prev_l in ("what", "which", "whose"):
        return None  # "What immune system ...": the wh-word is T's determiner
    if possessive:
        return "their" if plural else "its"
    at_end = not after or after[0] in "?.!,;:\"')"
    if not at_end:
        nxt = re.match(r"[A-Za-z][\w'’-]*", after)
        if nxt is None:
            return None  # a digit, "+", "-": part of a longer name
        word = nxt.group(0)
        verb_like = word.lower() in _FUNCTION or (word.islower() and word.endswith("ed"))
        subject = proper and not the and prev_l in _DO_MODAL and word.islower()  # did Kenya do
        if not (verb_like or subject):
            return None  # T modifies the next word ("the Warsaw Uprising", "oxygen gas")
    if not plural:
        return "it"
    return "them" if prev_l in _PREPOSITIONS or plain_word else "they"


@dataclass(frozen=True)
class Planned:
    """One turn of a planned chat: the question as originally written and as typed."""

    group: str
    qid: str
    original: str
    typed: str
    article: str = ""  # SQuAD article number ("AA"); "" for BEIR corpora


def squad_chats(answers: list[dict], queries: dict, chats: int, rnd: random.Random):
    """(chats of [A1, A2, B1, B2], number of articles that qualify); see the module docstring.

    No question is used twice; fewer chats are made when the qualifying questions run out."""
    named: dict[str, list[str]] = {}
    followups: dict[str, dict[str, str]] = {}
    for a in answers:
        art, qid = a["corpus-id"].split("_")[0], a["_id"]
        phrase = title_phrase(a["title"])
        q = queries.get(qid, "")
        if not names_title(q, phrase):
            continue
        named.setdefault(art, []).append(qid)
        f = make_followup(q, phrase)
        if f is not None and f != q:
            followups.setdefault(art, {})[qid] = f
    qualifying = sorted(a for a in named if len(named[a]) >= 2 and followups.get(a))
    used: set[str] = set()

    def pick(art: str) -> tuple[str, str]:  # (A1, A2) of an article `_available` accepted
        second = rnd.choice([q for q in followups[art] if q not in used])
        return rnd.choice([q for q in named[art] if q not in used and q != second]), second

    plan = []
    for _ in range(chats):
        ready = [a for a in qualifying if _available(a, named, followups, used)]
        if len(ready) < 2:
            break
        chat = []
        for n, art in enumerate(rnd.sample(ready, 2)):
            first, second = pick(art)
            used.update((first, second))
            group = FIRST if n == 0 else SUBJECT_CHANGE
            chat.append(Planned(group, first, queries[first], queries[first], art))
            chat.append(Planned(FOLLOWUP, second, queries[second], followups[art][second], art))
        plan.append(chat)
    return plan, len(qualifying)


def _available(art, named, followups, used) -> bool:
    follow = [q for q in followups[art] if q not in used]
    return bool(follow) and len([q for q in named[art] if q not in used]) >= 2


def beir_chats(queries: dict, qrels: dict, chats: int, rnd: random.Random) -> list[list[Planned]]:
    """Chats of four unrelated queries (each used once): a first question, then subject changes."""
    qids = [q for q in queries if q in qrels]
    n = min(chats, len(qids) // 4)
    drawn = rnd.sample(qids, 4 * n)
    return [
        [
            Planned(FIRST if i == 0 else SUBJECT_CHANGE, q, queries[q], queries[q])
            for i, q in enumerate(drawn[4 * c : 4 * c + 4])
        ]
        for c in range(n)
    ]


def run_conversation(
    folder: Path,
    settings: Settings,
    chats: int = 100,
    seed: int = 0,
    rewrite_questions: int = 60,
    workdir: Path | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> dict:
    """Index the corpus once, play the chats, compare each turn in the chat with it alone.

    With `workdir`, the documents and the index are kept there (a rerun embeds nothing)."""
    from quire.engine import build_engine

    began = time.perf_counter()
    squad = _squad_root(folder)
    corpus, queries, qrels = read_beir(squad / "beir" if squad else folder)
    rnd = random.Random(seed)
    qualifying = None
    if squad:
        with open(squad / "answers.jsonl", encoding="utf-8") as f:
            answers = [json.loads(line) for line in f]
        plan, qualifying = squad_chats(answers, queries, chats, rnd)
    else:
        plan = beir_chats(queries, qrels, chats, rnd)
    if not plan:
        raise QuireError(f"{folder}: too few questions to make a single chat")
    with tempfile.TemporaryDirectory(prefix="quire-conversation-") as tmp:
        tmp = Path(workdir or tmp)
        log(f"writing {len(corpus)} documents as Markdown files")
        doc_of = corpus_files(corpus, tmp / "docs")
        engine = build_engine(replace(settings, home=tmp / "home"))
        try:
            log("ingesting through the normal pipeline")
            t = time.perf_counter()
            report = engine.ingest([str(tmp / "docs")])
            ingest_s = time.perf_counter() - t
            t = time.perf_counter()
            rows = _play(engine, plan, qrels, doc_of, bool(squad), log)
            chats_s = time.perf_counter() - t
            t = time.perf_counter()
            rewrites = (
                _rewrites(engine, rows, qrels, doc_of, rewrite_questions, log)
                if squad and rewrite_questions > 0
                else None
            )
            rewrites_s = time.perf_counter() - t
            chunks = engine.store.count()
        finally:
            engine.close()
    groups = {g: _stats([r for r in rows if r["group"] == g]) for g in GROUPS}
    return {
        "benchmark": "conversation",
        "corpus": squad.name if squad else folder.name,
        "kind": "squad" if squad else "beir",
        "documents": len(corpus),
        "chunks": chunks,
        "chunks_embedded": report.chunks,
        "chats": len(plan),
        "chats_requested": chats,
        "turns_per_chat": 4,
        "turns": len(rows),
        "seed": seed,
        "articles_qualifying": qualifying,
        "embedder": engine.embedder.name,
        "min_relevance": engine.answerer.settings.min_relevance,
        "hits_compared": TOP,
        "followup_rule": FOLLOWUP_RULE if squad else None,
        "note": None
        if squad
        else (
            "BEIR queries stand alone: chats of four unrelated queries, so every turn after the "
            "first is a subject change and no follow-ups can be made"
        ),  # fmt: skip
        "groups": {g: s for g, s in groups.items() if s["n"]},
        "examples": [
            {"original": r["original"], "typed": r["typed"], "searched": r["searched"]}
            for r in rows
            if r["group"] == FOLLOWUP
        ][:5],
        "rewrites": rewrites,
        "seconds": {
            "ingest": round(ingest_s, 1),
            "chats": round(chats_s, 1),
            "rewrites": round(rewrites_s, 1),
            "total": round(time.perf_counter() - began, 1),
        },
    }


def _squad_root(folder: Path) -> Path | None:
    """The SQuAD folder (with answers.jsonl and beir/) given it or its beir/, else None."""
    for root in (folder, folder.parent):
        if (root / "answers.jsonl").is_file() and (root / "beir").is_dir():
            if root == folder or folder.name == "beir":
                return root
    return None


def _answer_k(engine) -> int:
    """How many hits `ask` retrieves with the configured model (its policy), as ask does."""
    s = engine.answerer.settings
    if s.k:
        return s.k
    try:
        return policy(engine.generator(), s.answer_tokens).k
    except QuireError:
        return 6


def _play(engine, plan, qrels, doc_of, squad: bool, log) -> list[dict]:
    answerer, retriever = engine.answerer, engine.retriever
    k, threshold = _answer_k(engine), answerer.settings.min_relevance
    rows = []
    for c, chat in enumerate(plan, start=1):
        if c % 20 == 0 or c == len(plan):
            log(f"chat {c} of {len(plan)}")
        past: list[Turn] = []
        for t in chat:
            answer = answerer.ask(t.typed, past, mode="quotes")
            alone = retriever.search(t.original, k)
            typed_alone = alone if t.typed == t.original else retriever.search(t.typed, k)
            gold = qrels[t.qid]
            row = {"group": t.group, "original": t.original, "typed": t.typed, "qid": t.qid}
            row["searched"] = answer.standalone_question
            row["dependent"] = depends_on_chat(t.typed)
            for name, hits in (("alone", alone), ("chat", answer.hits), ("typed", typed_alone)):
                row[f"hit_{name}"] = _hit(hits, gold, doc_of)
                row[f"refused_{name}"] = _relevance(hits) < threshold
                if squad:
                    row[f"article_{name}"] = _article_hit(hits, t.article, doc_of)
            row["past"] = list(past)
            row["article"] = t.article
            rows.append(row)
            past.append(Turn(t.typed, answer.text, answer.standalone_question))
    return rows


def _relevance(hits) -> float:
    return max((h.dense or 0.0 for h in hits), default=0.0)


def _hit(hits, gold: dict, doc_of: dict) -> bool:
    return any(doc_of.get(h.chunk.source) in gold for h in hits[:TOP])


def _article_hit(hits, article: str, doc_of: dict) -> bool:
    return any((doc_of.get(h.chunk.source) or "").split("_")[0] == article for h in hits[:TOP])


def _rate(rows, key) -> float | None:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 4) if rows else None


def _stats(rows: list[dict]) -> dict:
    out = {"n": len(rows)}
    if not rows:
        return out
    for key in ("hit", "article", "refused"):
        if f"{key}_alone" not in rows[0]:
            continue
        for name in ("alone", "chat", "typed"):
            out[f"{key}_{name}"] = _rate(rows, f"{key}_{name}")
    out["dependent"] = _rate(rows, "dependent")
    out["diff_points"] = round(100 * (out["hit_chat"] - out["hit_alone"]), 1)
    if "article_alone" in out:
        out["article_diff_points"] = round(100 * (out["article_chat"] - out["article_alone"]), 1)
    return out


def _rewrites(engine, rows, qrels, doc_of, limit: int, log) -> dict:
    """Ask the configured model to rewrite the first `limit` follow-ups; score what it gives."""
    follow = [r for r in rows if r["group"] == FOLLOWUP][:limit]
    try:
        gen = engine.generator()
        if hasattr(gen, "warm_up"):
            gen.warm_up()
    except (QuireError, ImportError, OSError, RuntimeError, ValueError) as exc:
        return {"skipped": f"the answer model could not be loaded: {exc}"}
    log(f"asking {gen.name} to rewrite {len(follow)} follow-ups")
    answerer, retriever = engine.answerer, engine.retriever
    times, got = [], []
    for r in follow:
        past = r["past"]
        t = time.perf_counter()
        rewrite = answerer.rewrite(r["typed"], past, gen)
        times.append((time.perf_counter() - t) * 1000)
        passed = check_rewrite(rewrite, r["typed"], past)
        gold = qrels[r["qid"]]
        context = context_forms(r["typed"], past)
        # as `Answerer.retrieve` does: the rewrite joins the question and its context forms
        forms = retriever.search_many([r["typed"], rewrite, *context], TOP) if rewrite else None
        ctx = retriever.search_many([r["typed"], *context], TOP)
        got.append(
            {
                "question": r["typed"],
                "rewrite": rewrite,
                "passed": passed,
                "default": r["hit_chat"],
                "contextual": _hit(ctx, gold, doc_of),
                "checked": _hit(forms, gold, doc_of) if passed else r["hit_chat"],
                "any": _hit(forms, gold, doc_of) if forms is not None else r["hit_chat"],
            }
        )
    ok = [g for g in got if g["passed"]]
    return {
        "model": gen.name,
        "asked": len(got),
        "passed_check": len(ok),
        "hit_default": _rate(got, "default"),
        "hit_contextual": _rate(got, "contextual"),
        "hit_checked_rewrite": _rate(got, "checked"),
        "hit_any_rewrite": _rate(got, "any"),
        "passed_hit_default": _rate(ok, "default"),
        "passed_hit_rewrite": _rate(ok, "checked"),
        "median_ms": round(statistics.median(times), 1) if times else None,
        "examples": [
            {"question": g["question"], "rewrite": g["rewrite"], "passed": g["passed"]}
            for g in got[:5]
        ],
    }


def format_conversation(r: dict) -> str:
    """The result as a compact table."""
    lines = [
        f"{r['corpus']}: {r['chats']} chats of {r['turns_per_chat']} turns (seed {r['seed']}); "
        f"{r['documents']} documents -> {r['chunks']} chunks; embedder {r['embedder']}; "
        f"refused below relevance {r['min_relevance']}",
    ]
    if r.get("followup_rule"):
        rule = f"{r['articles_qualifying']} articles qualify. Follow-ups: {r['followup_rule']}"
        lines += textwrap.wrap(rule, 100)
    if r.get("note"):
        lines.append(r["note"])
    article = any("article_alone" in g for g in r["groups"].values())
    lines += [
        "",
        f"hit@{r['hits_compared']} (gold document in the top {r['hits_compared']})"
        + ("; article-level in brackets" if article else ""),
        f"{'group':15} {'n':>4} {'alone':>13} {'in chat':>13} {'typed alone':>13} "
        f"{'chat-alone':>11} {'dependent':>9} {'refused alone/chat/typed':>25}",
    ]
    for name, g in r["groups"].items():
        cell = functools.partial(_cell, g, article)
        diff = f"{g['diff_points']:+.1f}"
        if article:
            diff += f" ({g['article_diff_points']:+.1f})"
        refused = f"{g['refused_alone']:.3f}/{g['refused_chat']:.3f}/{g['refused_typed']:.3f}"
        lines.append(
            f"{name:15} {g['n']:4} {cell('alone'):>13} {cell('chat'):>13} "
            f"{cell('typed'):>13} {diff:>11} {g['dependent']:9.3f} {refused:>25}"
        )
    lines.append(
        "alone: the original question, no chat; in chat: as typed, with the chat before it; "
        "typed alone: as typed, no chat; dependent: share `depends_on_chat` flags"
    )
    rw = r.get("rewrites")
    if rw:
        lines.append("")
        if "skipped" in rw:
            lines.append(f"model rewrites: skipped ({rw['skipped']})")
        else:
            lines += _format_rewrites(rw)
    lines.append("")
    lines.append("seconds: " + ", ".join(f"{k} {v}" for k, v in r["seconds"].items()))
    return "\n".join(lines)


def _cell(g: dict, article: bool, key: str) -> str:
    v = f"{g[f'hit_{key}']:.3f}"
    return f"{v} ({g[f'article_{key}']:.3f})" if article else v


def _format_rewrites(rw: dict) -> list[str]:
    def f(v) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = [
        f"model rewrites by {rw['model']}: {rw['passed_check']} of {rw['asked']} follow-ups pass "
        f"check_rewrite; median {rw['median_ms']} ms per rewrite",
        f"  hit@5 on these follow-ups: default {f(rw['hit_default'])}, context forms always "
        f"{f(rw['hit_contextual'])}, checked rewrite {f(rw['hit_checked_rewrite'])}, any "
        f"rewrite unchecked {f(rw['hit_any_rewrite'])}",
        f"  on the {rw['passed_check']} that pass: default {f(rw['passed_hit_default'])}, "
        f"rewrite {f(rw['passed_hit_rewrite'])}",
    ]
    for e in rw["examples"]:
        mark = "pass" if e["passed"] else "fail"
        lines.append(f"  [{mark}] {e['question']!r} -> {e['rewrite']!r}")
    return lines
