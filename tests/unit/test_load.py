"""Tests of ingest/load.py: real PDFs (made by tests/pdfs.py), Markdown, Python and text."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.formats.code import python_sections
from ingest.formats.text import decode_text, markdown_sections
from ingest.limits import Options
from ingest.load import kind_for, load
from rag.errors import LoadError
from rag.types import Document, Section
from tests.pdfs import (
    make_empty_pdf,
    make_encrypted_pdf,
    make_encrypted_pdf_empty_password,
    make_image_only_pdf,
    make_mixed_pdf,
    make_pdf,
)

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_sections(doc: Document) -> None:
    """Every section lies inside its page's text, and sections of a page do not overlap."""
    assert isinstance(doc, Document)
    last_end: dict[int | None, int] = {}
    for s in doc.sections:
        assert isinstance(s, Section)
        if doc.kind == "pdf":
            assert s.page is not None and 1 <= s.page <= len(doc.pages)
        else:
            assert s.page is None and len(doc.pages) == 1
        text = doc.page_text(s.page)
        assert 0 <= s.start <= s.end <= len(text)
        assert s.start >= last_end.get(s.page, 0)
        last_end[s.page] = s.end


def headings(sections) -> list[tuple[str, ...]]:
    return [s.heading for s in sections]


def slices(text: str, sections) -> list[str]:
    return [text[s.start : s.end] for s in sections]


# --- kind_for / unsupported -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("notes.md", "markdown"),
        ("NOTES.MD", "markdown"),
        ("a/b/c.markdown", "markdown"),
        ("x.Markdown", "markdown"),
        ("read.txt", "text"),
        ("READ.TXT", "text"),
        ("paper.pdf", "pdf"),
        ("Paper.PDF", "pdf"),
        ("tool.py", "python"),
        ("Tool.Py", "python"),
        (Path("dir.md") / "file.pdf", "pdf"),
        ("archive.tar.gz", None),
        ("notes.md.bak", None),
        ("Makefile", None),
        ("report.docx", "docx"),
        ("drawing.dwg", None),
    ],
)
def test_kind_for(name, kind):
    assert kind_for(name) == kind


def test_unsupported_extension_is_a_load_error():
    with pytest.raises(LoadError, match="unsupported") as err:
        load("drawing.dwg", b"some bytes")
    assert ".dwg" in str(err.value)


def test_no_extension_is_unsupported():
    with pytest.raises(LoadError, match="unsupported") as err:
        load("Makefile", b"all:\n\ttrue\n")
    assert "no extension" in str(err.value)


def test_upper_case_extensions_load():
    assert load("README.MD", b"# Title\nbody\n").kind == "markdown"
    assert load("doc.PDF", make_pdf(["Upper case"])).kind == "pdf"


# --- PDF --------------------------------------------------------------------------------


def test_pdf_text_lands_on_its_page():
    doc = load("paper.pdf", make_pdf(["Alpha apples", "Bravo bananas", "Charlie cherries"]))
    assert doc.kind == "pdf"
    assert doc.pages == ("Alpha apples", "Bravo bananas", "Charlie cherries")
    assert [s.page for s in doc.sections] == [1, 2, 3]
    for s in doc.sections:
        assert (s.start, s.end) == (0, len(doc.pages[s.page - 1]))
        assert s.heading == ()
    assert doc.page_text(2) == "Bravo bananas"
    assert doc.notes == ()
    check_sections(doc)


def test_pdf_multiline_and_latin1_text():
    doc = load("p.pdf", make_pdf(["Caf\xe9 r\xe9sum\xe9\nsecond line", "na\xefve \xa3 price"]))
    assert doc.pages[0] == "Caf\xe9 r\xe9sum\xe9\nsecond line"
    assert doc.pages[1] == "na\xefve \xa3 price"


def test_pdf_section_page_matches_text():
    words = ["zero", "one", "two", "three", "four", "five"]
    doc = load("p.pdf", make_pdf([f"page {w} here" for w in words]))
    assert len(doc.pages) == 6
    for s in doc.sections:
        assert words[s.page - 1] in doc.page_text(s.page)[s.start : s.end]


@pytest.mark.parametrize("algorithm", ["AES-256", "RC4-128"])
def test_pdf_with_password_is_refused(algorithm):
    data = make_encrypted_pdf(["Top secret"], user_password="secret", algorithm=algorithm)
    with pytest.raises(LoadError, match="encrypted"):
        load("locked.pdf", data)


@pytest.mark.parametrize("algorithm", ["AES-256", "RC4-128"])
def test_pdf_with_empty_user_password_opens(algorithm):
    data = make_encrypted_pdf_empty_password(["Open page", "Still open"], algorithm=algorithm)
    doc = load("perms.pdf", data)
    assert doc.pages == ("Open page", "Still open")
    assert [s.page for s in doc.sections] == [1, 2]


NO_OCR = Options(ocr=False)


def test_image_only_pdf_needs_ocr():
    with pytest.raises(LoadError, match="OCR is off") as err:
        load("scan.pdf", make_image_only_pdf(3), options=NO_OCR)
    assert "3 pages" in str(err.value)


def test_pdf_blank_pages_are_named_in_a_note():
    # pages 2 and 5 have drawings only, page 3 is empty, page 6 is whitespace.
    data = make_mixed_pdf(["First text", None, "", "Fourth text", None, " "])
    doc = load("mixed.pdf", data, options=NO_OCR)
    assert len(doc.pages) == 6
    assert doc.pages[0] == "First text" and doc.pages[3] == "Fourth text"
    assert doc.pages[1].strip() == doc.pages[2].strip() == doc.pages[4].strip() == ""
    assert [s.page for s in doc.sections] == [1, 4]
    assert doc.notes == ("no text layer on page(s) 2-3, 5-6 (scanned? OCR is off: QUIRE_OCR)",)


def test_pdf_single_blank_page_note():
    doc = load("m.pdf", make_mixed_pdf(["a text page", None, "another text page"]), options=NO_OCR)
    assert doc.notes == ("no text layer on page(s) 2 (scanned? OCR is off: QUIRE_OCR)",)
    assert [s.page for s in doc.sections] == [1, 3]


def test_pdf_page_whose_extraction_fails_is_noted(monkeypatch):
    from pypdf import PageObject

    original = PageObject.extract_text
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("broken content stream")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", flaky)
    doc = load("f.pdf", make_pdf(["one", "two", "three"]), pdf_engine="pypdf")
    assert doc.pages == ("one", "", "three")
    assert [s.page for s in doc.sections] == [1, 3]
    assert doc.notes == ("text could not be extracted from page(s) 2",)


def test_pdfium_page_whose_extraction_fails_is_noted(monkeypatch):
    import ingest.formats.pdf as loader

    original = loader._pdfium_text
    monkeypatch.setattr(
        loader, "_pdfium_text", lambda pdf, i: (_ for _ in ()).throw(ValueError()) if i == 1
        else original(pdf, i)
    )  # fmt: skip
    doc = load("f.pdf", make_pdf(["one", "two", "three"]))
    assert doc.pages == ("one", "", "three")
    assert doc.notes == ("text could not be extracted from page(s) 2",)


def test_pdfium_and_pypdf_find_the_same_words():
    pages = ["Field guide to amphibians.", "The glass frog (Centrolenidae) is see-through."]
    data = make_pdf(pages)
    fast, slow = load("f.pdf", data), load("f.pdf", data, pdf_engine="pypdf")
    assert [p.split() for p in fast.pages] == [p.split() for p in slow.pages]


def test_pdf_without_pages():
    with pytest.raises(LoadError, match="no pages"):
        load("empty.pdf", make_empty_pdf())


@pytest.mark.parametrize("fraction", [0.05, 0.25, 0.5, 0.75, 0.95])
def test_truncated_pdf_is_corrupt(fraction):
    data = make_pdf(["Will be cut", "second page"])
    with pytest.raises(LoadError, match="corrupt PDF"):
        load("cut.pdf", data[: int(len(data) * fraction)])


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-",
        b"%PDF-1.7\n" + bytes(random.Random(7).randrange(256) for _ in range(600)),
        b"%PDF-1.4\n%%EOF\n",
        b"this is not a pdf at all",
    ],
    ids=["header-only", "garbage", "header-eof", "plain-text"],
)
def test_garbage_pdf_is_corrupt(data):
    with pytest.raises(LoadError, match="corrupt PDF"):
        load("bad.pdf", data)


def test_empty_pdf_file():
    with pytest.raises(LoadError, match="empty"):
        load("zero.pdf", b"")


def test_damaged_pdfs_only_ever_raise_load_error():
    """Real PDFs with random bytes overwritten: a Document or a LoadError, nothing else."""
    data = make_pdf(["Alpha page", "Bravo page", "Charlie page"])
    rnd = random.Random(1234)
    outcomes = set()
    for _ in range(80):
        b = bytearray(data)
        for _ in range(rnd.randint(1, 8)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        try:
            doc = load("d.pdf", bytes(b))
        except LoadError as exc:
            assert str(exc)
            outcomes.add("error")
        else:
            check_sections(doc)
            outcomes.add("doc")
    assert outcomes == {"doc", "error"}  # the damage both broke and spared some files


# --- Markdown ---------------------------------------------------------------------------


NESTED = """# A
intro a
## B
b text
### C
c text
## D
d text
# E
e text
"""


def test_markdown_nested_heading_paths():
    secs = markdown_sections(NESTED)
    assert headings(secs) == [("A",), ("A", "B"), ("A", "B", "C"), ("A", "D"), ("E",)]
    starts = [NESTED.index(h) for h in ("# A", "## B", "### C", "## D", "# E")]
    assert [s.start for s in secs] == starts
    assert [s.end for s in secs] == starts[1:] + [len(NESTED)]
    assert all(s.page is None for s in secs)
    assert slices(NESTED, secs)[2] == "### C\nc text\n"


def test_markdown_skipped_level_is_popped_by_shallower_sibling():
    text = "# A\n### Deep\nx\n## Mid\ny\n"
    assert headings(markdown_sections(text)) == [("A",), ("A", "Deep"), ("A", "Mid")]


def test_markdown_setext_headings():
    text = "Title\n=====\n\nbody\n\nSub\n---\n\nmore\n"
    secs = markdown_sections(text)
    assert headings(secs) == [("Title",), ("Title", "Sub")]
    assert secs[0].start == 0
    assert secs[1].start == text.index("Sub\n---")
    assert text[secs[1].start : secs[1].end] == "Sub\n---\n\nmore\n"


def test_markdown_thematic_break_is_not_a_heading():
    text = "para\n\n---\n\nmore\n"
    assert markdown_sections(text) == (Section(None, 0, len(text), ()),)


def test_markdown_hash_lines_in_code_are_not_headings():
    text = (
        "# Real\n\n"
        "```python\n# not a heading\nx = 1\n```\n\n"
        "~~~\n## nor this\n~~~\n\n"
        "    # indented code either\n\n"
        "## Next\nafter\n"
    )
    secs = markdown_sections(text)
    assert headings(secs) == [("Real",), ("Real", "Next")]
    first = text[secs[0].start : secs[0].end]
    assert "# not a heading" in first and "## nor this" in first
    assert "# indented code either" in first


def test_markdown_headings_inside_quotes_and_lists_are_not_sections():
    text = "# A\n> # quoted\n\n- # item\n\n## B\n"
    secs = markdown_sections(text)
    assert headings(secs) == [("A",), ("A", "B")]
    assert secs[0] == Section(None, 0, text.index("## B"), ("A",))


def test_markdown_text_before_first_heading_has_empty_path():
    text = "Some intro.\nMore intro.\n\n# H\nbody\n"
    secs = markdown_sections(text)
    assert secs[0] == Section(None, 0, text.index("# H"), ())
    assert secs[1] == Section(None, text.index("# H"), len(text), ("H",))


def test_markdown_blank_preamble_makes_no_section():
    text = "\n\n# H\nbody\n"
    assert markdown_sections(text) == (Section(None, 2, len(text), ("H",)),)


def test_markdown_without_headings_is_one_section():
    text = "just a paragraph\nwith two lines\n"
    assert markdown_sections(text) == (Section(None, 0, len(text), ()),)


def test_markdown_heading_titles_are_stripped_of_markers():
    text = "## Closing hashes ##\nx\n#   Spaces around   \ny\n"
    assert headings(markdown_sections(text)) == [("Closing hashes",), ("Spaces around",)]


def test_markdown_sections_cover_text_and_start_at_heading_lines():
    text = "pre\n\n" + NESTED + "\nSetext\n======\ntail\n"
    secs = markdown_sections(text)
    assert secs[0].start == 0 and secs[-1].end == len(text)
    for a, b in zip(secs, secs[1:], strict=False):
        assert a.end == b.start
    for s in secs[1:]:
        line = text[s.start :].split("\n", 1)[0]
        assert line.lstrip("#").strip() == s.heading[-1]
    assert headings(secs)[-1] == ("Setext",)


def test_load_markdown_normalises_crlf_and_keeps_offsets():
    doc = load("n.md", b"# A\r\nx\r\n## B\r\ny\r\n")
    assert doc.kind == "markdown"
    assert doc.pages == ("# A\nx\n## B\ny\n",)
    assert headings(doc.sections) == [("A",), ("A", "B")]
    assert slices(doc.pages[0], doc.sections) == ["# A\nx\n", "## B\ny\n"]
    check_sections(doc)


# --- Python -----------------------------------------------------------------------------


PY = '''"""Module docstring."""

import os

CONSTANT = 1


@decorator
@other(arg=1)
def decorated(x):
    return x + 1


async def fetch():
    await thing()


class Widget(Base):
    """A widget."""

    def method(self):
        return 2


if __name__ == "__main__":
    main()
'''


def _span(text: str, first: str, last: str) -> tuple[int, int]:
    """Offsets from the line starting with `first` to the end of the line `last`."""
    start = text.index(first)
    end = text.index(last, start) + len(last)
    return start, end


def test_python_sections_per_top_level_def_and_class():
    secs, notes = python_sections(PY)
    assert notes == ()
    assert headings(secs) == [
        ("<module>",),
        ("def decorated",),
        ("def fetch",),
        ("class Widget",),
        ("<module>",),
    ]
    dec = _span(PY, "@decorator", "    return x + 1\n")
    fetch = _span(PY, "async def fetch", "    await thing()\n")
    widget = _span(PY, "class Widget", "        return 2\n")
    assert [(s.start, s.end) for s in secs] == [
        (0, dec[0]),
        dec,
        fetch,
        widget,
        (widget[1], len(PY)),
    ]
    parts = slices(PY, secs)
    assert parts[0].startswith('"""Module docstring."""') and "CONSTANT = 1" in parts[0]
    assert parts[1] == "@decorator\n@other(arg=1)\ndef decorated(x):\n    return x + 1\n"
    assert parts[2] == "async def fetch():\n    await thing()\n"
    assert parts[3].startswith("class Widget(Base):") and "def method" in parts[3]
    assert parts[4].strip() == 'if __name__ == "__main__":\n    main()'


def test_python_nested_defs_are_not_sections():
    text = "def outer():\n    def inner():\n        pass\n    return inner\n"
    secs, _ = python_sections(text)
    assert secs == (Section(None, 0, len(text), ("def outer",)),)


def test_python_def_at_end_without_newline():
    text = "x = 1\ndef f():\n    return 1"
    secs, _ = python_sections(text)
    assert headings(secs) == [("<module>",), ("def f",)]
    assert slices(text, secs) == ["x = 1\n", "def f():\n    return 1"]


def test_python_only_module_code():
    text = "# a comment\nimport sys\nprint(sys.argv)\n"
    assert python_sections(text) == ((Section(None, 0, len(text), ("<module>",)),), ())


def test_python_syntax_error_is_plain_text_with_note():
    text = "x = 1\ndef broken(:\n    pass\n"
    secs, notes = python_sections(text)
    assert secs == (Section(None, 0, len(text)),)
    assert len(notes) == 1 and "syntax error" in notes[0] and "line 2" in notes[0]


def test_python_null_byte_is_plain_text_with_note():
    text = "x = 1\0\n"
    secs, notes = python_sections(text)
    assert secs == (Section(None, 0, len(text)),)
    assert len(notes) == 1 and "syntax error" in notes[0]


def test_load_python_file():
    doc = load("tool.py", b"import os\r\n\r\ndef main():\r\n    return os.getcwd()\r\n")
    assert doc.kind == "python"
    assert doc.pages == ("import os\n\ndef main():\n    return os.getcwd()\n",)
    assert headings(doc.sections) == [("<module>",), ("def main",)]
    assert slices(doc.pages[0], doc.sections)[1] == "def main():\n    return os.getcwd()\n"
    assert doc.notes == ()


def test_load_python_syntax_error_keeps_the_file():
    doc = load("bad.py", b"def (\n")
    assert doc.sections == (Section(None, 0, len("def (\n")),)
    assert any("syntax error" in n for n in doc.notes)


def test_load_python_deeply_nested_expression_does_not_crash():
    data = b"x = 1" + b" + 1" * 10_000 + b"\n"  # e.g. generated code
    doc = load("generated.py", data)  # indexed as plain text, with a note
    assert doc.sections == (Section(None, 0, len(data)),)
    assert any("plain text" in n for n in doc.notes)


# --- text decoding ----------------------------------------------------------------------


def test_decode_utf8():
    assert decode_text("h\xe9llo w\xf6rld \u2713 \U0001f600".encode()) == (
        "h\xe9llo w\xf6rld \u2713 \U0001f600",
        (),
    )


def test_decode_utf8_bom_is_stripped():
    assert decode_text(b"\xef\xbb\xbfhello") == ("hello", ())


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_decode_utf16_with_bom(codec):
    body = "h\xe9llo\r\nw\u00f6rld \u2713"
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec]
    text, notes = decode_text(bom + body.encode(codec))
    assert text == "h\xe9llo\nw\u00f6rld \u2713"
    assert notes == ("decoded as UTF-16",)


def test_decode_invalid_utf16():
    with pytest.raises(LoadError, match="UTF-16"):
        decode_text(b"\xff\xfe\x00\xd8")  # lone surrogate


def test_decode_cp1252():
    text, notes = decode_text(b"caf\xe9 \x93quoted\x94 \x80 \x85")
    assert text == "caf\xe9 \u201cquoted\u201d \u20ac \u2026"
    assert len(notes) == 1 and "cp1252" in notes[0] and "byte 3" in notes[0]


def test_decode_of_bytes_no_encoding_explains_still_gives_text_and_says_so():
    text, notes = decode_text(b"ab \x81\x8d")  # undefined in cp1252
    assert text.startswith("ab ")
    assert len(notes) == 1 and "decoded as" in notes[0] and "byte 3" in notes[0]


def test_decode_bom_then_cp1252_strips_bom():
    text, _ = decode_text(b"\xef\xbb\xbfcaf\xe9")
    assert text == "caf\xe9"


def test_decode_bom_note_gives_file_byte_offset():
    _, notes = decode_text(b"\xef\xbb\xbfab\xe9")  # \xe9 is byte 5 of the file
    assert "byte 5" in notes[0]


def test_decode_normalises_line_endings():
    assert decode_text(b"a\r\nb\rc\nd\r\n")[0] == "a\nb\nc\nd\n"


@pytest.mark.parametrize(
    "data",
    [b"abc\x00def", b"\x00" * 10, b"text\x01\x02\x03\x04\x05\x06x", "hi".encode("utf-16-le")],
)
def test_binary_is_refused(data):
    with pytest.raises(LoadError, match="binary"):
        decode_text(data)
    with pytest.raises(LoadError, match="binary"):
        load("x.txt", data)


def test_one_nul_byte_in_a_long_text_is_binary():
    with pytest.raises(LoadError, match="binary"):
        load("x.md", b"plain words " * 100 + b"\0")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("e.txt", b""),
        ("e.md", b""),
        ("e.py", b""),
        ("w.txt", b"   \n\t\r\n  "),
        ("w.md", b"\n\n\n"),
        ("bom.txt", b"\xef\xbb\xbf"),
        ("bom16.txt", b"\xff\xfe"),
        ("nbsp.txt", "\u00a0\u3000\n".encode()),
    ],
)
def test_empty_files(name, data):
    with pytest.raises(LoadError, match="empty"):
        load(name, data)


def test_load_text_file():
    doc = load("notes.txt", b"line one\r\nline two\r\n")
    assert doc == Document("text", ("line one\nline two\n",), (Section(None, 0, 18),), ())


def test_load_text_file_keeps_decoding_note():
    doc = load("old.txt", b"caf\xe9\n")
    assert doc.pages == ("caf\xe9\n",)
    assert len(doc.notes) == 1 and "cp1252" in doc.notes[0]


# --- properties -------------------------------------------------------------------------

MD_LINES = st.sampled_from(
    [
        "# A",
        "## B",
        "### C",
        "###### F",
        "#nospace",
        "#",
        "Title",
        "=====",
        "---",
        "```",
        "~~~",
        "    code # x",
        "> # quoted",
        "- # item",
        "text",
        "",
        "  ",
        "caf\xe9",
    ]
)


def any_bytes():
    return st.one_of(
        st.binary(max_size=400),
        st.text(max_size=200).map(lambda t: t.encode("utf-8")),
        st.lists(MD_LINES, max_size=30).map(lambda ls: "\r\n".join(ls).encode("utf-8")),
    )


@FAST
@given(data=any_bytes())
def test_any_bytes_load_as_md_or_txt_or_fail_cleanly(data):
    for name in ("x.md", "x.txt"):
        try:
            doc = load(name, data)
        except LoadError as exc:
            assert str(exc)
            continue
        check_sections(doc)
        assert doc.sections
        for s in doc.sections:
            assert doc.pages[0][s.start : s.end].strip()


@FAST
@given(lines=st.lists(MD_LINES, max_size=40))
def test_markdown_sections_cover_all_text(lines):
    text = "\n".join(lines)
    secs = markdown_sections(text)
    pos = 0
    for s in secs:
        assert pos <= s.start <= s.end <= len(text)
        assert not text[pos : s.start].strip()  # only blank text is left out
        assert text[s.start : s.end].strip()
        assert s.start == 0 or text[s.start - 1] == "\n"
        assert len(s.heading) <= 6
        pos = s.end
    assert not text[pos:].strip()


PY_BLOCKS = [
    ("import os\n", None),
    ("x = 1\n", None),
    ("# comment\n", None),
    ("\n", None),
    ("def f{i}():\n    return {i}\n", "def f{i}"),
    ("@dec\n@dec2(1)\ndef g{i}(a):\n    return a\n", "def g{i}"),
    ("async def h{i}():\n    await x\n", "def h{i}"),
    ("class C{i}:\n    y = {i}\n\n    def m(self):\n        pass\n", "class C{i}"),
]


@FAST
@given(choice=st.lists(st.integers(0, len(PY_BLOCKS) - 1), max_size=15))
def test_python_sections_match_the_blocks(choice):
    expected: list[tuple[tuple[str, ...], str]] = []
    pending = ""  # module-level text since the last def/class
    text = ""
    for i, k in enumerate(choice):
        block, head = PY_BLOCKS[k]
        block = block.format(i=i)
        text += block
        if head is None:
            pending += block
            continue
        if pending.strip():
            expected.append((("<module>",), pending))
        pending = ""
        expected.append(((head.format(i=i),), block))
    if pending.strip():
        expected.append((("<module>",), pending))
    secs, notes = python_sections(text)
    assert notes == ()
    assert [(s.heading, text[s.start : s.end]) for s in secs] == expected


def test_pdf_bookmarks_head_the_page_parts_they_start():
    import io

    from pypdf import PdfReader, PdfWriter

    data = make_pdf(
        ["Contents", "1 Setup\nInstall the tool.\n1.1 Keys\nMake a key.", "Keys expire yearly."]
    )
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    setup = writer.add_outline_item(title="Setup", page_number=1)
    writer.add_outline_item(title="Keys", page_number=1, parent=setup)
    writer.add_outline_item(title="Nowhere printed", page_number=2, parent=setup)
    buf = io.BytesIO()
    writer.write(buf)
    doc = load("guide.pdf", buf.getvalue())
    parts = [(s.page, s.heading, doc.page_text(s.page)[s.start : s.end]) for s in doc.sections]
    assert parts == [
        (1, (), "Contents"),
        (2, ("Setup",), "1 Setup\nInstall the tool.\n"),
        (2, ("Setup", "Keys"), "1.1 Keys\nMake a key."),
        (3, ("Setup", "Nowhere printed"), "Keys expire yearly."),
    ]
