"""Office files, e-books and web pages (issue 12): real files made by the libraries that write
them; structure and provenance kept; bad inputs turned into reasons."""

from __future__ import annotations

import pytest

from ingest.load import load
from rag.errors import LoadError
from tests import documents as make
from tests.helpers import loaded_chunks

chunks = loaded_chunks


def test_docx_headings_tables_and_comments():
    doc, out = chunks("report.docx", make.make_docx())
    text = doc.pages[0]
    assert "Revenue grew to 1,355 thousand euros in FY2022." in text
    assert "North | 737,877 | 12%" in text
    assert "Ana: Check the FY2022 figure with finance." in text
    risks = next(c for c in out if "walnut timber" in c.text)
    assert risks.heading == ("Annual report", "Risks") and risks.location == ""
    assert any(c.heading == ("Comments",) for c in out)


def test_pptx_one_page_per_slide_with_notes_and_chart():
    doc, out = chunks("deck.pptx", make.make_pptx())
    assert doc.unit == "slide" and len(doc.pages) == 3
    assert "Notes: Mention the budget of 40,000." in doc.pages[0]
    assert "Chart: Yield per year" in doc.pages[2] and "series: Walnut yield" in doc.pages[2]
    timeline = next(c for c in out if "Phase one" in c.text)
    assert timeline.location == "slide 2" and timeline.heading == ("Timeline",)


def test_xlsx_sheets_rows_and_header():
    doc, out = chunks("budget.xlsx", make.make_xlsx())
    assert doc.page_names == ("Budget", "Staff")
    lines = doc.pages[0].split("\n")
    assert lines[0] == "Date | Amount | Payee" and lines[7] == "2024-01-07 | 1007 | Shop 7"
    staff = doc.pages[1].split("\n")
    assert staff[3] == "Ana Lima | Treasurer"  # row 4 of the sheet, B4:C4
    hit = next(c for c in out if "Ana Lima" in c.text)
    assert hit.location == "sheet Staff, rows 4" and hit.heading == ("Staff", "Name | Role")


def test_xlsx_numbers_read_as_excel_shows_them():
    import datetime
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Item", "Amount", "Share", "Due", "Count", "Ratio"])
    ws.append(["Revenue", 737877, 0.125, datetime.datetime(2022, 3, 31), 1355, 0.1 + 0.2])
    for cell, fmt in zip(ws[2][1:], ['"$"#,##0.00', "0.0%", "yyyy-mm-dd", "#,##0", "General"]):
        cell.number_format = fmt
    buf = io.BytesIO()
    wb.save(buf)
    doc = load("sums.xlsx", buf.getvalue())
    assert doc.pages[0].split("\n")[1] == "Revenue | $737,877.00 | 12.5% | 2022-03-31 | 1,355 | 0.3"


def test_a_cell_at_xfd1048576_does_not_pad_the_sheet():
    doc = load("far.xlsx", make.make_xlsx(far_cell=True))
    assert "far away" in doc.pages[1] and len(doc.pages[1]) < 2_000_000


def test_xls_and_ods_and_odt_and_odp():
    xls = load("stock.xls", make.make_xls())
    assert xls.page_names == ("Inventory",) and "Walnut planks | 42" in xls.pages[0]
    ods = load("harvest.ods", make.make_ods())
    assert ods.page_names == ("Harvest",) and "Tomatoes | 31" in ods.pages[0]
    odt = load("plan.odt", make.make_odt())
    watering = next(s for s in odt.sections if "Water every" in odt.pages[0][s.start : s.end])
    assert watering.heading == ("Garden plan", "Watering")
    odp = load("orchard.odp", make.make_odp())
    assert odp.unit == "slide" and "Pruning happens in February." in odp.pages[1]


def test_epub_chapters_in_reading_order_named_by_the_table_of_contents():
    doc, out = chunks("sea.epub", make.make_epub())
    assert doc.unit == "chapter" and doc.page_names == ("The Storm", "The Calm")
    calm = next(c for c in out if "boats went out" in c.text)
    assert calm.location == "chapter 2 (The Calm)" and calm.heading == ("The Calm", "Part one")


def test_rtf_text():
    doc = load("minutes.rtf", make.RTF)
    assert "The board approved café prices." in doc.pages[0]


def test_a_web_page_keeps_its_article_not_its_navigation():
    doc, out = chunks("bread.html", make.HTML)
    text = doc.pages[0]
    assert "Feed the starter daily" in text and "Autolyse | 45" in text
    for noise in ("cookies", "Popular posts", "Copyright 2024", "Blog"):
        assert noise not in text, noise
    bake = next(c for c in out if "250 degrees" in c.text)
    assert bake.heading == ("Sourdough guide", "Baking")


@pytest.mark.parametrize("name", ["a.docx", "a.pptx", "a.xlsx", "a.odt", "a.epub"])
def test_a_truncated_office_file_or_ebook_gets_a_reason(name):
    data = {
        "a.docx": make.make_docx,
        "a.pptx": make.make_pptx,
        "a.xlsx": make.make_xlsx,
        "a.odt": make.make_odt,
        "a.epub": make.make_epub,
    }[name]()
    with pytest.raises(LoadError):
        load(name, data[: len(data) // 2])


def test_a_zip_bomb_inside_an_office_file_is_refused_before_inflating():
    with pytest.raises(LoadError, match="zip bomb"):
        load("bomb.docx", make.zip_bomb(mb=600))


def test_a_password_protected_office_file_says_so():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500 + "EncryptedPackage".encode("utf-16-le")
    with pytest.raises(LoadError, match="password-protected"):
        load("secret.docx", ole + b"\0" * 500)


def test_an_office_file_named_as_another_is_read_by_its_content():
    doc = load("slides.docx", make.make_pptx())
    assert doc.kind == "pptx" and "read as PowerPoint" in doc.notes[0]


def test_a_sheet_padded_with_a_million_empty_cells_is_read_quickly():
    import time

    data = make.million_empty_cells()
    began = time.perf_counter()
    doc = load("padded.xlsx", data)
    assert doc.pages[0].startswith("Total 1,355") and len(doc.pages[0]) < 10_000
    assert time.perf_counter() - began < 120


def test_repeated_empty_cells_keep_the_columns_in_line():
    from tests.security.hostile import cell, ods, row

    data = ods(
        row(cell("Crop"), cell("Kilos"), cell("Sown"), cell("Field"))
        + row(cell("Beans"), cell(repeat=2), cell("North"))
        + row(cell(repeat=3), repeat=2)
        + row(cell("Kale"), cell("7"), cell("May"), cell("East"), cell(repeat=1000))
    )
    doc = load("crops.ods", data)
    assert (
        doc.pages[0]
        == "Crop | Kilos | Sown | Field\nBeans |  |  | North\n\n\nKale | 7 | May | East\n"
    )
