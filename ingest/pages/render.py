"""A page as a PNG, within a pixel budget, with a quote highlighted on it: a PDF page (the
quote's character boxes from PDFium, or the OCR word boxes of a scanned page) or an image (its
OCR word boxes). Run in the parse worker (`ingest.sandbox`): the files are untrusted."""

from __future__ import annotations

import io
import os

from ingest.formats.pdf import CONTROL_CHARS
from ingest.pages.pdfium import PDFIUM_LOCK, scale_for
from rag.errors import QuireError

MARK = (255, 214, 0, 110)  # translucent yellow

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the page


def render_page(
    path: str,
    page: int,
    width: int,
    span: tuple[int, int] | None = None,
    boxes: list[Box] | None = None,
) -> bytes:
    """Page `page` (1-based) of the PDF or image at `path`, `width` pixels wide at most, with
    `boxes` highlighted, or else (a PDF page with a text layer) the characters of `span`."""
    name = os.path.basename(path)
    if path.lower().endswith(".pdf"):
        image, found = _pdf_page(path, page, width, span if not boxes else None)
        boxes = boxes or found
    else:
        image = _image(path, page, width)
    if boxes:
        image = highlighted(image, boxes)
    buf = io.BytesIO()
    try:
        image.save(buf, format="PNG")
    except (OSError, ValueError) as exc:
        raise QuireError(f"cannot draw {name}: {exc}") from None
    return buf.getvalue()


def highlighted(image, boxes: list[Box]):
    from PIL import Image, ImageDraw

    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    w, h = base.size
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0 * w - 1, y0 * h - 1, x1 * w + 1, y1 * h + 1), fill=MARK)
    return Image.alpha_composite(base, layer).convert("RGB")


def _pdf_page(path: str, page: int, width: int, span):
    import pypdfium2 as pdfium

    name = os.path.basename(path)
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(path)
        except (pdfium.PdfiumError, OSError) as exc:
            raise QuireError(f"cannot open {name}: {exc}") from None
        try:
            if not 1 <= page <= len(pdf):
                raise QuireError(f"{name} has no page {page}")
            p = pdf[page - 1]
            w, h = p.get_width(), p.get_height()
            image = p.render(scale=scale_for(w, h, width)).to_pil()
            boxes = _char_boxes(p, span, w, h) if span else []
        finally:
            pdf.close()
    return image, boxes


def _char_boxes(page, span: tuple[int, int], width: float, height: float) -> list[Box]:
    """Boxes of the characters at `span` of the page's text as Quire indexed it (control
    characters removed, line ends made "\\n"): mapped back to PDFium's character indices."""
    textpage = page.get_textpage()
    try:
        raw = textpage.get_text_range()
        if raw != textpage.get_text_bounded() or len(raw) != textpage.count_chars():
            return []  # the two texts disagree: no reliable mapping, no highlight
        index = _indexed(raw)
        a, b = span
        out = []
        for i in index[max(0, a) : max(0, b)]:
            left, bottom, right, top = textpage.get_charbox(i)
            if right > left and top > bottom:
                out.append((left / width, 1 - top / height, right / width, 1 - bottom / height))
        return out
    finally:
        textpage.close()


def _indexed(raw: str) -> list[int]:
    """For each character of the indexed page text, its index in PDFium's text (the same
    steps as `ingest.formats.pdf`: "\\r\\n" and "\\r" become "\\n", then controls go)."""
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\r":
            out.append(i)
            i += 2 if raw[i + 1 : i + 2] == "\n" else 1
            continue
        if not CONTROL_CHARS.match(ch):
            out.append(i)
        i += 1
    return out


def _image(path: str, page: int, width: int):
    from PIL import Image

    from ingest.formats.images import MAX_PIXELS as MAX_IMAGE

    name = os.path.basename(path)
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE
    try:
        image = Image.open(path)
        if page > 1:
            image.seek(page - 1)
        image.load()
    except (OSError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise QuireError(f"cannot open {name}: {exc}") from None
    if image.width > width:
        image = image.resize((width, max(1, int(image.height * width / image.width))))
    return image.convert("RGB")
