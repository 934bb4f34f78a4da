"""The text-based formats (issue 12): each read with its structure, its provenance named in the
user's words, and its bad inputs turned into reasons."""

from __future__ import annotations

import json
from email.message import EmailMessage

import pytest

from ingest.load import kind_for, load
from rag.errors import LoadError
from tests.helpers import loaded_chunks
from tests.pdfs import make_pdf

chunks = loaded_chunks


# --- text families ----------------------------------------------------------------------


def test_rst_org_and_asciidoc_headings_become_heading_paths():
    rst = b"Guide\n=====\n\nIntro text.\n\nInstall\n-------\n\nRun the installer.\n"
    org = b"* Guide\nIntro.\n** Install\n#+BEGIN_SRC sh\n* not a heading\n#+END_SRC\nRun it.\n"
    adoc = b"= Guide\n\nIntro.\n\n== Install\n\n----\n== not a heading\n----\nRun it.\n"
    for name, data in (("g.rst", rst), ("g.org", org), ("g.adoc", adoc)):
        doc = load(name, data)
        assert [s.heading for s in doc.sections] == [("Guide",), ("Guide", "Install")], name


@pytest.mark.parametrize(
    "text, encoding",
    [
        ("会議の議事録は東京本社で保管します。", "cp932"),
        ("Café crème brûlée, naïve façade – déjà vu.", "cp1252"),
        ("Zażółć gęślą jaźń, to jest test polskich znaków.", "cp1250"),
        ("Привет, это заметка о встрече в Москве.", "cp1251"),
    ],
)
def test_the_encoding_of_a_non_utf8_file_is_detected_not_assumed(text, encoding):
    doc = load("note.txt", (text + "\n").encode(encoding) * 3)
    assert doc.pages[0].startswith(text)
    assert f"decoded as {encoding}" in doc.notes[0]


# --- notebooks --------------------------------------------------------------------------


def notebook() -> bytes:
    cells = [
        {"cell_type": "markdown", "source": ["# Analysis\n", "Loading the data."]},
        {
            "cell_type": "code",
            "source": "df = load('sales.csv')\nprint(df.total())",
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["Total: 1,355\n"]},
                {"output_type": "execute_result", "data": {"text/plain": ["<DataFrame 12x3>"]}},
            ],
        },
        {"cell_type": "markdown", "source": "## Findings\nSales rose in Q4."},
        {
            "cell_type": "code",
            "source": "1/0",
            "outputs": [
                {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero"}
            ],
        },  # fmt: skip
    ]
    return json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5}).encode()


def test_a_notebook_is_read_cell_by_cell_with_outputs_and_headings():
    doc, out = chunks("a.ipynb", notebook())
    assert doc.unit == "cell" and len(doc.pages) == 4
    assert "Total: 1,355" in doc.pages[1] and "<DataFrame 12x3>" in doc.pages[1]
    assert "ZeroDivisionError: division by zero" in doc.pages[3]
    code = next(c for c in out if "df = load" in c.text)
    assert code.location == "cell 2" and code.heading == ("Analysis",)
    assert next(c for c in out if "1/0" in c.text).heading == ("Analysis", "Findings")


def test_a_broken_notebook_gets_a_reason():
    with pytest.raises(LoadError, match="invalid JSON"):
        load("a.ipynb", b'{"cells": [')
    with pytest.raises(LoadError, match="no cells"):
        load("a.ipynb", b'{"nbformat": 4}')


# --- mail -------------------------------------------------------------------------------


def message(subject: str, body: str, html: bool = False, attach: bool = False) -> bytes:
    m = EmailMessage()
    m["From"] = "Ana Lima <ana@example.org>"
    m["To"] = "team@example.org"
    m["Date"] = "Tue, 03 Sep 2024 10:00:00 +0000"
    m["Subject"] = subject
    if html:
        m.set_content(f"<html><body><h1>{subject}</h1><p>{body}</p></body></html>", subtype="html")
    else:
        m.set_content(body)
    if attach:
        m.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="q3.pdf")
    return bytes(m)


def test_an_eml_keeps_its_headers_body_and_attachment_names():
    doc, out = chunks("m.eml", message("Budget for Q3", "We approved 12,500 EUR.", attach=True))
    page = doc.pages[0]
    assert "From: Ana Lima <ana@example.org>" in page and "Subject: Budget for Q3" in page
    assert "We approved 12,500 EUR." in page and "Attachments: q3.pdf" in page
    assert out[0].location == "message 1 (Budget for Q3)"


def test_an_html_only_mail_is_read_as_its_text():
    doc = load("m.eml", message("Launch", "The launch moved to <b>Friday</b>.", html=True))
    assert "The launch moved to Friday." in doc.pages[0] and "<b>" not in doc.pages[0]


def test_an_mbox_has_one_page_per_message():
    box = b"".join(
        b"From sender@example.org Tue Sep  3 10:00:00 2024\n" + message(s, f"Body {i}.") + b"\n"
        for i, s in enumerate(["First", "Second", "Third"])
    )
    doc, out = chunks("inbox.mbox", box)
    assert doc.page_names == ("First", "Second", "Third") and "Body 2." in doc.pages[2]
    assert {c.location for c in out} == {
        "message 1 (First)", "message 2 (Second)", "message 3 (Third)"
    }  # fmt: skip


# --- tables -----------------------------------------------------------------------------


def test_a_csv_row_is_cited_by_its_row_numbers_with_the_header_in_its_heading():
    rows = ["Date,Amount,Payee"] + [f'2024-01-{d:02d},"1,{d:03d}",Shop {d}' for d in range(1, 30)]
    doc, out = chunks("ledger.csv", ("\n".join(rows) + "\n").encode("cp1252"))
    assert doc.pages[0].split("\n")[1] == "2024-01-01 | 1,001 | Shop 1"
    assert all(c.heading == ("Date | Amount | Payee",) for c in out)
    hit = next(c for c in out if "Shop 7 " in c.text + " ")
    a, b = hit.line_start, hit.line_end
    assert hit.location == f"rows {a}-{b}" and a <= 8 <= b
    assert doc.pages[0].split("\n")[7] == "2024-01-07 | 1,007 | Shop 7"  # row 8 of the file


def test_tsv_and_semicolon_csv_are_split_on_their_delimiter():
    assert load("t.tsv", b"a\tb\n1\t2\n").pages[0] == "a | b\n1 | 2\n"
    assert load("s.csv", b"a;b;c\n1;2;3\n4;5;6\n").pages[0] == "a | b | c\n1 | 2 | 3\n4 | 5 | 6\n"


# --- structured text --------------------------------------------------------------------


def test_json_yaml_and_toml_sections_are_their_top_level_keys():
    j = load("c.json", b'{\n  "server": {"port": 8080},\n  "users": ["ana", "bo"]\n}\n')
    assert [s.heading for s in j.sections][-2:] == [("server",), ("users",)]
    y = load("c.yaml", b"server:\n  port: 8080\nusers:\n  - ana\n")
    assert [s.heading for s in y.sections] == [("server",), ("users",)]
    t = load("c.toml", b'title = "x"\n[server]\nport = 8080\n[[users]]\nname = "ana"\n')
    assert [s.heading for s in t.sections] == [(), ("server",), ("users",)]
    assert "not valid JSON" in load("bad.json", b'{"a": 1,,}').notes[0]


def test_rss_and_atom_feeds_are_read_entry_by_entry():
    rss = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>Blog</title>"
        b"<item><title>Owls at dusk</title><link>http://x/1</link>"
        b"<description>&lt;p&gt;Barn owls hunt at dusk.&lt;/p&gt;</description></item>"
        b"<item><title>Herons</title><description>Herons nest in March.</description></item>"
        b"</channel></rss>"
    )
    doc, out = chunks("blog.rss", rss)
    assert doc.kind == "feed" and doc.page_names == ("Owls at dusk", "Herons")
    assert "Barn owls hunt at dusk." in doc.pages[0] and "<p>" not in doc.pages[0]
    assert out[1].location == "item 2 (Herons)"
    atom = (
        b"<feed xmlns='http://www.w3.org/2005/Atom'><title>T</title><entry><title>One</title>"
        b"<link href='http://x/1'/><summary>First entry text.</summary></entry></feed>"
    )
    assert "First entry text." in load("f.atom", atom).pages[0]


def test_an_xml_entity_bomb_is_refused_not_expanded():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b"<lolz>&lol3;</lolz>"
    )
    with pytest.raises(LoadError, match="entity"):
        load("bomb.xml", bomb)


# --- content against name ---------------------------------------------------------------


def test_a_file_whose_name_lies_is_read_by_its_content():
    doc = load("report.docx.txt", make_pdf(["Quarterly figures"]))
    assert doc.kind == "pdf" and "read as PDF" in doc.notes[0]
    with pytest.raises(LoadError, match="image"):  # read as the image it is (a broken one)
        load("photo.md", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(LoadError, match="program"):
        load("tool.txt", b"\x7fELF\x02\x01\x01" + b"\0" * 64)
    assert load("cars.md", b"BMW and MZ motorbikes").kind == "markdown"


def test_every_registered_suffix_has_a_kind():
    for name in ("a.rst", "a.org", "a.adoc", "a.ipynb", "a.eml", "a.mbox", "a.csv", "a.tsv",
                 "a.json", "a.yaml", "a.yml", "a.toml", "a.xml", "a.rss", "a.atom"):  # fmt: skip
        assert kind_for(name), name


# --- images (no OCR needed to refuse these) ------------------------------------------


def test_an_image_of_20000_by_20000_pixels_is_refused_before_decoding():
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG")
    with pytest.raises(LoadError, match="pixels"):
        load("huge.png", buf.getvalue())


def test_a_damaged_image_and_ocr_off_get_reasons():
    from ingest.limits import Options

    with pytest.raises(LoadError, match="damaged or unreadable image"):
        load("broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    with pytest.raises(LoadError, match="OCR, which is off"):
        load("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, options=Options(ocr=False))
