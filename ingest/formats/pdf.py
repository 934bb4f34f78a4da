"""PDF: the text of each page, with PDFium (pypdfium2), and pypdf as the fallback."""

from __future__ import annotations

import dataclasses
import io
import logging
import re

from ingest.formats.text import _normalise
from ingest.limits import Limits, Options, OutOfTime
from ingest.pages.pdfium import PDFIUM_LOCK, scale_for
from rag.errors import LoadError, brief
from rag.types import Document, Section

# Removed from PDF text (a page's text as indexed); ingest.pages.render maps offsets through it too.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


OCR_DPI = 200  # pages without a text layer are rendered at this resolution for OCR


def load(data: bytes, limits: Limits, options: Options) -> Document:
    """Text page by page; pages without a text layer (scans) read by OCR, when it is on. Pages
    past QUIRE_MAX_PAGES, or not reached within the file's time budget, are skipped: the
    Document says which (`partial`), and holds the pages read."""
    read = _extract(data, options, limits)
    blank = [n for n, t in enumerate(read.pages, start=1) if not t.strip() and n not in read.failed]
    if blank and options.ocr and read.cut != "seconds":
        doc = _with_ocr(data, read, blank, options, limits)
    else:
        if blank and options.ocr:  # the time ran out reading the text layer: none is left for OCR
            read.skip(blank, "seconds")
        doc = _pdf_document(read, "scanned? OCR is off: QUIRE_OCR", options, limits)
    return with_outline(doc, _outline(data))


@dataclasses.dataclass
class _Read:
    """The text layer of the first pages of a PDF, and why the rest were not read."""

    pages: list[str]  # pages 1 to len(pages)
    failed: list[int]  # pages whose text could not be extracted
    total: int  # pages in the file
    cut: str = ""  # the limit that stopped reading ("seconds", "pages"); "" if none did
    skipped: list[int] = dataclasses.field(default_factory=list)  # pages not (fully) read

    def __post_init__(self) -> None:
        limit, self.cut = self.cut, ""  # given: the limit that would explain missing pages
        if len(self.pages) < self.total:
            self.skip(range(len(self.pages) + 1, self.total + 1), limit)

    def skip(self, numbers, cut: str) -> None:
        """Pages left unread because of the limit `cut`; the first such page names the limit."""
        numbers = list(numbers)
        if numbers and (not self.skipped or min(numbers) < self.skipped[0]):
            self.cut = cut
        self.skipped = sorted(set(self.skipped) | set(numbers))


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


def _extract(data: bytes, options: Options, limits: Limits) -> _Read:
    """The text layer page by page (1-based), and the pages it failed on. `auto`: PDFium,
    which is 10-20x faster than pypdf here; pypdf when PDFium cannot open the file or finds no
    text (it also gives the reasons: encrypted, corrupt). `pypdf`: pypdf only."""
    if options.pdf_engine == "auto":
        got = _pdfium_pages(data, limits, options)
        if got is not None and (got.cut == "seconds" or any(p.strip() for p in got.pages)):
            return got
        try:
            if got is not None and not _pypdf_finds_text(data, limits, options):
                return got  # a scan: pypdf on every page would spend the time OCR needs
            return _pypdf_pages(data, limits, options)
        except LoadError:
            if got is None:
                raise
            return got  # PDFium opened it: a scan with no text layer at all
    return _pypdf_pages(data, limits, options)


def _pypdf_finds_text(data: bytes, limits: Limits, options: Options, pages: int = 20) -> bool:
    """Whether pypdf finds text on the first `pages` pages (where PDFium found none)."""
    sample = _pypdf_pages(data, dataclasses.replace(limits, max_pages=pages), options)
    return any(p.strip() for p in sample.pages)


def _with_ocr(data, read: _Read, blank, options: Options, limits: Limits) -> Document:
    import time

    import pypdfium2 as pdfium

    from ingest.pages import ocr

    began, boxes, done, problem = time.perf_counter(), [], [], ""
    pages = read.pages
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:  # pypdf read the text, PDFium cannot render the pages
            why = "OCR could not run: the pages cannot be drawn"
            return _pdf_document(read, why, options, limits)
        try:
            for i, n in enumerate(blank):
                left = options.time_left()
                if left is not None and left <= 0:
                    read.skip(blank[i:], "seconds")
                    break
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
                    text, words = ocr.read(image, options.ocr_languages, options.time_left())
                except OutOfTime:
                    read.skip(blank[i:], "seconds")
                    break
                except LoadError as exc:
                    problem = str(exc)
                    break
                pages[n - 1] = text
                boxes += [(n, w.start, w.end, *w.box) for w in words]
                done.append(n)
                limits.check_chars(sum(map(len, pages)))
        finally:
            pdf.close()
    why = f"OCR could not run: {problem}" if problem else "OCR found no text on it"
    doc = _pdf_document(read, why, options, limits)
    if done:
        took = time.perf_counter() - began
        note = (
            f"OCR: {len(done)} page{'s' if len(done) > 1 else ''} ({_ranges(done)}) in {took:.1f} s"
        )
        at = 1 if doc.partial else 0  # the note on what was skipped stays first
        notes = (*doc.notes[:at], note, *doc.notes[at:])
        doc = dataclasses.replace(doc, notes=notes, boxes=tuple(boxes))
    return doc


def _pdfium_pages(
    data: bytes, limits: Limits = Limits(), options: Options = Options()
) -> _Read | None:
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
            pages, failed, chars = [], [], 0
            for i in range(min(len(pdf), limits.max_pages)):
                if _out_of_time(options):
                    return _Read(pages, failed, len(pdf), "seconds")
                try:
                    pages.append(CONTROL_CHARS.sub("", _normalise(_pdfium_text(pdf, i))))
                except Exception:  # a broken page must not lose the others
                    pages.append("")
                    failed.append(i + 1)
                chars += len(pages[-1])
                limits.check_chars(chars)
            return _Read(pages, failed, len(pdf), "pages")
        finally:
            pdf.close()


def _out_of_time(options: Options) -> bool:
    left = options.time_left()
    return left is not None and left <= 0


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


def _pypdf_pages(data: bytes, limits: Limits = Limits(), options: Options = Options()) -> _Read:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # warnings go to the report instead
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _decrypt_without_password(reader):
            raise LoadError("encrypted PDF: it needs a password, which Quire does not ask for")
        total = len(reader.pages)
        pages, failed, chars = [], [], 0
        for number in range(1, min(total, limits.max_pages) + 1):
            if _out_of_time(options):
                return _Read(pages, failed, total, "seconds")
            try:
                pages.append(_normalise(reader.pages[number - 1].extract_text() or ""))
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
    return _Read(pages, failed, total, "pages")


def _pdf_document(
    read: _Read, why: str, options: Options = Options(), limits: Limits = Limits()
) -> Document:
    pages, failed, skipped = read.pages, read.failed, set(read.skipped)
    if not read.total:
        raise LoadError("PDF has no pages")
    sections = tuple(Section(n, 0, len(t)) for n, t in enumerate(pages, start=1) if t.strip())
    limit = options.time_limit() if read.cut == "seconds" else _page_limit(limits)
    if not sections:
        if read.cut == "seconds":
            raise OutOfTime(f"no page's text was read within the {limit}")
        count = f"first {len(pages):,}" if read.cut else str(len(pages))
        raise LoadError(f"PDF has no text layer on any of its {count} pages ({why})")
    notes = [_skipped_note(read.skipped, read.total, limit)] if read.skipped else []
    if failed:
        notes.append(f"text could not be extracted from page(s) {_ranges(failed)}")
    blank = [
        n
        for n, t in enumerate(pages, start=1)
        if not t.strip() and n not in failed and n not in skipped
    ]
    if blank:
        notes.append(f"no text layer on page(s) {_ranges(blank)} ({why})")
    partial = notes[0] if read.skipped else ""
    cut_by = read.cut if read.skipped else ""
    return Document(
        "pdf", tuple(pages), sections, tuple(notes), unit="page", partial=partial, cut_by=cut_by
    )


def _page_limit(limits: Limits) -> str:
    return f"page limit of {limits.max_pages:,} (QUIRE_MAX_PAGES)"


def _skipped_note(skipped: list[int], total: int, limit: str) -> str:
    """What a report says of a PDF read in part: "first 7 of 12 pages indexed; the rest
    skipped: time limit of 3 s (QUIRE_PARSE_SECONDS)"."""
    first = skipped[0]
    if skipped == list(range(first, total + 1)):
        return f"first {first - 1:,} of {total:,} pages indexed; the rest skipped: {limit}"
    read = total - len(skipped)
    return f"{read:,} of {total:,} pages indexed; pages {_ranges(skipped)} skipped: {limit}"


def _decrypt_without_password(reader) -> bool:
    """Many PDFs are encrypted with an empty user password: open those."""
    try:
        return bool(reader.decrypt(""))
    except Exception:
        return False


def _ranges(numbers: list[int], most: int = 20) -> str:
    """Page numbers as ranges, "2, 5-6, 9": at most `most` of them, then how many more."""
    out, i = [], 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        out.append(str(numbers[i]) if i == j else f"{numbers[i]}-{numbers[j]}")
        i = j + 1
    more = f" and {len(out) - most:,} more" if len(out) > most else ""
    return ", ".join(out[:most]) + more
