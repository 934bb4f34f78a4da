"""Images (.png, .jpg, .tiff, .webp, .bmp, .gif): their text, through OCR, with word boxes. A
multi-page TIFF has a page per frame."""

from __future__ import annotations

import io
import time
import warnings

from ingest.limits import Limits, Options
from rag.errors import LoadError, brief
from rag.types import Document, Section

MAX_PIXELS = 100_000_000  # 10,000 x 10,000: a larger image is refused before it is decoded


def load_image(data: bytes, limits: Limits, options: Options) -> Document:
    from PIL import Image

    from ingest.pages import ocr

    if not options.ocr:
        raise LoadError("an image: its text needs OCR, which is off (QUIRE_OCR)")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            frames = getattr(image, "n_frames", 1)
            w, h = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LoadError(
            f"an image over {MAX_PIXELS:,} pixels: refused (a decompression bomb?)"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise LoadError(f"damaged or unreadable image ({brief(exc)})") from None
    if w * h > MAX_PIXELS:
        raise LoadError(f"an image of {w:,} x {h:,} pixels, over {MAX_PIXELS:,}: refused")
    limits.check_pages(frames)
    began = time.perf_counter()
    pages, boxes, sections, chars = [], [], [], 0
    for i in range(frames):
        try:
            image.seek(i)
            image.load()
        except (OSError, ValueError, EOFError) as exc:
            raise LoadError(f"damaged image (frame {i + 1}: {brief(exc)})") from None
        text, words = ocr.read(image, options.ocr_languages, options.time_left())
        chars += len(text)
        limits.check_chars(chars)
        pages.append(text)
        n = len(pages) if frames > 1 else 0
        boxes += [(n, w.start, w.end, *w.box) for w in words]
        if text.strip():
            sections.append(Section(len(pages) if frames > 1 else None, 0, len(text)))
    if not sections:
        raise LoadError("no text found in this image by OCR")
    note = f"OCR: {frames} page{'s' if frames > 1 else ''} in {time.perf_counter() - began:.1f} s"
    return Document(
        "image", tuple(pages), tuple(sections), (note,), unit="page" if frames > 1 else "",
        lines=False, boxes=tuple(boxes),
    )  # fmt: skip
