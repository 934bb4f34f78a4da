"""Turn a file's bytes into a `Document`: page texts plus the sections to chunk.

The format is chosen by file name (`ingest.formats`); every problem a user's file can have
becomes a `LoadError` whose message is the reason shown in the ingest report. Untrusted files
are parsed through `ingest.sandbox`, which calls `load` in a worker process.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ingest.formats import Format, format_for, format_of_kind
from ingest.formats.sniff import sniff
from ingest.limits import Limits, Options
from rag.errors import LoadError
from rag.types import Document


def kind_for(path: str | Path) -> str | None:
    """The loader kind for a file name, or None if Quire does not index that type."""
    fmt = format_for(path)
    return fmt.kind if fmt else None


def load(
    name: str | Path,
    data: bytes,
    pdf_engine: str = "auto",
    limits: Limits = Limits(),
    options: Options | None = None,
) -> Document:
    """Parse `data` (the content of file `name`) into a Document, or raise LoadError.
    `pdf_engine`: "auto" (PDFium, pypdf as fallback) or "pypdf"; `options` (if given) says
    that and more (OCR)."""
    options = options or Options(pdf_engine=pdf_engine)
    fmt = format_for(name)
    if fmt is None:
        raise LoadError(f"unsupported file type {Path(name).suffix or '(no extension)'!r}")
    if not data.strip():
        raise LoadError("empty file")
    real, note = _by_content(fmt, data, Path(name).suffix.lower())
    doc = real.load(data, limits, options)
    limits.check_sections(len(doc.sections))
    if note:
        doc = replace(doc, notes=(note, *doc.notes))
    return doc


def _by_content(fmt: Format, data: bytes, suffix: str) -> tuple[Format, str]:
    """The format to read `data` with: its name's, unless its content is plainly another
    (a PDF named .docx is read as a PDF, with a note; a program named .txt is refused)."""
    found = sniff(data)
    if found is None:
        return fmt, ""
    kind, what = found
    real = format_of_kind(kind)
    if real is fmt or (kind == "ole" and fmt.kind in _OLE):
        return fmt, ""
    if kind in _WEAK and b"\0" not in data[:1024]:
        return fmt, ""  # "BM..." or "MZ..." at the start of a text
    if real is None:
        raise LoadError(f"the file is {what}, not {_a(fmt.label)} file as its name ({suffix}) says")
    return real, f"the file is {what}, though named {suffix}: read as {real.label}"


_WEAK = {"bmp", "program"}  # magic numbers a text may start with by chance
_OLE = {"xls"}  # formats stored as OLE compound files


def _a(label: str) -> str:
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label
