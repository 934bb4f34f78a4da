"""PDF: the text of each page, with PDFium (pypdfium2), and pypdf as the fallback."""

from __future__ import annotations

import dataclasses
import io
import logging
import re

from ingest.formats.text import _normalise
from ingest.limits import Limits, Options
from ingest.pages.pdfium import PDFIUM_LOCK, scale_for
from rag.errors import LoadError, brief
from rag.types import Document, Section

# Removed from PDF text (a page's text as indexed); ingest.pages.render maps offsets through it too.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


OCR_DPI = 200  # pages without a text layer are rendered at this resolution for OCR


def load(data: bytes, limits: Limits, options: Options) -> Document:
    """Text page by page; pages without a text layer (scans) read by OCR, when it is on."""
    pages, failed = _extract(data, options.pdf_engine, limits)
    blank = [n for n, t in enumerate(pages, start=1) if not t.strip() and n not in failed]
    if not (blank and options.ocr):
        doc = _pdf_document(pages, failed, why="scanned? OCR is off: QUIRE_OCR")
    else:
        doc = _with_ocr(data, pages, failed, blank, options, limits)
    return with_outline(doc, _outline(data))


MAX_OUTLINE = 20_000  # bookmarks read from one PDF
MAX_DEPTH = 4  # levels of the outline kept in a heading path


def _outline(data: bytes) -> list[tuple[int, str, int]]:
    """The PDF's bookmarks (its table of contents) as (level, title, 1-based page), in order;
    empty when it has none or PDFium cannot read them."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        return []
    out = []
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except Exception:
            return []
        try:
            for mark in pdf.get_toc(max_depth=64):
                dest = mark.get_dest()
                index = dest.get_index() if dest is not None else None
                title = " ".join(CONTROL_CHARS.sub("", mark.get_title() or "").split())[:200]
                if index is not None and 0 <= index < len(pdf) and title and mark.level < MAX_DEPTH:
                    out.append((mark.level, title, index + 1))
                if len(out) >= MAX_OUTLINE:
                    break
        except Exception:  # a damaged outline loses the headings, not the text
            return out
        finally:
            pdf.close()
    return out


def with_outline(doc: Document, outline: list[tuple[int, str, int]]) -> Document:
    """`doc` with each page's text cut where a bookmark's title is printed on it, every part
    headed by its bookmark path ("4 Data > 4.2 Files"), so search and citations know which
    section of a long PDF a page belongs to. A title not found on its page still heads what
    follows it. Without bookmarks, `doc` unchanged."""
    if not outline:
        return doc
    by_page: dict[int, list[tuple[int, str]]] = {}
    for level, title, page in outline:
        by_page.setdefault(page, []).append((level, title))
    path: list[tuple[int, str]] = []
    sections = []
    for sec in sorted(doc.sections, key=lambda s: s.page):
        text = doc.page_text(sec.page)
        cursor, start = sec.start, sec.start
        for level, title in by_page.get(sec.page, ()):
            found = _title_at(text, title, cursor, sec.end)
            if found is not None and found > start:
                sections.append(Section(sec.page, start, found, _heading(path)))
                start = found
            path = [p for p in path if p[0] < level] + [(level, title)]
            cursor = found if found is not None else cursor
        sections.append(Section(sec.page, start, sec.end, _heading(path)))
    return dataclasses.replace(doc, sections=tuple(s for s in sections if s.end > s.start))


def _heading(path: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(title for _, title in path)


def _title_at(text: str, title: str, start: int, end: int) -> int | None:
    """Where `title` is printed in text[start:end] (any spacing, any case), at a line start."""
    words = title.split()[:12]
    pattern = r"\s+".join(re.escape(w) for w in words)
    found = re.compile(rf"(?im)^[ \t]*(?:[\dA-Z]+(?:\.\d+)*\.?\s+)?{pattern}").search(
        text, start, end
    )
    return found.start() if found else None


def _extract(data: bytes, engine: str, limits: Limits) -> tuple[list[str], list[int]]:
    """The text layer page by page (1-based), and the pages it failed on. `auto`: PDFium,
    which is 10-20x faster than pypdf here; pypdf when PDFium cannot open the file or finds no
    text (it also gives the reasons: encrypted, corrupt). `pypdf`: pypdf only."""
    if engine == "auto":
        got = _pdfium_pages(data, limits)
        if got is not None and any(p.strip() for p in got[0]):
            return got
        try:
            return _pypdf_pages(data, limits)
        except LoadError:
            if got is None:
                raise
            return got  # PDFium opened it: a scan with no text layer at all
    return _pypdf_pages(data, limits)


def _with_ocr(data, pages, failed, blank, options: Options, limits: Limits) -> Document:
    import time

    import pypdfium2 as pdfium

    from ingest.pages import ocr

    began, boxes, done, problem = time.perf_counter(), [], [], ""
    pages = list(pages)
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:  # pypdf read the text, PDFium cannot render the pages
            return _pdf_document(pages, failed, why="OCR could not run: the pages cannot be drawn")
        try:
            for n in blank:
                try:
                    page = pdf[n - 1]
                except pdfium.PdfiumError:
                    continue
                try:
                    w, h = page.get_width(), page.get_height()
                    image = page.render(scale=scale_for(w, h, int(w * OCR_DPI / 72))).to_pil()
                except pdfium.PdfiumError:
                    continue
                finally:
                    page.close()
                try:
                    text, words = ocr.read(image, options.ocr_languages)
                except LoadError as exc:
                    problem = str(exc)
                    break
                options.step()
                pages[n - 1] = text
                boxes += [(n, w.start, w.end, *w.box) for w in words]
                done.append(n)
                limits.check_chars(sum(map(len, pages)))
        finally:
            pdf.close()
    why = f"OCR could not run: {problem}" if problem else "OCR found no text on it"
    doc = _pdf_document(pages, failed, why=why)
    if done:
        took = time.perf_counter() - began
        note = (
            f"OCR: {len(done)} page{'s' if len(done) > 1 else ''} ({_ranges(done)}) in {took:.1f} s"
        )
        doc = Document(doc.kind, doc.pages, doc.sections, (note, *doc.notes), doc.unit,
                       boxes=tuple(boxes))  # fmt: skip
    return doc


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
                    pages.append(CONTROL_CHARS.sub("", _normalise(_pdfium_text(pdf, i))))
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
        raise LoadError(f"corrupt PDF ({brief(exc)})") from None
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise LoadError(f"corrupt PDF ({type(exc).__name__}: {brief(exc)})") from None
    return pages, failed


def _pdf_document(pages: list[str], failed: list[int], why: str = "scanned? needs OCR") -> Document:
    if not pages:
        raise LoadError("PDF has no pages")
    sections = tuple(Section(n, 0, len(t)) for n, t in enumerate(pages, start=1) if t.strip())
    if not sections:
        raise LoadError(f"PDF has no text layer on any of its {len(pages)} pages ({why})")
    notes = []
    if failed:
        notes.append(f"text could not be extracted from page(s) {_ranges(failed)}")
    blank = [n for n, t in enumerate(pages, start=1) if not t.strip() and n not in failed]
    if blank:
        notes.append(f"no text layer on page(s) {_ranges(blank)} ({why})")
    return Document("pdf", tuple(pages), sections, tuple(notes), unit="page")


def _decrypt_without_password(reader) -> bool:
    """Many PDFs are encrypted with an empty user password: open those."""
    try:
        return bool(reader.decrypt(""))
    except Exception:
        return False


def _ranges(numbers: list[int]) -> str:
    out, i = [], 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        out.append(str(numbers[i]) if i == j else f"{numbers[i]}-{numbers[j]}")
        i = j + 1
    return ", ".join(out)
