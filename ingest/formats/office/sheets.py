"""Tables: CSV and TSV (spreadsheets join them here). One page per sheet; each row is one line,
its cells joined by " | ", so line N of a page is row N of the sheet and a citation can say
"rows 4-9". The header row goes in the heading path: every chunk of the sheet is embedded and
shown with it, so a cited row is readable alone."""

from __future__ import annotations

import csv
import datetime
import io
import re

from ingest.formats.text import decode_text
from ingest.limits import Limits, Options
from rag.errors import LoadError, brief
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


MAX_ROWS = 1_048_576  # rows of a sheet in Excel and LibreOffice: empty rows past it are dropped
MAX_COLUMNS = 16_384  # columns likewise


def sheet_text(rows, limits: Limits, chars: int = 0) -> str:
    """Rows (iterables of cell values, or a number: that many empty rows) as lines; trailing
    empty cells and rows dropped, empty rows between kept (so line numbers stay row numbers,
    up to MAX_ROWS), and the empty columns every row starts with (a table drawn from B3) left
    out."""
    kept: list[list[str] | None] = []
    blank = 0
    for row in rows:
        if isinstance(row, int):
            blank += row
            continue
        cells = [_cell(v) for v in row]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            blank += 1
            continue
        blank = max(0, min(blank, MAX_ROWS - 1 - len(kept)))
        kept.extend([None] * blank)
        chars += sum(len(c) + 3 for c in cells) + blank
        blank = 0
        limits.check_chars(chars)
        kept.append(cells)
    rows_with_text = [r for r in kept if r]
    skip = min((next(i for i, c in enumerate(r) if c) for r in rows_with_text), default=0)
    lines = ["" if r is None else SEP.join(r[skip:]) for r in kept]
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


def load_xlsx(data: bytes, limits: Limits, options: Options) -> Document:
    """Excel workbooks: values as last computed and saved (formulas are never evaluated)."""
    from ingest.formats.archive import checked_zip

    checked_zip(data, "Excel workbook")
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on damaged files
        raise LoadError(f"damaged Excel workbook ({type(exc).__name__}: {brief(exc)})") from None
    try:
        sheets = book.worksheets
        limits.check_pages(len(sheets))
        out, chars = [], 0
        for ws in sheets:
            if hasattr(ws, "reset_dimensions"):
                ws.reset_dimensions()  # a declared XFD1048576 would pad to 17 billion cells
            text = sheet_text(_numbered(ws.iter_rows()), limits, chars)
            chars += len(text)
            out.append((ws.title, text))
    finally:
        book.close()
    return sheet_document("xlsx", out)


def _numbered(rows):
    """openpyxl's read-only rows, with the empty rows it skips put back (line N is row N)."""
    expected = 1
    for row in rows:
        number = next((c.row for c in row if getattr(c, "row", None)), None)
        if number is None:
            yield ()
            expected += 1
            continue
        if expected < number:
            yield number - expected  # that many empty rows
        yield [shown(getattr(c, "value", None), getattr(c, "number_format", "")) for c in row]
        expected = number + 1


_DECIMALS = re.compile(r"0\.(0+)")
_CURRENCY = re.compile(r"\[\$([^-\]]+)|[$€£¥]")


def shown(value, number_format: str | None):
    """A cell's value as Excel shows it, so "1,355", "$737,877.00", "12.5%" and "2022-03-31"
    are found as the reader sees them: thousands separators, decimals, percent and currency
    signs from the cell's number format; dates without a midnight time."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(" ")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    fmt = (number_format or "General").split(";")[0]
    places = _DECIMALS.search(fmt)
    decimals = len(places.group(1)) if places else 0
    if fmt == "General":
        return value if isinstance(value, int) else f"{value:.15g}"
    if "%" in fmt:
        return f"{value * 100:.{decimals}f}%"
    sign = _CURRENCY.search(fmt)
    text = f"{value:,.{decimals}f}" if "," in fmt else f"{value:.{decimals}f}"
    if sign:
        mark = sign.group(1) or sign.group()
        text = f"-{mark}{text[1:]}" if text.startswith("-") else f"{mark}{text}"
    return text


def load_xls(data: bytes, limits: Limits, options: Options) -> Document:
    """Excel 97-2003 workbooks (xlrd)."""
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except Exception as exc:  # xlrd raises many kinds on damaged files
        raise LoadError(
            f"damaged Excel 97-2003 workbook ({type(exc).__name__}: {brief(exc)})"
        ) from None
    limits.check_pages(book.nsheets)
    out, chars = [], 0
    for i in range(book.nsheets):
        sh = book.sheet_by_index(i)
        rows = ([_xls_value(book, sh.cell(r, c)) for c in range(sh.ncols)] for r in range(sh.nrows))
        text = sheet_text(rows, limits, chars)
        chars += len(text)
        out.append((sh.name, text))
        book.unload_sheet(i)
    return sheet_document("xls", out)


def _xls_value(book, cell):
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(cell.value, book.datemode).isoformat()
        except (ValueError, OverflowError):
            return cell.value
    if cell.ctype == xlrd.XL_CELL_NUMBER and float(cell.value).is_integer():
        return int(cell.value)
    return None if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK) else cell.value


MAX_REPEAT = 1000  # copies kept of an ODS row or cell "repeated" more often, with text in it


def load_ods(data: bytes, limits: Limits, options: Options) -> Document:
    """OpenDocument spreadsheets (odfpy). Repeated empty rows and cells are counted, never
    expanded (a sheet's padding says "2,000,000,000 more empty rows"); repeated ones with text
    are kept up to MAX_REPEAT times."""
    from ingest.formats.archive import checked_zip
    from ingest.formats.office.documents import _children, _odf

    checked_zip(data, "OpenDocument spreadsheet")
    from odf import table

    doc = _odf(data, "OpenDocument spreadsheet")
    tables = doc.spreadsheet.getElementsByType(table.Table)
    limits.check_pages(len(tables))
    out, chars = [], 0

    def rows(tb):
        for tr in _children(tb, "table-row", deep=True):
            cells = _ods_cells(tr)
            times = _repeated(tr.getAttribute("numberrowsrepeated"))
            if cells:
                yield from [cells] * min(times, MAX_REPEAT)
            else:
                yield times

    for tb in tables:
        text = sheet_text(rows(tb), limits, chars)
        chars += len(text)
        out.append((tb.getAttribute("name") or "", text))
    return sheet_document("ods", out)


def _ods_cells(tr) -> list[str]:
    """A row's cells up to its last with text; runs of empty cells put back as they stand
    (so columns line up), up to MAX_COLUMNS."""
    from odf import teletype

    cells: list[str] = []
    gap = 0  # empty cells since the last with text
    for tc in tr.childNodes:
        if getattr(tc, "qname", (None, None))[1] not in ("table-cell", "covered-table-cell"):
            continue
        value = teletype.extractText(tc)
        times = _repeated(tc.getAttribute("numbercolumnsrepeated"))
        if not value.strip():
            gap += times
            continue
        cells.extend([""] * max(0, min(gap, MAX_COLUMNS - 1 - len(cells))))
        cells.extend([value] * max(0, min(times, MAX_REPEAT, MAX_COLUMNS - len(cells))))
        gap = 0
    return cells


def _repeated(value) -> int:
    """A number-...-repeated attribute: 1 when absent or not a positive number."""
    try:
        return max(1, int(value or 1))
    except (TypeError, ValueError):
        return 1
