"""Source code: one section per top-level function or class, named, with its lines."""

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
