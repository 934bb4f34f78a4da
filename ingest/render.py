"""A PDF page as a PNG, within a pixel budget (run in the parse worker: see `ingest.sandbox`)."""

from __future__ import annotations

import io
import math
import os

from rag.errors import QuireError

MAX_PIXELS = 16_000_000  # about 64 MB of RGBA: a 900-px-wide A4 page is under 1.2 million
MAX_SIDE = 8_000


def scale_for(width_pt: float, height_pt: float, width_px: int) -> float:
    """The render scale giving `width_px` pixels across, reduced so that neither side is over
    MAX_SIDE pixels and the whole page is under MAX_PIXELS (a 1 x 14,400 pt page would
    otherwise be 900 x 13 million pixels)."""
    w, h = max(width_pt, 1.0), max(height_pt, 1.0)
    return min(width_px / w, MAX_SIDE / w, MAX_SIDE / h, math.sqrt(MAX_PIXELS / (w * h)))


def render_page(path: str, page: int, width: int) -> bytes:
    """Page `page` (1-based) of the PDF at `path`, `width` pixels wide at most."""
    import pypdfium2 as pdfium

    from ingest.formats.pdf import PDFIUM_LOCK

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
            image = p.render(scale=scale_for(p.get_width(), p.get_height(), width)).to_pil()
        finally:
            pdf.close()
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
