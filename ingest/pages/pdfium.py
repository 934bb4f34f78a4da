"""What every use of PDFium (pypdfium2) shares: one lock, since PDFium is not thread-safe, and
a render scale within a pixel budget."""

from __future__ import annotations

import math
import threading

PDFIUM_LOCK = threading.Lock()  # every call into PDFium takes it
MAX_PIXELS = 16_000_000  # about 64 MB of RGBA: a 900-px-wide A4 page is under 1.2 million
MAX_SIDE = 8_000


def scale_for(width_pt: float, height_pt: float, width_px: int) -> float:
    """The render scale giving `width_px` pixels across, reduced so that neither side is over
    MAX_SIDE pixels and the whole page is under MAX_PIXELS (a 1 x 14,400 pt page would
    otherwise be 900 x 13 million pixels)."""
    w, h = max(width_pt, 1.0), max(height_pt, 1.0)
    return min(width_px / w, MAX_SIDE / w, MAX_SIDE / h, math.sqrt(MAX_PIXELS / (w * h)))
