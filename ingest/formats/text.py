"""Plain text and the text formats with headings (Markdown, reStructuredText, Org, AsciiDoc):
decoding whatever encoding a file has, and one section per heading with its heading path."""

from __future__ import annotations

import re

from ingest.limits import Limits, Options
from rag.errors import LoadError
from rag.types import Document, Section


def load_text(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    return Document("text", (text,), (Section(None, 0, len(text)),), notes)


def load_markdown(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    return Document("markdown", (text,), markdown_sections(text), notes)


def load_rst(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    return Document("rst", (text,), heading_sections(text, rst_headings(text)), notes)


def load_org(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    return Document("org", (text,), heading_sections(text, org_headings(text)), notes)


def load_asciidoc(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    return Document("asciidoc", (text,), heading_sections(text, asciidoc_headings(text)), notes)


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
    encoding = detect_encoding(body)
    return _normalise(body.decode(encoding, "replace")), (
        f"not valid UTF-8 (at {where}); decoded as {encoding}",
    )


def detect_encoding(data: bytes) -> str:
    """The most likely encoding of text that is not UTF-8 (charset-normalizer: cp1252,
    Shift-JIS/cp932, GB18030, EUC-KR, KOI8-R ...), cp1252 when it cannot tell."""
    from charset_normalizer import from_bytes

    if sum(1 for b in data[:200_000] if b > 127) < 8 and _decodes(data, "cp1252"):
        return "cp1252"  # too few non-ASCII bytes to tell: Windows' Western default
    best = from_bytes(data[:200_000]).best()
    name = best.encoding if best is not None else "cp1252"
    if name in _LATIN and name != "cp1252" and _decodes(data, "cp1252"):
        # Short Western text is often taken for another Latin code page: keep cp1252 unless
        # it makes more non-letters of the non-ASCII bytes (Polish "żółć" as cp1252 is "¿ó³æ").
        if _odd(data, "cp1252") <= _odd(data, name):
            return "cp1252"
    return name


def _odd(data: bytes, encoding: str) -> int:
    import unicodedata

    text = data[:200_000].decode(encoding, "replace")
    return sum(1 for ch in text if ord(ch) > 127 and not unicodedata.category(ch).startswith("L"))


# Latin-script code pages charset-normalizer may pick for text that cp1252 (Windows' Western
# default) also reads: there, cp1252 is the likelier truth.
_LATIN = {
    "ascii", "latin_1", "iso8859_1", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_9",
    "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "cp1250", "cp1254",
    "cp1257", "mac_roman", "mac_latin2", "mac_iceland", "mac_turkish", "cp850", "cp437",
}  # fmt: skip


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


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
    heads: list[tuple[int, int, str]] = []  # (line, level, title)
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map and tok.level == 0:
            title = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            heads.append((tok.map[0], int(tok.tag[1]), title))
    return heading_sections(text, heads)


def heading_sections(text: str, heads: list[tuple[int, int, str]]) -> tuple[Section, ...]:
    """Sections of `text` cut at `heads` ((0-based line, level, title), in order), each with
    its heading path; text before the first heading has an empty path."""
    line_starts = line_offsets(text)
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


_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:._])\1{2,}\s*$")
_ORG_HEADING = re.compile(r"^(\*+)\s+(.+?)\s*$")
_ADOC_HEADING = re.compile(r"^(={1,6})\s+(.+?)\s*$")


def rst_headings(text: str) -> list[tuple[int, int, str]]:
    """reStructuredText section titles: a line underlined (and maybe overlined) with one
    punctuation character repeated; levels in the order each style first appears."""
    lines = text.split("\n")
    styles: list[tuple[str, bool]] = []
    heads = []
    i = 0
    while i + 1 < len(lines):
        title, under = lines[i].strip(), lines[i + 1]
        m = _RST_UNDERLINE.match(under)
        if title and m and not _RST_UNDERLINE.match(lines[i]) and len(under.rstrip()) >= len(title):
            over = i > 0 and lines[i - 1].strip() == under.strip()
            style = (m.group(1), over)
            if style not in styles:
                styles.append(style)
            heads.append((i - 1 if over else i, styles.index(style) + 1, title))
            i += 2
            continue
        i += 1
    return heads


def org_headings(text: str) -> list[tuple[int, int, str]]:
    """Org-mode headlines (`* Title`, `** Sub`), outside #+BEGIN_ ... #+END_ blocks."""
    return _line_headings(text, _ORG_HEADING, ("#+begin_", "#+end_"))


def asciidoc_headings(text: str) -> list[tuple[int, int, str]]:
    """AsciiDoc section titles (`= Title`, `== Section`), outside ---- and .... blocks."""
    return _line_headings(text, _ADOC_HEADING, ("----", "...."))


def _line_headings(text: str, pattern: re.Pattern, fences: tuple[str, str]) -> list:
    heads, inside = [], False
    for n, line in enumerate(text.split("\n")):
        low = line.strip().lower()
        if fences[0] == "#+begin_" and low.startswith(fences):
            inside = low.startswith(fences[0])
            continue
        if fences[0] != "#+begin_" and low and low in fences:
            inside = not inside
            continue
        m = None if inside else pattern.match(line)
        if m:
            heads.append((n, len(m.group(1)), m.group(2)))
    return heads


class Builder:
    """Text built block by block (paragraphs, table rows), with one section per heading path:
    for formats whose structure comes from a parser rather than from the text's own marks."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parts: list[str] = []
        self.pos = 0
        self.path: list[str] = []
        self.sections: list[Section] = []
        self.start = 0

    def heading(self, level: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            return
        self._close()
        self.path = self.path[: max(0, level - 1)] + [title[:200]]
        self.add(title)

    def add(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        self.parts.append(text + "\n\n")
        self.pos += len(text) + 2
        self.limits.check_chars(self.pos)

    def document(self, kind: str, notes: tuple[str, ...] = ()) -> Document:
        self._close()
        text = "".join(self.parts)
        if not text.strip():
            raise LoadError("no text in this file")
        return Document(kind, (text,), tuple(self.sections), notes, lines=False)

    def _close(self) -> None:
        if self.pos > self.start:
            self.sections.append(Section(None, self.start, self.pos, tuple(self.path)))
        self.start = self.pos
