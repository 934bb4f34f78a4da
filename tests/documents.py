"""Real Office files, e-books and web pages for tests, made in memory with the libraries that
write them (python-docx, python-pptx, openpyxl, xlwt, odfpy) or by hand where the format is
plain (EPUB, RTF, HTML). Each holds known strings the tests look for."""

from __future__ import annotations

import io
import zipfile


def make_docx() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("Annual report", level=1)
    p = d.add_paragraph("Revenue grew to 1,355 thousand euros in FY2022.")
    d.add_heading("Risks", level=2)
    d.add_paragraph("Supply of walnut timber is the main risk.")
    t = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["Region", "Sales", "Margin"], ["North", "737,877", "12%"],
                             ["South", "412,001", "9%"]]):  # fmt: skip
        for c, value in enumerate(row):
            t.cell(r, c).text = value
    d.add_comment(p.runs[0], text="Check the FY2022 figure with finance.", author="Ana")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def make_pptx() -> bytes:
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    prs = Presentation()
    for n, (title, body, notes) in enumerate(
        [
            ("Kickoff", "Goals for the walnut project.", "Mention the budget of 40,000."),
            ("Timeline", "Phase one ends in March.", ""),
            ("Results", "Yield rose by a third.", "Thank the field team."),
        ]
    ):
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
        if n == 2:
            data = CategoryChartData()
            data.categories = ["2022", "2023"]
            data.add_series("Walnut yield", (10, 13))
            chart = slide.shapes.add_chart(
                XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(3), Inches(4), Inches(3), data
            ).chart
            chart.has_title = True
            chart.chart_title.text_frame.text = "Yield per year"
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


def make_xlsx(far_cell: bool = False) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Budget"
    ws.append(["Date", "Amount", "Payee"])
    for d in range(1, 31):
        ws.append([f"2024-01-{d:02d}", 1000 + d, f"Shop {d}"])
    other = wb.create_sheet("Staff")
    other["B3"] = "Name"  # a table that starts at row 3
    other["C3"] = "Role"
    other["B4"] = "Ana Lima"
    other["C4"] = "Treasurer"
    if far_cell:
        other["XFD1048576"] = "far away"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def make_xls() -> bytes:
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("Inventory")
    for r, row in enumerate([["Item", "Count"], ["Walnut planks", 42], ["Oak beams", 7]]):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def make_odt() -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.style import Style
    from odf.text import H, P

    doc = OpenDocumentText()
    doc.styles.addElement(Style(name="Heading", family="paragraph"))
    doc.text.addElement(H(outlinelevel=1, text="Garden plan"))
    doc.text.addElement(P(text="Plant tomatoes on 12 May."))
    doc.text.addElement(H(outlinelevel=2, text="Watering"))
    doc.text.addElement(P(text="Water every second evening."))
    return _odf_bytes(doc)


def make_ods() -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="Harvest")
    for row in (["Crop", "Kilos"], ["Tomatoes", "31"], ["Beans", "12"]):
        tr = TableRow()
        for value in row:
            tc = TableCell()
            tc.addElement(P(text=value))
            tr.addElement(tc)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    return _odf_bytes(doc)


def make_odp() -> bytes:
    from odf.draw import Frame, Page, TextBox
    from odf.opendocument import OpenDocumentPresentation
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    doc = OpenDocumentPresentation()
    layout = PageLayout(name="L")
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="M", pagelayoutname=layout)
    doc.masterstyles.addElement(master)
    for text in ("Orchard review", "Pruning happens in February."):
        page = Page(masterpagename=master)
        frame = Frame(width="20cm", height="3cm", x="1cm", y="1cm")
        box = TextBox()
        box.addElement(P(text=text))
        frame.addElement(box)
        page.addElement(frame)
        doc.presentation.addElement(page)
    return _odf_bytes(doc)


def _odf_bytes(doc) -> bytes:
    buf = io.BytesIO()
    doc.write(buf)
    return buf.getvalue()


def make_epub(chapters=(("The Storm", "Rain fell on the harbour for three days."),
                        ("The Calm", "The boats went out again at dawn."))) -> bytes:  # fmt: skip
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        items = "".join(
            f'<item id="c{i}" href="text/c{i}.xhtml" media-type="application/xhtml+xml"/>'
            for i in range(len(chapters))
        )
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        z.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata/><manifest><item id="nav" href="nav.xhtml" properties="nav" '
            f'media-type="application/xhtml+xml"/>{items}</manifest><spine>{spine}</spine>'
            "</package>",
        )
        links = "".join(
            f'<li><a href="text/c{i}.xhtml">{title}</a></li>'
            for i, (title, _) in enumerate(chapters)
        )
        z.writestr(
            "OEBPS/nav.xhtml",
            '<html xmlns="http://www.w3.org/1999/xhtml"><body><nav><ol>'
            f"{links}</ol></nav></body></html>",
        )
        for i, (title, body) in enumerate(chapters):
            z.writestr(
                f"OEBPS/text/c{i}.xhtml",
                f'<html xmlns="http://www.w3.org/1999/xhtml"><body><h1>{title}</h1>'
                f"<h2>Part one</h2><p>{body}</p></body></html>",
            )
    return buf.getvalue()


RTF = (
    rb"{\rtf1\ansi\deff0{\fonttbl{\f0 Times;}}"
    rb"\f0 Minutes of the board meeting.\par The board approved caf\'e9 prices.\par}"
)

HTML = b"""<!doctype html><html><head><title>Sourdough</title></head><body>
<nav><a href="/">Home</a> | <a href="/blog">Blog</a></nav>
<div id="cookie-banner">We use cookies to improve your experience. Accept all</div>
<article><h1>Sourdough guide</h1>
<p>Feed the starter daily with equal weights of flour and water.</p>
<h2>Baking</h2><p>Bake at 250 degrees for forty minutes until the crust is dark.</p>
<table><tr><th>Step</th><th>Minutes</th></tr><tr><td>Autolyse</td><td>45</td></tr></table>
</article><aside>Popular posts: ten bread myths</aside><footer>Copyright 2024 Bakery Blog</footer>
</body></html>"""


def zip_bomb(name: str = "word/document.xml", mb: int = 600) -> bytes:
    """A zip whose one member inflates to `mb` MB of zeros (about 1000:1)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open(name, "w", force_zip64=True) as f:
            block = b"\0" * 2**20
            for _ in range(mb):
                f.write(block)
    return buf.getvalue()


def million_empty_cells() -> bytes:
    """An .xlsx whose sheet lists a million cells with a style and no value (1,000 rows of
    1,000), and one real value: how some exports pad a sheet."""
    import re

    base = make_xlsx()
    src = zipfile.ZipFile(io.BytesIO(base))
    cols = []
    for i in range(1000):  # column letters A .. ALL
        n, name = i + 1, ""
        while n:
            n, r = divmod(n - 1, 26)
            name = chr(65 + r) + name
        cols.append(name)
    rows = "".join(
        f'<row r="{r}">' + "".join(f'<c r="{c}{r}" s="0"/>' for c in cols) + "</row>"
        for r in range(1, 1001)
    )
    sheet = src.read("xl/worksheets/sheet1.xml").decode()
    sheet = re.sub(r"<sheetData>.*</sheetData>", "", sheet, flags=re.S)
    sheet = re.sub(r"<sheetData\s*/>", "", sheet)
    at = sheet.index("<pageMargins") if "<pageMargins" in sheet else sheet.index("</worksheet>")
    data = (
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Total 1,355</t></is></c></row>'
        + rows.replace('<row r="1">', '<row r="1001">', 1)
        + "</sheetData>"
    )
    sheet = sheet[:at] + data + sheet[at:]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            body = sheet.encode() if item.filename == "xl/worksheets/sheet1.xml" else src.read(item)
            out.writestr(item.filename, body)
    return buf.getvalue()
