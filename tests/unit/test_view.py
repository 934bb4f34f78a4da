import pytest

from ingest.sandbox import Sandbox
from quire.chat import view
from rag.answer.generate import QuotingGenerator
from rag.errors import QuireError
from tests.helpers import write
from tests.pdfs import make_pdf


def test_marked_escapes_everything_and_marks_the_quote():
    out = view.marked("a <b> & c", 2, 5)
    assert "<mark>&lt;b&gt;</mark>" in out and "&amp;" in out and "<b>" not in out


def test_marked_quote_finds_the_quote_when_the_offset_is_off():
    assert "<mark>beta</mark>" in view.marked_quote("alpha beta", "beta", 0)
    assert "<mark>" not in view.marked_quote("alpha beta", "gamma", None)


def test_passage_gives_context_and_follows_a_moved_quote():
    text = "x" * 5000 + "THE QUOTE" + "y" * 5000
    p = view.passage(text, 5000, 5009, "THE QUOTE", around=100)
    assert p.text[p.start : p.end] == "THE QUOTE" and p.clipped_before and p.clipped_after
    moved = view.passage("new text first. THE QUOTE", 0, 9, "THE QUOTE")
    assert moved.text[moved.start : moved.end] == "THE QUOTE" and not moved.clipped_before
    with pytest.raises(QuireError, match="changed"):
        view.passage("nothing here", 0, 4, "THE QUOTE")


@pytest.mark.parametrize("inline", [False, True])
def test_source_text_and_pdf_page(tmp_path, inline):
    sandbox = Sandbox(inline=inline)
    pdf = write(tmp_path / "g.pdf", make_pdf(["Page one.", "Page two.", "Page three text."]))
    assert "Page three" in view.source_text(str(pdf), 3, sandbox, 10**8)
    png = view.page_png(str(pdf), 3, sandbox, width=300)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 500
    with pytest.raises(QuireError, match="no page 9"):
        view.page_png(str(pdf), 9, sandbox)
    with pytest.raises(QuireError, match="not a|cannot open"):
        view.page_png(str(write(tmp_path / "bad.pdf", b"%PDF-1.4 garbage")), 1, sandbox)
    with pytest.raises(QuireError, match="cannot read"):
        view.source_text(str(tmp_path / "gone.md"), None, sandbox, 10**8)
    sandbox.close()


def test_quoting_fake_cites_the_first_excerpt():
    msgs = [
        {
            "role": "user",
            "content": '<excerpt n="1" source="a.md">\nBananas are yellow. '
            "They grow.\n</excerpt>\n\nQuestion: colour?",
        }
    ]
    assert "".join(QuotingGenerator().stream(msgs, 50)) == "Bananas are yellow [1]."


def test_library_code_never_imports_streamlit():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    for folder in ("rag", "ingest"):
        for path in (root / folder).rglob("*.py"):
            assert "streamlit" not in path.read_text(encoding="utf-8"), path


def test_marked_text_reads_back_exactly_once_unescaped():
    """Each character is escaped once: an apostrophe must not show as "&#x27;" on the page."""
    import html

    from quire.chat.view import marked

    text = "It's X'53' & <b>[x](y)</b> # $5 \"q\""
    out = marked(text, 0, 4)
    body = out[out.index(">") + 1 : out.rindex("</div>")]
    assert html.unescape(body.replace("<mark>", "").replace("</mark>", "")) == text
    assert "<b>" not in out and "](" not in out


def yellow(png: bytes) -> int:
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for r, g, b in image.getdata() if r > 200 and g > 170 and r - b > 60)


def test_a_quote_is_highlighted_on_the_pdf_page_itself(tmp_path):
    text = "Field notes.\nThe glass frog has a translucent belly.\nIt lives near waterfalls."
    pdf = write(tmp_path / "f.pdf", make_pdf([text]))
    sandbox = Sandbox()
    try:
        page_text = view.source_text(str(pdf), 1, sandbox, 10**8)
        start = page_text.index("translucent belly")
        plain = view.page_png(str(pdf), 1, sandbox, width=600)
        marked = view.page_png(str(pdf), 1, sandbox, (start, start + 17), width=600)
        boxed = view.page_png(str(pdf), 1, sandbox, boxes=[(0.1, 0.1, 0.3, 0.12)], width=600)
    finally:
        sandbox.close()
    assert yellow(plain) == 0 and yellow(marked) > 500 and yellow(boxed) > 1500
