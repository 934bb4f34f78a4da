"""Create realistic fixture files with known unique marker strings.

Markers are alphanumeric tokens (QX...) so markdown escaping cannot hide them.
Writes fixtures/ and fixtures/markers.json  {file: {marker: provenance-expected}}.
"""
import csv, datetime, json, os, random, re, shutil, zipfile, mailbox
from email.message import EmailMessage

OUT = os.environ.get("CONVCMP", "/tmp/convcmp") + "/fixtures"
os.makedirs(OUT, exist_ok=True)
random.seed(7)
MARK = {}
LOREM = ("The quarterly review covers procurement, logistics and the migration of "
         "the archive service to the new storage cluster. ")


def p(name):
    return os.path.join(OUT, name)


# ---------------------------------------------------------------- DOCX
def make_docx():
    import docx
    from docx.shared import Pt
    d = docx.Document()
    sec = d.sections[0]
    sec.header.paragraphs[0].text = "Confidential header QXDOCXHEADER"
    sec.footer.paragraphs[0].text = "Page footer QXDOCXFOOTER"
    d.add_heading("Annual Report QXDOCXH1", level=1)
    para = d.add_paragraph("Opening paragraph with the body marker QXDOCXBODY. " + LOREM)
    d.add_heading("Finance Section QXDOCXH2", level=2)
    p2 = d.add_paragraph("Revenue grew by twelve percent. ")
    r = p2.add_run("This sentence carries a comment anchor QXDOCXANCHOR.")
    d.add_comment(r, text="Reviewer remark QXDOCXCOMMENT", author="Alice Reviewer", initials="AR")
    d.add_heading("Regional Breakdown QXDOCXH3", level=3)
    d.add_paragraph("Footnoted claim appears here" )  # footnote ref injected below
    t = d.add_table(rows=4, cols=3)
    t.style = "Table Grid"
    rows = [("Region", "Q1", "Q2"), ("North", "1200", "1350"),
            ("South QXDOCXTABLE", "980", "1010"), ("East", "700", "777")]
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            t.cell(i, j).text = v
    d.add_heading("Second Chapter QXDOCXH1B", level=1)
    d.add_paragraph("Closing text in chapter two QXDOCXTAIL. " + LOREM * 3)
    d.add_paragraph("Bullet item one QXDOCXBULLET", style="List Bullet")
    d.save(p("sample.docx"))
    inject_footnote(p("sample.docx"))
    MARK["sample.docx"] = {
        "QXDOCXH1": "H1", "QXDOCXBODY": "under H1", "QXDOCXH2": "H2 under H1",
        "QXDOCXANCHOR": "body", "QXDOCXCOMMENT": "comment", "QXDOCXH3": "H3",
        "QXDOCXTABLE": "table row 3 col 1", "QXDOCXFOOTNOTE": "footnote",
        "QXDOCXHEADER": "page header", "QXDOCXFOOTER": "page footer",
        "QXDOCXH1B": "H1 #2", "QXDOCXTAIL": "under H1 #2", "QXDOCXBULLET": "list"}


def inject_footnote(path):
    """python-docx cannot write footnotes: add word/footnotes.xml by hand."""
    W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    foot = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:footnotes {W}>'
            '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
            '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>'
            '<w:footnote w:id="1"><w:p><w:pPr><w:pStyle w:val="FootnoteText"/></w:pPr>'
            '<w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:footnoteRef/></w:r>'
            '<w:r><w:t xml:space="preserve"> Source: internal audit QXDOCXFOOTNOTE.</w:t></w:r></w:p></w:footnote>'
            '</w:footnotes>')
    tmp = path + ".tmp"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>')
            elif item.filename == "word/_rels/document.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdFn1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/></Relationships>')
            elif item.filename == "word/document.xml":
                s = data.decode()
                s, n = re.subn(r'(<w:t>Footnoted claim appears here</w:t></w:r>)',
                               r'\1<w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:footnoteReference w:id="1"/></w:r>', s)
                assert n == 1, "footnote anchor not found"
                data = s.encode()
            zout.writestr(item, data)
        zout.writestr("word/footnotes.xml", foot)
    shutil.move(tmp, path)


# ---------------------------------------------------------------- PPTX
def make_pptx():
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches
    prs = Presentation()
    m = {}
    for i in range(1, 6):
        layout = prs.slide_layouts[1] if i != 4 else prs.slide_layouts[5]
        s = prs.slides.add_slide(layout)
        s.shapes.title.text = f"Slide {i} title QXPPTXTITLE{i}"
        m[f"QXPPTXTITLE{i}"] = f"slide {i} title"
        if i != 4:
            tf = s.placeholders[1].text_frame
            tf.text = f"First bullet of slide {i} QXPPTXBULLET{i}"
            for k in range(2):
                para = tf.add_paragraph()
                para.text = f"Sub point {k} on slide {i}"
                para.level = 1
            m[f"QXPPTXBULLET{i}"] = f"slide {i} body"
        else:
            cd = CategoryChartData()
            cd.categories = ["Q1", "Q2", "Q3QXPPTXCAT"]
            cd.add_series("Revenue QXPPTXSERIES", (1.5, 2.5, 3.5))
            gf = s.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1.5),
                                    Inches(6), Inches(4), cd)
            ch = gf.chart
            ch.has_title = True
            ch.chart_title.text_frame.text = "Revenue chart QXPPTXCHARTTITLE"
            m["QXPPTXCHARTTITLE"] = "slide 4 chart title"
            m["QXPPTXSERIES"] = "slide 4 chart series"
            m["QXPPTXCAT"] = "slide 4 chart category"
        s.notes_slide.notes_text_frame.text = f"Speaker notes for slide {i} QXPPTXNOTES{i}"
        m[f"QXPPTXNOTES{i}"] = f"slide {i} notes"
    # a table on slide 5
    s5 = prs.slides[4]
    tbl = s5.shapes.add_table(3, 2, Inches(1), Inches(5), Inches(5), Inches(1)).table
    for r in range(3):
        for c in range(2):
            tbl.cell(r, c).text = f"r{r}c{c}"
    tbl.cell(2, 1).text = "QXPPTXTABLE"
    m["QXPPTXTABLE"] = "slide 5 table"
    prs.save(p("sample.pptx"))
    MARK["sample.pptx"] = m


# ---------------------------------------------------------------- XLSX
def rows_for(sheet, n=50):
    base = datetime.date(2024, 1, 1)
    out = []
    for r in range(2, n + 2):  # spreadsheet row numbers 2..51
        out.append([f"{sheet}-item-{r}", round(random.uniform(10, 1000), 2),
                    base + datetime.timedelta(days=r * 3), r * 7])
    return out


def make_xlsx():
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws.append(["Item", "Amount", "Date", "Units"])
    for row in rows_for("Sales"):
        ws.append(row)
    ws["A37"] = "QXXLSXSALES37"     # row 37
    ws2 = wb.create_sheet("Staff Costs")
    ws2.append(["Employee", "Salary", "Start", "Grade"])
    for row in rows_for("Staff"):
        ws2.append(row)
    ws2["A51"] = "QXXLSXSTAFF51"    # last data row
    ws2["E10"] = "=SUM(B2:B51)"
    wb.save(p("sample.xlsx"))
    MARK["sample.xlsx"] = {"QXXLSXSALES37": "sheet Sales row 37", "QXXLSXSTAFF51": "sheet 'Staff Costs' row 51"}

    # huge declared dimension (for openpyxl read_only test)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Huge"
    ws.append(["a", "b"])
    ws.append([1, "QXHUGEROW2"])
    ws["XFD1048576"] = "QXHUGECORNER"
    wb.save(p("huge_dimension.xlsx"))
    MARK["huge_dimension.xlsx"] = {"QXHUGEROW2": "row 2", "QXHUGECORNER": "XFD1048576"}


def make_xls():
    try:
        import xlwt
    except ImportError:
        return
    wb = xlwt.Workbook()
    datefmt = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for name, mk, mrow in (("Budget", "QXXLSBUDGET20", 20), ("Actuals", "QXXLSACTUAL45", 45)):
        ws = wb.add_sheet(name, cell_overwrite_ok=True)
        for c, h in enumerate(["Item", "Amount", "Date", "Units"]):
            ws.write(0, c, h)
        for i, row in enumerate(rows_for(name), start=1):
            ws.write(i, 0, row[0])
            ws.write(i, 1, row[1])
            ws.write(i, 2, row[2], datefmt)
            ws.write(i, 3, row[3])
        ws.write(mrow - 1, 0, mk)
    wb.save(p("sample.xls"))
    MARK["sample.xls"] = {"QXXLSBUDGET20": "sheet Budget row 20", "QXXLSACTUAL45": "sheet Actuals row 45"}


# ---------------------------------------------------------------- ODF
def make_odt_ods():
    from odf.opendocument import OpenDocumentText, OpenDocumentSpreadsheet
    from odf.style import Style, TextProperties
    from odf import text, table
    doc = OpenDocumentText()
    for lvl in (1, 2, 3):
        st = Style(name=f"Heading_20_{lvl}", displayname=f"Heading {lvl}", family="paragraph")
        st.addElement(TextProperties(fontsize=f"{20 - 2 * lvl}pt", fontweight="bold"))
        doc.styles.addElement(st)
    doc.text.addElement(text.H(outlinelevel=1, stylename="Heading_20_1", text="Project Plan QXODTH1"))
    doc.text.addElement(text.P(text="Intro paragraph QXODTBODY. " + LOREM))
    doc.text.addElement(text.H(outlinelevel=2, stylename="Heading_20_2", text="Milestones QXODTH2"))
    doc.text.addElement(text.P(text="Milestone text " + LOREM))
    doc.text.addElement(text.H(outlinelevel=3, stylename="Heading_20_3", text="Risks QXODTH3"))
    doc.text.addElement(text.P(text="Risk paragraph QXODTRISK."))
    tb = table.Table(name="RiskTable")
    tb.addElement(table.TableColumn(numbercolumnsrepeated=2))
    for r in (("Risk", "Owner"), ("Delay QXODTTABLE", "Bob"), ("Budget", "Carol")):
        tr = table.TableRow()
        for v in r:
            tc = table.TableCell()
            tc.addElement(text.P(text=v))
            tr.addElement(tc)
        tb.addElement(tr)
    doc.text.addElement(tb)
    doc.save(p("sample.odt"))
    MARK["sample.odt"] = {"QXODTH1": "H1", "QXODTBODY": "under H1", "QXODTH2": "H2", "QXODTH3": "H3",
                          "QXODTRISK": "under H3", "QXODTTABLE": "table row 2"}

    ods = OpenDocumentSpreadsheet()
    for name, mk, mrow in (("Inventory", "QXODSINV12", 12), ("Orders", "QXODSORD30", 30)):
        tb = table.Table(name=name)
        allrows = [["Item", "Amount", "Date", "Units"]] + rows_for(name, 40)
        for rn, row in enumerate(allrows, start=1):
            tr = table.TableRow()
            for c, v in enumerate(row):
                if rn == mrow and c == 0:
                    v = mk
                if isinstance(v, (int, float)) and rn > 1:
                    tc = table.TableCell(valuetype="float", value=v)
                elif isinstance(v, datetime.date):
                    tc = table.TableCell(valuetype="date", datevalue=v.isoformat())
                else:
                    tc = table.TableCell(valuetype="string")
                tc.addElement(text.P(text=str(v)))
                tr.addElement(tc)
            tb.addElement(tr)
        ods.spreadsheet.addElement(tb)
    ods.save(p("sample.ods"))
    MARK["sample.ods"] = {"QXODSINV12": "sheet Inventory row 12", "QXODSORD30": "sheet Orders row 30"}


# ---------------------------------------------------------------- CSV
def make_csv():
    with open(p("sample.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "amount", "date"])
        for r in range(2, 32):
            name = "QXCSVROW17" if r == 17 else f"name {r}, with comma"
            w.writerow([r - 1, name, r * 1.5, f"2024-02-{(r % 28) + 1:02d}"])
    MARK["sample.csv"] = {"QXCSVROW17": "row 17"}


# ---------------------------------------------------------------- HTML
def make_html():
    para = ("Municipal water utilities across the region have started replacing lead service lines "
            "with copper and PEX alternatives, funded by a combination of state grants and bond issues. "
            "Engineers report that the work is slower than planned because of incomplete records. ")
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Water Infrastructure Update</title></head>
<body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience QXCOOKIE. <button>Accept all</button></div>
<header><nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/news">News QXNAVLINK</a></li><li><a href="/about">About</a></li></ul></nav></header>
<div class="layout">
<aside class="sidebar"><h3>Trending</h3><ul><li><a href="/x">Most read story QXSIDEBAR</a></li><li><a href="/y">Another link</a></li></ul></aside>
<main><article>
<h1>Replacing Lead Pipes QXHTMLH1</h1>
<p class="byline">By Dana Writer, 3 March 2024</p>
<p>{para}The article body marker is QXHTMLBODY and it should be kept.</p>
<p>{para * 2}</p>
<h2>Funding Sources QXHTMLH2</h2>
<p>{para}Grants covered forty percent QXHTMLFUND.</p>
<table><thead><tr><th>Source</th><th>Share</th></tr></thead>
<tbody><tr><td>State grant QXHTMLTABLE</td><td>40%</td></tr><tr><td>Bonds</td><td>60%</td></tr></tbody></table>
<h3>Timeline Details QXHTMLH3</h3>
<p>{para}Completion is expected in 2027 QXHTMLTIMELINE.</p>
</article></main>
</div>
<footer><p>Copyright 2024 Example News QXFOOTER. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
</body></html>"""
    open(p("sample.html"), "w").write(html)
    MARK["sample.html"] = {"QXHTMLH1": "h1", "QXHTMLBODY": "under h1", "QXHTMLH2": "h2", "QXHTMLFUND": "under h2",
                           "QXHTMLTABLE": "table", "QXHTMLH3": "h3", "QXHTMLTIMELINE": "under h3",
                           "!QXCOOKIE": "boilerplate (should be dropped)", "!QXNAVLINK": "boilerplate",
                           "!QXSIDEBAR": "boilerplate", "!QXFOOTER": "boilerplate"}


# ---------------------------------------------------------------- EPUB
def make_epub():
    from ebooklib import epub
    b = epub.EpubBook()
    b.set_identifier("qx-epub-1")
    b.set_title("The Test Book QXEPUBTITLE")
    b.set_language("en")
    b.add_author("A. Author")
    chs = []
    for i in range(1, 4):
        c = epub.EpubHtml(title=f"Chapter {i}", file_name=f"chap_{i:02d}.xhtml", lang="en")
        c.content = (f"<html><body><h1>Chapter {i}: Heading QXEPUBCHH{i}</h1>"
                     f"<p>Text of chapter {i} with marker QXEPUBCH{i}. {LOREM * 2}</p>"
                     f"<h2>Section {i}.1</h2><p>More text {LOREM}</p></body></html>")
        b.add_item(c)
        chs.append(c)
    b.toc = tuple(chs)
    b.add_item(epub.EpubNcx())
    b.add_item(epub.EpubNav())
    b.spine = ["nav"] + chs
    epub.write_epub(p("sample.epub"), b)
    MARK["sample.epub"] = {**{f"QXEPUBCH{i}": f"chapter {i}" for i in range(1, 4)},
                           **{f"QXEPUBCHH{i}": f"chapter {i} heading" for i in range(1, 4)}}


# ---------------------------------------------------------------- IPYNB
def make_ipynb():
    nb = {"nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                       "language_info": {"name": "python"}},
          "cells": [
              {"cell_type": "markdown", "id": "c1", "metadata": {},
               "source": ["# Analysis Notebook QXNBTITLE\n", "\n", "Intro text QXNBMD1."]},
              {"cell_type": "code", "id": "c2", "metadata": {}, "execution_count": 1,
               "source": ["import math\n", "value_qxnbcode = math.pi  # QXNBCODE\n", "print('result QXNBOUT', value_qxnbcode)"],
               "outputs": [{"output_type": "stream", "name": "stdout", "text": ["result QXNBOUT 3.141592653589793\n"]}]},
              {"cell_type": "markdown", "id": "c3", "metadata": {},
               "source": ["## Second section QXNBMD2\n", "More explanation."]},
              {"cell_type": "code", "id": "c4", "metadata": {}, "execution_count": 2,
               "source": ["{'k': 'QXNBCODE2'}"],
               "outputs": [{"output_type": "execute_result", "execution_count": 2, "metadata": {},
                            "data": {"text/plain": ["{'k': 'QXNBRESULT'}"]}}]},
          ]}
    json.dump(nb, open(p("sample.ipynb"), "w"), indent=1)
    MARK["sample.ipynb"] = {"QXNBTITLE": "cell 1 (md)", "QXNBMD1": "cell 1", "QXNBCODE": "cell 2 (code)",
                            "QXNBOUT": "cell 2 output", "QXNBMD2": "cell 3", "QXNBCODE2": "cell 4",
                            "QXNBRESULT": "cell 4 output"}


# ---------------------------------------------------------------- EMAIL
def mkmsg(i, subj, body, html=None, attach=None):
    m = EmailMessage()
    m["From"] = f"Sender {i} <sender{i}@example.org>"
    m["To"] = "team@example.org"
    m["Subject"] = subj
    m["Date"] = f"Mon, 0{i} Apr 2024 10:00:00 +0000"
    m["Message-ID"] = f"<msg{i}@example.org>"
    m.set_content(body)
    if html:
        m.add_alternative(html, subtype="html")
    if attach:
        m.add_attachment(attach.encode(), maintype="text", subtype="plain", filename="notes.txt")
    return m


def make_email():
    m = mkmsg(1, "Budget meeting QXEMLSUBJECT", "Hello team,\n\nPlease review the budget QXEMLBODY.\n\nRegards",
              html="<html><body><p>Hello team,</p><p>Please review the budget <b>QXEMLBODY</b>.</p></body></html>",
              attach="Attached notes QXEMLATTACH")
    open(p("sample.eml"), "wb").write(bytes(m))
    MARK["sample.eml"] = {"QXEMLSUBJECT": "subject", "QXEMLBODY": "body", "QXEMLATTACH": "attachment text"}
    path = p("sample.mbox")
    if os.path.exists(path):
        os.remove(path)
    mb = mailbox.mbox(path)
    for i in range(1, 4):
        mb.add(mkmsg(i, f"Thread message {i} QXMBOXSUBJ{i}", f"Body of message {i} QXMBOXBODY{i}\n"))
    mb.flush()
    mb.close()
    MARK["sample.mbox"] = {**{f"QXMBOXSUBJ{i}": f"message {i} subject" for i in range(1, 4)},
                           **{f"QXMBOXBODY{i}": f"message {i} body" for i in range(1, 4)}}


def make_msg():
    """Outlook .msg via aspose-email-foss (pure-Python MSG writer, MIT)."""
    try:
        from aspose.email_foss import msg
    except ImportError:
        return
    from datetime import datetime, timezone
    m = msg.MapiMessage.create("Outlook status QXMSGSUBJECT", "Hello,\n\nThe Outlook body marker QXMSGBODY.\n\nThanks")
    m.set_property(msg.PropertyId.SENDER_NAME, "Olivia Outlook")
    m.set_property(msg.PropertyId.SENDER_EMAIL_ADDRESS, "olivia@example.org")
    m.set_property(msg.PropertyId.MESSAGE_DELIVERY_TIME, datetime(2024, 4, 5, 9, 0, tzinfo=timezone.utc))
    m.add_recipient("team@example.org", display_name="Team")
    m.add_attachment("minutes.txt", b"Attachment text QXMSGATTACH\n", mime_type="text/plain")
    m.save(p("sample.msg"))
    MARK["sample.msg"] = {"QXMSGSUBJECT": "subject", "QXMSGBODY": "body", "QXMSGATTACH": "attachment text"}


# ---------------------------------------------------------------- RTF
def make_rtf():
    rtf = r"""{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\froman Times New Roman;}{\f1\fswiss Arial;}}
{\stylesheet{\s0 Normal;}{\s1\b\fs32 heading 1;}{\s2\b\fs28 heading 2;}}
{\info{\title RTF sample QXRTFTITLE}{\author Tester}}
\pard\s1\b\fs32 Meeting Minutes QXRTFH1\b0\fs24\par
\pard\s0 The committee met on Tuesday. Body marker QXRTFBODY with caf\'e9 accent and \u8364?uro sign.\par
\pard\s2\b\fs28 Action Items QXRTFH2\b0\fs24\par
\pard\s0 {\b Bold} and {\i italic} text QXRTFSTYLED.\par
\trowd\cellx2000\cellx4000
\intbl Owner\cell Task\cell\row
\trowd\cellx2000\cellx4000
\intbl Alice\cell Draft QXRTFTABLE\cell\row
\pard\s0 Final paragraph QXRTFEND.\par
}"""
    open(p("sample.rtf"), "w").write(rtf)
    MARK["sample.rtf"] = {"QXRTFH1": "heading-ish", "QXRTFBODY": "body", "QXRTFH2": "heading-ish",
                          "QXRTFSTYLED": "body", "QXRTFTABLE": "table", "QXRTFEND": "body"}


# ---------------------------------------------------------------- PDF (extra)
def make_pdf():
    try:
        from fpdf import FPDF
    except ImportError:
        return
    pdf = FPDF()
    for i in (1, 2, 3):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(0, 12, f"Page {i} heading QXPDFH{i}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, f"Body text on page {i} QXPDFPAGE{i}. " + LOREM * 4)
    pdf.output(p("sample.pdf"))
    MARK["sample.pdf"] = {f"QXPDFPAGE{i}": f"page {i}" for i in (1, 2, 3)}


if __name__ == "__main__":
    for f in (make_docx, make_pptx, make_xlsx, make_xls, make_odt_ods, make_csv, make_html,
              make_epub, make_ipynb, make_email, make_msg, make_rtf, make_pdf):
        f()
        print("ok", f.__name__)
    json.dump(MARK, open(p("markers.json"), "w"), indent=1)
    for fn in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(p(fn)):>9}  {fn}")
