"""Tables: CSV and TSV (spreadsheets join them here). One page per sheet; each row is one line,
its cells joined by " | ", so line N of a page is row N of the sheet and a citation can say
"rows 4-9". The header row goes in the heading path: every chunk of the sheet is embedded and
shown with it, so a cited row is readable alone."""

from __future__ import annotations

import csv
import io

from ingest.formats.text import decode_text
from ingest.limits import Limits, Options
from rag.errors import LoadError
from rag.types import Document, Section

SEP = " | "
MAX_CELL = 2000  # characters kept of one cell


def load_csv(data: bytes, limits: Limits, options: Options) -> Document:
    return _delimited(data, limits, None)


def load_tsv(data: bytes, limits: Limits, options: Options) -> Document:
    return _delimited(data, limits, "\t")


def _delimited(data: bytes, limits: Limits, delimiter: str | None) -> Document:
    text, notes = decode_text(data)
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    csv.field_size_limit(limits.max_chars)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        page = sheet_text(rows, limits)
    except csv.Error as exc:
        raise LoadError(f"not a readable CSV file: {exc}") from None
    doc = sheet_document("csv", [("", page)])
    return Document(doc.kind, doc.pages, doc.sections, notes, doc.unit, doc.page_names)


def sheet_text(rows, limits: Limits, chars: int = 0) -> str:
    """Rows (iterables of cell values) as lines; trailing empty cells and rows dropped, empty
    rows between kept (so line numbers stay row numbers)."""
    lines: list[str] = []
    blank = 0
    for row in rows:
        cells = [_cell(v) for v in row]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            blank += 1
            continue
        lines.extend([""] * blank)
        line = SEP.join(cells)
        chars += len(line) + 1 + blank
        blank = 0
        limits.check_chars(chars)
        lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")


def sheet_document(kind: str, sheets: list[tuple[str, str]]) -> Document:
    """A Document of (name, text) sheets: one page each, the body after the header row one
    section headed by the sheet's name and its header row."""
    pages, names, sections = [], [], []
    for name, text in sheets:
        pages.append(text)
        names.append(name)
        lines = text.split("\n")
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None:
            continue
        header = lines[first]
        start = sum(len(line) + 1 for line in lines[: first + 1])
        heading = tuple(h for h in (name, header[:300]) if h)
        if text[start:].strip():
            sections.append(Section(len(pages), start, len(text), heading))
        else:  # a header row alone is the sheet's only text
            sections.append(Section(len(pages), 0, len(text), (name,) if name else ()))
    if not sections:
        raise LoadError("no cell holds any text")
    return Document(kind, tuple(pages), tuple(sections), (), unit="sheet", page_names=tuple(names))


def _cell(value) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return " ".join(text.split())[:MAX_CELL]
