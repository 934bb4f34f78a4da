"""Turn a file's bytes into a `Document`: page texts plus the sections to chunk.

Every problem a user's file can have becomes a `LoadError` whose message is the reason
shown in the ingest report.
"""

from __future__ import annotations

import ast
import io
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from rag.errors import LoadError
from rag.types import Document, Section

KINDS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".pdf": "pdf",
    ".py": "python",
}


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


def kind_for(path: str | Path) -> str | None:
    """The loader kind for a file name, or None if Quire does not index that type."""
    return KINDS.get(Path(path).suffix.lower())


def load(
    name: str | Path, data: bytes, pdf_engine: str = "auto", limits: Limits = Limits()
) -> Document:
    """Parse `data` (the content of file `name`) into a Document, or raise LoadError.
    `pdf_engine`: "auto" (PDFium, pypdf as fallback) or "pypdf". Untrusted files are parsed
    through `ingest.sandbox`, which calls this in a child process."""
    doc = _load(name, data, pdf_engine, limits)
    limits.check_sections(len(doc.sections))
    return doc


def _load(name: str | Path, data: bytes, pdf_engine: str, limits: Limits) -> Document:
    kind = kind_for(name)
    if kind is None:
        raise LoadError(f"unsupported file type {Path(name).suffix or '(no extension)'!r}")
    if not data.strip():
        raise LoadError("empty file")
    if kind == "pdf":
        return load_pdf(data, pdf_engine, limits)
    text, notes = decode_text(data)
    limits.check_chars(len(text))
    if not text.strip():
        raise LoadError("empty file")
    if kind == "markdown":
        return Document("markdown", (text,), markdown_sections(text), notes)
    if kind == "python":
        sections, more = python_sections(text)
        return Document("python", (text,), sections, notes + more)
    return Document("text", (text,), (Section(None, 0, len(text)),), notes)


# --- text -------------------------------------------------------------------------------


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


# --- markdown ---------------------------------------------------------------------------


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


# --- python -----------------------------------------------------------------------------


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


# --- pdf --------------------------------------------------------------------------------


# PDFium (pypdfium2) is not thread-safe: every call into it takes this lock.
PDFIUM_LOCK = threading.Lock()
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def load_pdf(data: bytes, engine: str = "auto", limits: Limits = Limits()) -> Document:
    """Text page by page (1-based). `auto`: PDFium, which is 10-20x faster than pypdf here;
    pypdf when PDFium cannot open the file or finds no text (it also gives the reasons:
    encrypted, corrupt, needs OCR). `pypdf`: pypdf only."""
    if engine == "auto":
        got = _pdfium_pages(data, limits)
        if got is not None and any(p.strip() for p in got[0]):
            return _pdf_document(*got)
    return _pdf_document(*_pypdf_pages(data, limits))


def _pdfium_pages(data: bytes, limits: Limits = Limits()) -> tuple[list[str], list[int]] | None:
    """Each page's text with PDFium and the pages it failed on; None if it cannot open it."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        return None
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except Exception:  # encrypted, damaged: pypdf says why
            return None
        try:
            limits.check_pages(len(pdf))
            pages, failed, chars = [], [], 0
            for i in range(len(pdf)):
                try:
                    pages.append(_CONTROL.sub("", _normalise(_pdfium_text(pdf, i))))
                except Exception:  # a broken page must not lose the others
                    pages.append("")
                    failed.append(i + 1)
                chars += len(pages[-1])
                limits.check_chars(chars)
            return pages, failed
        finally:
            pdf.close()


def _pdfium_text(pdf, i: int) -> str:
    page = pdf[i]
    try:
        textpage = page.get_textpage()
        try:
            return textpage.get_text_bounded()
        finally:
            textpage.close()
    finally:
        page.close()


def _pypdf_pages(data: bytes, limits: Limits = Limits()) -> tuple[list[str], list[int]]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # warnings go to the report instead
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _decrypt_without_password(reader):
            raise LoadError("encrypted PDF: it needs a password, which Quire does not ask for")
        limits.check_pages(len(reader.pages))
        pages, failed, chars = [], [], 0
        for number, page in enumerate(reader.pages, start=1):
            try:
                pages.append(_normalise(page.extract_text() or ""))
            except Exception:  # a broken page must not lose the others
                pages.append("")
                failed.append(number)
            chars += len(pages[-1])
            limits.check_chars(chars)
    except LoadError:
        raise
    except FileNotDecryptedError:
        raise LoadError(
            "encrypted PDF: it needs a password, which Quire does not ask for"
        ) from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise LoadError(f"corrupt PDF ({_short(exc)})") from None
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise LoadError(f"corrupt PDF ({type(exc).__name__}: {_short(exc)})") from None
    return pages, failed


def _pdf_document(pages: list[str], failed: list[int]) -> Document:
    if not pages:
        raise LoadError("PDF has no pages")
    sections = tuple(Section(n, 0, len(t)) for n, t in enumerate(pages, start=1) if t.strip())
    if not sections:
        raise LoadError(f"PDF has no text layer on any of its {len(pages)} pages: it needs OCR")
    notes = []
    if failed:
        notes.append(f"text could not be extracted from page(s) {_ranges(failed)}")
    blank = [n for n, t in enumerate(pages, start=1) if not t.strip() and n not in failed]
    if blank:
        notes.append(f"no text layer on page(s) {_ranges(blank)} (scanned? needs OCR)")
    return Document("pdf", tuple(pages), sections, tuple(notes))


def _decrypt_without_password(reader) -> bool:
    """Many PDFs are encrypted with an empty user password: open those."""
    try:
        return bool(reader.decrypt(""))
    except Exception:
        return False


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _ranges(numbers: list[int]) -> str:
    out, i = [], 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        out.append(str(numbers[i]) if i == j else f"{numbers[i]}-{numbers[j]}")
        i = j + 1
    return ", ".join(out)
