"""What a loader is given besides the bytes: how much one file may hold (QUIRE_MAX_PAGES,
QUIRE_MAX_CHARS, QUIRE_MAX_CHUNKS) and how to read it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rag.errors import LoadError


@dataclass(frozen=True)
class Limits:
    """How much one file may hold; the defaults are far above any real document (the
    largest manuals run to a few thousand pages and some 25 million characters), so only a
    crafted or broken file meets them."""

    max_pages: int = 20_000
    max_chars: int = 50_000_000
    max_sections: int = 100_000

    def check_pages(self, n: int) -> None:
        if n > self.max_pages:
            raise LoadError(
                f"the file has {n:,} pages, over the limit of {self.max_pages:,} (QUIRE_MAX_PAGES)"
            )

    def check_chars(self, n: int) -> None:
        if n > self.max_chars:
            raise LoadError(
                f"the file holds over {self.max_chars:,} characters of text, the limit "
                "(QUIRE_MAX_CHARS)"
            )

    def check_sections(self, n: int) -> None:
        if n > self.max_sections:
            raise LoadError(
                f"the file has {n:,} sections, over the limit of {self.max_sections:,} chunks "
                "(QUIRE_MAX_CHUNKS)"
            )


class OutOfTime(LoadError):
    """A file's time budget (QUIRE_PARSE_SECONDS) ran out before anything of it was read."""


@dataclass(frozen=True)
class Options:
    """How to read: `pdf_engine` "auto" (PDFium, pypdf as fallback) or "pypdf"; whether to
    OCR images and PDF pages without a text layer, and in which Tesseract languages
    ("eng+deu"); `seconds`, the file's time budget (QUIRE_PARSE_SECONDS; 0: none), and
    `deadline`, the `time.monotonic()` by which a loader that reads page by page stops and
    keeps the pages it has (set where the clock starts: in the parse worker)."""

    pdf_engine: str = "auto"
    ocr: bool = True
    ocr_languages: str = "eng"
    seconds: float = 0.0
    deadline: float | None = field(default=None, compare=False)

    def time_left(self) -> float | None:
        """Seconds until the deadline (0 or less once it has passed); None without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def time_limit(self) -> str:
        """The budget, in the words of a report."""
        return f"time limit of {self.seconds:g} s (QUIRE_PARSE_SECONDS)"

    def wire(self) -> dict:
        """What crosses to the parse worker (everything but `deadline`, which it sets)."""
        return {
            "pdf_engine": self.pdf_engine,
            "ocr": self.ocr,
            "ocr_languages": self.ocr_languages,
            "seconds": self.seconds,
        }
