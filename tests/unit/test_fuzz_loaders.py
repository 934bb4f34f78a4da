"""Fuzzing the loaders (hypothesis, bounded): mutated PDFs, Markdown, text and Python never raise
anything but LoadError, and whatever loads also chunks with offsets that hold."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunk import chunk_document
from ingest.load import load
from rag.errors import LoadError
from tests.pdfs import make_encrypted_pdf, make_pdf

PDF = make_pdf(["First page about frogs.", "Second page: (nested) \\ escapes", "Third."])
ENCRYPTED = make_encrypted_pdf(["secret page"], "pw", "owner", "AES-256")
MARKDOWN = (
    b"# Title\n\nText with *emphasis* and `code`.\n\n## Sub\n\n```py\n# not a heading\n```\n"
    b"Setext\n======\n\n- list\n- [link](http://x)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
)
PYTHON = b"import os\n\nclass A:\n    def f(self):\n        return 1\n\n\ndef g(x):\n    return x\n"
# QUIRE_FUZZ_EXAMPLES=5000 for a longer run; the suite's run is fixed (derandomized) and short.
FUZZ = settings(
    max_examples=int(os.environ.get("QUIRE_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize="QUIRE_FUZZ_EXAMPLES" not in os.environ,
)


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete", "dup"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=40))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 200))]
        else:
            j = draw(st.integers(i, min(len(data), i + 300)))
            data[j:j] = data[i:j]
    return bytes(data)


def survives(name: str, data: bytes) -> None:
    try:
        doc = load(name, data)
    except LoadError as exc:
        assert str(exc)  # a reason the user can read
        return
    chunks = chunk_document(
        doc, f"/fuzz/{name}", 64, 8, lambda ts: [len(t.split()) for t in ts], 256
    )
    for c in chunks:
        assert doc.page_text(c.page)[c.start : c.end] == c.text


@FUZZ
@given(mutated(PDF))
def test_mutated_pdfs(data):
    survives("f.pdf", data)


@FUZZ
@given(mutated(ENCRYPTED))
def test_mutated_encrypted_pdfs(data):
    survives("e.pdf", data)


@FUZZ
@given(st.one_of(mutated(MARKDOWN), st.binary(max_size=2000)))
def test_mutated_markdown(data):
    survives("n.md", data)


@FUZZ
@given(st.text(max_size=3000).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_unicode_text(data):
    survives("t.txt", data)
    survives("t.md", data)


@FUZZ
@given(st.one_of(mutated(PYTHON), st.binary(max_size=1000)))
def test_mutated_python(data):
    survives("p.py", data)


# Issue 12's formats: a byte flipped or a file cut short anywhere must give a reason, never a
# crash. Zip-based files are mutated inside their members too (a valid zip holding broken XML).
def _seeds() -> dict[str, bytes]:
    import json as _json

    from tests import documents as make

    notebook = _json.dumps(
        {"cells": [{"cell_type": "markdown", "source": "# A\nx"}, {"cell_type": "code",
                    "source": "1", "outputs": [{"output_type": "stream", "text": "1"}]}]}
    ).encode()  # fmt: skip
    return {
        "d.docx": make.make_docx(), "s.pptx": make.make_pptx(), "b.xlsx": make.make_xlsx(),
        "o.odt": make.make_odt(), "h.ods": make.make_ods(), "e.epub": make.make_epub(),
        "r.rtf": make.RTF, "w.html": make.HTML, "n.ipynb": notebook,
        "c.csv": b"a,b,c\n1,\"2,3\",4\n", "j.json": b'{"a": {"b": [1, 2]}, "c": "d"}',
        "y.yaml": b"a:\n  b: 1\nc: [1, 2]\n", "t.toml": b'a = 1\n[b]\nc = "d"\n',
        "f.rss": b"<rss><channel><item><title>T</title><description>D</description></item>"
        b"</channel></rss>", "g.js": b"class A { f() { return 1; } }\nfunction g() {}\n",
    }  # fmt: skip


SEEDS = _seeds()


@st.composite
def zip_mutated(draw, seed: bytes) -> bytes:
    """The same archive with one member's bytes mutated, recompressed."""
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(seed))
    names = [i.filename for i in src.infolist()]
    target = draw(st.sampled_from(names))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == target:
                body = draw(mutated(body or b" "))
            z.writestr(info, body)
    return out.getvalue()


FEW = settings(FUZZ, max_examples=max(20, FUZZ.max_examples // 6))


@FEW
@given(st.data())
def test_mutated_files_of_every_new_format(data):
    name = data.draw(st.sampled_from(sorted(SEEDS)))
    survives(name, data.draw(mutated(SEEDS[name])))


@FEW
@given(st.data())
def test_office_files_with_broken_parts(data):
    name = data.draw(st.sampled_from(["d.docx", "s.pptx", "b.xlsx", "o.odt", "h.ods", "e.epub"]))
    survives(name, data.draw(zip_mutated(SEEDS[name])))
