"""Plain text and Markdown: decoding whatever encoding a file has, and heading sections."""

from __future__ import annotations

from ingest.limits import Limits, Options
from rag.errors import LoadError
from rag.types import Document, Section


def load_text(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    return Document("text", (text,), (Section(None, 0, len(text)),), notes)


def load_markdown(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    return Document("markdown", (text,), markdown_sections(text), notes)


def _text(data: bytes, limits: Limits) -> tuple[str, tuple[str, ...]]:
    text, notes = decode_text(data)
    limits.check_chars(len(text))
    if not text.strip():
        raise LoadError("empty file")
    return text, notes


def decode_text(data: bytes) -> tuple[str, tuple[str, ...]]:
    """Decode bytes as UTF-8, falling back to UTF-16 (by BOM), cp1252 or Latin-1.

    The fallback is reported in the notes so the user knows. Binary data is refused.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _normalise(data.decode("utf-16")), ("decoded as UTF-16",)
        except UnicodeDecodeError:
            raise LoadError("invalid UTF-16 text") from None
    if _looks_binary(data):
        raise LoadError("binary content, not text")
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    body = data[bom:]
    try:
        return _normalise(body.decode("utf-8")), ()
    except UnicodeDecodeError as exc:
        where = f"byte {exc.start + bom}"
    for encoding in ("cp1252", "latin-1"):
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _normalise(text), (f"not valid UTF-8 (at {where}); decoded as {encoding}",)
    raise AssertionError("latin-1 decodes any bytes")


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\0" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return control > len(head) * 0.05


def _normalise(text: str) -> str:
    """Unify line endings so offsets mean the same thing on every platform."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def markdown_sections(text: str) -> tuple[Section, ...]:
    """One section per heading (ATX or setext, never inside code), with its heading path."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    line_starts = line_offsets(text)
    heads: list[tuple[int, int, str]] = []  # (line, level, title)
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map and tok.level == 0:
            title = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            heads.append((tok.map[0], int(tok.tag[1]), title))
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    bounds = [(0, 0, "")] + heads
    for k, (line, level, title) in enumerate(bounds):
        if k > 0:
            path = [p for p in path if p[0] < level] + [(level, title)]
        start = line_starts[line]
        end = line_starts[bounds[k + 1][0]] if k + 1 < len(bounds) else len(text)
        if text[start:end].strip():
            sections.append(Section(None, start, end, tuple(t for _, t in path)))
    return tuple(sections)


def line_offsets(text: str) -> list[int]:
    """Offset of the start of each line (split at "\n" only, as markdown-it and ast do),
    plus len(text) as the end of the last line."""
    offsets = [0]
    i = text.find("\n")
    while i != -1:
        offsets.append(i + 1)
        i = text.find("\n", i + 1)
    if offsets[-1] != len(text):
        offsets.append(len(text))
    return offsets
