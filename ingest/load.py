"""Turn a file's bytes into a `Document`: page texts plus the sections to chunk.

The format is chosen by file name (`ingest.formats`); every problem a user's file can have
becomes a `LoadError` whose message is the reason shown in the ingest report. Untrusted files
are parsed through `ingest.sandbox`, which calls `load` in a worker process.
"""

from __future__ import annotations

from pathlib import Path

from ingest.formats import format_for
from ingest.limits import Limits, Options
from rag.errors import LoadError
from rag.types import Document


def kind_for(path: str | Path) -> str | None:
    """The loader kind for a file name, or None if Quire does not index that type."""
    fmt = format_for(path)
    return fmt.kind if fmt else None


def load(
    name: str | Path, data: bytes, pdf_engine: str = "auto", limits: Limits = Limits()
) -> Document:
    """Parse `data` (the content of file `name`) into a Document, or raise LoadError.
    `pdf_engine`: "auto" (PDFium, pypdf as fallback) or "pypdf"."""
    fmt = format_for(name)
    if fmt is None:
        raise LoadError(f"unsupported file type {Path(name).suffix or '(no extension)'!r}")
    if not data.strip():
        raise LoadError("empty file")
    doc = fmt.load(data, limits, Options(pdf_engine=pdf_engine))
    limits.check_sections(len(doc.sections))
    return doc
