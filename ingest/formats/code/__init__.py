"""Source code: one section per function or class (and per method of a class), named, with its
lines. Python through its own `ast`; other languages through tree-sitter."""

from __future__ import annotations

import ast

from ingest.formats.text import _text, line_offsets
from ingest.limits import Limits, Options
from rag.types import Document, Section


def load_python(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    sections, more = python_sections(text)
    return Document("python", (text,), sections, notes + more)


def python_sections(text: str) -> tuple[tuple[Section, ...], tuple[str, ...]]:
    """One section per top-level function or class (decorators included), named like
    `def name` / `class Name`; module-level code between them goes in `<module>` sections.
    A file that does not parse is indexed as plain text, with a note saying so."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        note = f"Python syntax error{f' at line {line}' if line else ''}; indexed as plain text"
        return (Section(None, 0, len(text)),), (note,)
    except RecursionError:  # e.g. generated code with huge expressions
        return (Section(None, 0, len(text)),), (
            "too deeply nested to parse; indexed as plain text",
        )
    except MemoryError:  # the parse worker's memory limit
        return (Section(None, 0, len(text)),), ("too large to parse; indexed as plain text",)
    lines = line_offsets(text)
    sections: list[Section] = []
    pos = 0
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        start, end = lines[first - 1], lines[node.end_lineno]
        if text[pos:start].strip():
            sections.append(Section(None, pos, start, ("<module>",)))
        prefix = "class" if isinstance(node, ast.ClassDef) else "def"
        sections.append(Section(None, start, end, (f"{prefix} {node.name}",)))
        pos = end
    if text[pos:].strip():
        sections.append(Section(None, pos, len(text), ("<module>",)))
    return tuple(sections), ()


_COMMENT = ("#", "//", "/*", "*", "--", ";", "%")


def load_source(data: bytes, limits: Limits, options: Options, language: str) -> Document:
    """A source file split at its definitions (see `ingest.formats.code.treesitter`); a file the
    grammar cannot make sense of is still indexed, with a note."""
    from ingest.formats.code.treesitter import definitions

    text, notes = _text(data, limits)
    try:
        found, errors = definitions(language, text.encode("utf-8", "surrogatepass"))
    except (ValueError, RuntimeError) as exc:
        return Document(language, (text,), (Section(None, 0, len(text)),), notes + (
            f"could not be parsed as {language} ({exc}); indexed as plain text",
        ))  # fmt: skip
    if errors:
        notes += (f"{language} syntax errors; definitions found where the parser recovered",)
    return Document(language, (text,), source_sections(text, found), notes)


def source_sections(text: str, found) -> tuple[Section, ...]:
    """Sections from definitions (1-based inclusive lines, qualified names, parents): each
    top-level definition, or each member of a class-like one and the rest of it; code between
    definitions is `<module>`. Comments right above a definition go with it."""
    lines = text.split("\n")
    offsets = line_offsets(text)
    container = _containers(found)
    top = [d for d in found if container[id(d)] is None]
    spans: list[tuple[int, int, tuple[str, ...]]] = []  # 0-based [first, last+1) lines
    pos = 0
    for d in sorted(top, key=lambda d: d.start_line):
        first, end = _with_comments(lines, d.start_line - 1, pos), min(d.end_line, len(lines))
        if first < pos:
            continue  # overlaps the previous one (error recovery)
        spans.append((pos, first, ("<module>",)))
        head = (f"{d.kind} {d.name}",)
        members = sorted((m for m in found if container[id(m)] is d), key=lambda m: m.start_line)
        inner = first
        for m in members:
            a = _with_comments(lines, m.start_line - 1, inner)
            b = min(m.end_line, end)
            if a < inner or b <= a:
                continue
            spans.append((inner, a, head))
            spans.append((a, b, head + (f"{m.kind} {m.name.rsplit('.', 1)[-1]}",)))
            inner = b
        spans.append((inner, end, head))
        pos = end
    spans.append((pos, len(lines), ("<module>",)))
    sections = []
    for a, b, heading in spans:
        start, stop = offsets[min(a, len(offsets) - 1)], offsets[min(b, len(offsets) - 1)]
        if b >= len(lines):
            stop = len(text)
        if text[start:stop].strip():
            sections.append(Section(None, start, stop, heading))
    return tuple(sections) or (Section(None, 0, len(text)),)


def _containers(found) -> dict:
    """id(definition) -> the innermost definition whose lines hold it, or None (a sweep over
    definitions sorted by start, longest first; PHP's `namespace X;` holds nothing)."""
    out: dict = {}
    open_: list = []
    for d in sorted(found, key=lambda d: (d.start_line, -d.end_line)):
        while open_ and open_[-1].end_line < d.end_line:
            open_.pop()
        while open_ and (open_[-1].start_line, open_[-1].end_line) == (d.start_line, d.end_line):
            open_.pop()  # the same lines: siblings, not parent and child
        out[id(d)] = open_[-1] if open_ else None
        open_.append(d)
    return out


def _with_comments(lines: list[str], first: int, floor: int) -> int:
    """`first`, moved up over the comment lines just above it (not above `floor`)."""
    while first - 1 >= floor and lines[first - 1].strip().startswith(_COMMENT):
        first -= 1
    return first
