"""Jupyter notebooks: one page per cell (Markdown, code, and the code's text outputs), in order;
a code cell carries the heading path of the Markdown above it."""

from __future__ import annotations

import json

from ingest.formats.text import _normalise, decode_text
from ingest.limits import Limits, Options
from rag.errors import LoadError
from rag.types import Document, Section

_TEXT_OUTPUT = ("text/plain", "text/markdown")


def load_notebook(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = decode_text(data)
    try:
        nb = json.loads(text)
    except ValueError as exc:
        raise LoadError(f"not a readable notebook: invalid JSON ({exc})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        # nbformat 3 kept cells in worksheets
        sheets = nb.get("worksheets") if isinstance(nb, dict) else None
        cells = [c for w in sheets or [] if isinstance(w, dict) for c in w.get("cells") or []]
    if not cells:
        raise LoadError("not a readable notebook: no cells")
    limits.check_pages(len(cells))
    pages, sections, path, chars = [], [], [], 0
    for cell in cells:
        body = _cell_text(cell) if isinstance(cell, dict) else ""
        chars += len(body)
        limits.check_chars(chars)
        n = len(pages) + 1
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown":
            path = _headings(body, path)
        pages.append(body)
        if body.strip():
            sections.append(Section(n, 0, len(body), tuple(path)))
    if not sections:
        raise LoadError("empty notebook: no text in any cell")
    return Document("notebook", tuple(pages), tuple(sections), notes, unit="cell")


def _cell_text(cell: dict) -> str:
    source = _joined(cell.get("source", cell.get("input", "")))
    parts = [source]
    for out in cell.get("outputs") or []:
        if not isinstance(out, dict):
            continue
        if out.get("output_type") == "stream":
            parts.append(_joined(out.get("text", "")))
        elif out.get("output_type") == "error":
            parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
        else:
            data = out.get("data") if isinstance(out.get("data"), dict) else {}
            for kind in _TEXT_OUTPUT:
                if kind in data:
                    parts.append(_joined(data[kind]))
                    break
    return _normalise("\n\n".join(p.strip("\n") for p in parts if p and p.strip()))


def _joined(value) -> str:
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _headings(markdown: str, path: list[str]) -> list[str]:
    """The heading path after a Markdown cell: its ATX headings replace deeper levels."""
    levels = list(path)
    for line in markdown.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("#"):
            level = len(stripped) - len(stripped.lstrip("#"))
            title = stripped[level:].strip()
            if 1 <= level <= 6 and title:
                levels = levels[: level - 1] + [title]
    return levels
