"""OCR with the real Tesseract (`make install` installs it): images, scanned PDF pages, word
boxes. The "scans" are pages rendered from PDFs made with known text, so the truth is known."""

from __future__ import annotations

import io

import pytest

from ingest.limits import Options
from ingest.load import load
from ingest.pages import ocr
from ingest.sandbox import Sandbox
from tests.pdfs import make_pdf

pytestmark = pytest.mark.skipif(not ocr.available(), reason="Tesseract missing: run make install")

SENTENCE = "The glass frog has a translucent belly and lives near waterfalls."


def scan(text: str, dpi: int = 200):
    """A PIL image of a page with `text` on it, as a scanner would give it."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(make_pdf([text]))
    image = pdf[0].render(scale=dpi / 72).to_pil().convert("L")
    pdf.close()
    return image


def png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def scanned_pdf(pages) -> bytes:
    """A PDF whose pages are images (a scan), or text where a page is given as a string."""
    from fpdf import FPDF

    doc = FPDF()
    for page in pages:
        doc.add_page()
        if isinstance(page, str):
            doc.set_font("Helvetica", size=12)
            doc.multi_cell(0, 8, page)
        else:
            doc.image(io.BytesIO(png(page)), x=0, y=0, w=210)
    return bytes(doc.output())


def words(text: str) -> set[str]:
    return {w.strip(".,").lower() for w in text.split()}


def test_an_image_is_read_with_word_boxes():
    doc = load("frog.png", png(scan(SENTENCE)))
    assert doc.kind == "image" and doc.notes[0].startswith("OCR: 1 page in")
    assert len(words(SENTENCE) & words(doc.pages[0])) >= len(words(SENTENCE)) - 1
    text = doc.pages[0]
    hit = next(b for b in doc.boxes if text[b[1] : b[2]].lower().startswith("translucent"))
    x0, y0, x1, y1 = hit[3:]
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 0.3  # near the top of the page


def test_only_the_scanned_pages_of_a_pdf_are_ocrd():
    data = scanned_pdf(["Page one has a text layer about owls.", scan(SENTENCE)])
    doc = load("mixed.pdf", data)
    assert doc.pages[0].startswith("Page one has a text layer about owls.")
    assert "translucent" in doc.pages[1]
    assert doc.notes[0].startswith("OCR: 1 page (2) in")
    assert {b[0] for b in doc.boxes} == {2}


def test_ocr_off_says_so():
    data = scanned_pdf(["Text page.", scan(SENTENCE)])
    doc = load("mixed.pdf", data, options=Options(ocr=False))
    assert "OCR is off" in doc.notes[0] and not doc.pages[1].strip()


def test_ocr_runs_in_the_worker_and_keeps_its_boxes():
    sandbox = Sandbox()
    try:
        doc = sandbox.load("frog.png", png(scan(SENTENCE)))
    finally:
        sandbox.close()
    assert "translucent" in doc.pages[0] and doc.boxes


def test_an_ingested_scan_keeps_its_boxes_for_the_app(tmp_path):
    from ingest.pages import boxes
    from quire.engine import build_engine
    from rag.settings import Settings

    image = tmp_path / "docs" / "frog.png"
    image.parent.mkdir()
    image.write_bytes(png(scan(SENTENCE)))
    engine = build_engine(Settings(home=tmp_path / "home", embedder="fake"))
    try:
        report = engine.ingest([str(image)])
        assert report.files[0].status == "added" and report.files[0].notes[0].startswith("OCR:")
        hit = engine.search("translucent belly", k=1)[0].chunk
        record = engine.manifest.get(str(image))
        start = hit.text.index("translucent") + hit.start
        marks = boxes.of_span(
            engine.settings.home, str(image), record.sha256, None, start, start + 11
        )
        assert len(marks) == 1 and all(0 <= v <= 1 for v in marks[0])
        drawn = engine.sandbox.render(str(image), 1, 600, boxes=marks)
        assert drawn.startswith(b"\x89PNG")
        image.write_bytes(b"\x89PNG\r\n\x1a\n broken now")  # a file that fails drops them too
        assert engine.ingest([str(image)]).files[0].status == "failed"
        assert not boxes.of_span(engine.settings.home, str(image), record.sha256, None, 0, 99)
        image.write_bytes(png(scan(SENTENCE)))
        engine.ingest([str(image)])
        assert boxes.of_span(engine.settings.home, str(image), record.sha256, None, 0, 99)
        engine.remove(str(image))
        assert not boxes.of_span(engine.settings.home, str(image), record.sha256, None, 0, 99)
    finally:
        engine.close()
