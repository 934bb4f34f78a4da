"""'Plain libraries' adapter: one small extractor per format, each unit carries provenance
(heading path / slide / sheet+row / chapter / cell / message) and char offsets into the
concatenated text."""
import csv, email, io, json, mailbox, os, re, zipfile
from email import policy
import warnings
warnings.filterwarnings("ignore", message=".*XML.*")
from harness import main


class Doc:
    def __init__(self):
        self.units, self.parts, self.pos = [], [], 0

    def add(self, text, **meta):
        text = (text or "").strip()
        if not text:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.pos += 2
        start = self.pos
        self.parts.append(text)
        self.pos += len(text)
        self.units.append({"text": text, "start": start, "end": self.pos, **meta})

    def result(self):
        return "".join(self.parts), self.units


def heading_push(path, level, title):
    del path[level - 1:]
    while len(path) < level - 1:
        path.append("")
    path.append(title)


# ------------------------------------------------------------------ DOCX
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = "{%s}" % W_NS


def docx_convert(path):
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    d = Doc()
    document = docx.Document(path)
    hpath, comment_where = [], {}
    for s_i, sec in enumerate(document.sections):
        for kind, hf in (("header", sec.header), ("footer", sec.footer)):
            if not hf.is_linked_to_previous or s_i == 0:
                d.add("\n".join(p.text for p in hf.paragraphs), kind=kind, section=s_i)
    t_i = 0
    for el in document.element.body.iterchildren():
        if el.tag == W + "p":
            p = Paragraph(el, document)
            for cs in el.iter(W + "commentRangeStart"):
                comment_where[cs.get(W + "id")] = list(hpath)
            style = p.style.name if p.style is not None else ""
            m = re.match(r"Heading (\d)", style)
            if m or style == "Title":
                lvl = int(m.group(1)) if m else 1
                heading_push(hpath, lvl, p.text.strip())
                d.add(p.text, kind="heading", level=lvl, heading_path=list(hpath))
            else:
                d.add(p.text, kind="list" if "List" in style else "paragraph", style=style,
                      heading_path=list(hpath))
        elif el.tag == W + "tbl":
            t_i += 1
            tbl = Table(el, document)
            for r_i, row in enumerate(tbl.rows, 1):
                cells = []
                for c in row.cells:          # merged cells repeat: dedupe consecutive
                    if not cells or cells[-1] is not c._tc:
                        cells.append(c._tc)
                d.add(" | ".join(" ".join(t.text for t in tc.iter(W + "t")) for tc in cells),
                      kind="table_row", table=t_i, row=r_i, heading_path=list(hpath))
    # comments (python-docx >= 1.2)
    for c in getattr(document, "comments", []) or []:
        d.add(c.text, kind="comment", author=c.author, comment_id=c.comment_id,
              heading_path=comment_where.get(str(c.comment_id)))
    # footnotes / endnotes: not exposed by python-docx; read the part XML
    from lxml import etree
    with zipfile.ZipFile(path) as z:
        for part, kind in (("word/footnotes.xml", "footnote"), ("word/endnotes.xml", "endnote")):
            if part in z.namelist():
                root = etree.fromstring(z.read(part))
                for fn in root.iterchildren(W + kind):
                    if fn.get(W + "type") in ("separator", "continuationSeparator", "continuationNotice"):
                        continue
                    d.add("".join(t.text or "" for t in fn.iter(W + "t")), kind=kind, note_id=fn.get(W + "id"))
    return d.result()


# ------------------------------------------------------------------ PPTX
def pptx_convert(path):
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE
    d = Doc()
    prs = Presentation(path)

    def walk(shapes):
        for sh in shapes:
            if sh.shape_type == MSO_SHAPE_TYPE.GROUP:
                yield from walk(sh.shapes)
            else:
                yield sh

    for n, slide in enumerate(prs.slides, 1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text if title_shape is not None else None
        for sh in walk(slide.shapes):
            if sh.has_text_frame:
                kind = "title" if title_shape is not None and sh.shape_id == title_shape.shape_id else "text"
                d.add(sh.text_frame.text, kind=kind, slide=n, slide_title=title)
            if getattr(sh, "has_table", False) and sh.has_table:
                for r_i, row in enumerate(sh.table.rows, 1):
                    d.add(" | ".join(c.text for c in row.cells), kind="table_row", row=r_i, slide=n, slide_title=title)
            if getattr(sh, "has_chart", False) and sh.has_chart:
                ch = sh.chart
                parts = []
                if ch.has_title and ch.chart_title.has_text_frame:
                    parts.append(ch.chart_title.text_frame.text)
                try:
                    parts.append("categories: " + ", ".join(str(c) for c in ch.plots[0].categories))
                except Exception:
                    pass
                parts += ["series: " + s.name for s in ch.series]
                d.add("\n".join(parts), kind="chart", slide=n, slide_title=title)
        if slide.has_notes_slide:
            d.add(slide.notes_slide.notes_text_frame.text, kind="notes", slide=n, slide_title=title)
    return d.result()


# ------------------------------------------------------------------ spreadsheets
def fmt(v):
    if v is None:
        return ""
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def xlsx_convert(path):
    import openpyxl
    d = Doc()
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for ws in wb.worksheets:
            ws.reset_dimensions()   # ignore declared <dimension>; avoids padding to XFD1048576
            header = None
            for row in ws.iter_rows():
                cells = [c for c in row if getattr(c, "value", None) is not None]
                if not cells:
                    continue
                r = cells[0].row
                vals = [fmt(c.value) for c in cells]
                if header is None:
                    header = vals
                d.add(" | ".join(vals), kind="row", sheet=ws.title, row=r,
                      cols=[c.column_letter for c in cells])
    finally:
        wb.close()
    return d.result()


def xls_convert(path):
    import xlrd
    d = Doc()
    book = xlrd.open_workbook(path)
    for sh in book.sheets():
        for r in range(sh.nrows):
            vals = []
            for c in range(sh.ncols):
                cell = sh.cell(r, c)
                if cell.ctype == xlrd.XL_CELL_DATE:
                    vals.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode).date().isoformat())
                elif cell.ctype != xlrd.XL_CELL_EMPTY:
                    vals.append(fmt(cell.value))
            d.add(" | ".join(vals), kind="row", sheet=sh.name, row=r + 1)
    return d.result()


def ods_convert(path):
    from odf.opendocument import load
    from odf import table, teletype
    d = Doc()
    doc = load(path)
    for tb in doc.spreadsheet.getElementsByType(table.Table):
        name = tb.getAttribute("name")
        r = 0
        for tr in tb.getElementsByType(table.TableRow):
            rep = int(tr.getAttribute("numberrowsrepeated") or 1)
            vals = []
            for tc in tr.childNodes:
                if tc.qname[1] not in ("table-cell", "covered-table-cell"):
                    continue
                crep = int(tc.getAttribute("numbercolumnsrepeated") or 1)
                t = teletype.extractText(tc).strip()
                if t:
                    vals.extend([t] * min(crep, 100))
            for k in range(rep if vals else 0):
                d.add(" | ".join(vals), kind="row", sheet=name, row=r + 1 + k)
            r += rep
    return d.result()


def csv_convert(path):
    d = Doc()
    raw = open(path, newline="", encoding="utf-8-sig").read()
    try:
        dialect = csv.Sniffer().sniff(raw[:4096])
    except csv.Error:
        dialect = csv.excel
    rd = csv.reader(io.StringIO(raw), dialect)
    for rec, row in enumerate(rd, 1):
        d.add(" | ".join(row), kind="row", row=rec, line=rd.line_num)
    return d.result()


# ------------------------------------------------------------------ ODT
def odt_convert(path):
    from odf.opendocument import load
    from odf import teletype
    d = Doc()
    doc = load(path)
    hpath = []
    state = {"table": 0}

    def walk(node):
        for ch in node.childNodes:
            q = getattr(ch, "qname", (None, None))[1]
            if q == "h":
                lvl = int(ch.getAttribute("outlinelevel") or 1)
                t = teletype.extractText(ch)
                heading_push(hpath, lvl, t.strip())
                d.add(t, kind="heading", level=lvl, heading_path=list(hpath))
            elif q == "p":
                d.add(teletype.extractText(ch), kind="paragraph", heading_path=list(hpath))
            elif q == "table":
                state["table"] += 1
                for r_i, tr in enumerate(ch.getElementsByType(__import__("odf.table").table.TableRow), 1):
                    cells = [teletype.extractText(c).strip() for c in tr.childNodes
                             if getattr(c, "qname", (0, 0))[1] == "table-cell"]
                    d.add(" | ".join(cells), kind="table_row", table=state["table"], row=r_i,
                          heading_path=list(hpath))
            elif q in ("list", "list-item", "section", "sequence-decls") or q is None:
                walk(ch)

    walk(doc.text)
    return d.result()


# ------------------------------------------------------------------ HTML
def split_markdown(d, md, **meta):
    hpath = []
    for block in re.split(r"\n{2,}", md):
        m = re.match(r"^(#{1,6})\s+(.*)", block.strip())
        if m:
            lvl = len(m.group(1))
            heading_push(hpath, lvl, m.group(2).strip())
            d.add(block, kind="heading", level=lvl, heading_path=list(hpath), **meta)
        else:
            d.add(block, kind="table" if block.lstrip().startswith("|") else "paragraph",
                  heading_path=list(hpath), **meta)


def html_convert(path):
    import trafilatura
    html = open(path, encoding="utf-8", errors="replace").read()
    md = trafilatura.extract(html, output_format="markdown", include_tables=True,
                             include_formatting=True, include_links=False, favor_precision=False) or ""
    d = Doc()
    split_markdown(d, md)
    return d.result()


# ------------------------------------------------------------------ EPUB
def epub_convert(path):
    import ebooklib
    from ebooklib import epub
    from bs4 import BeautifulSoup
    d = Doc()
    book = epub.read_epub(path, options={"ignore_ncx": True})
    toc_titles = {}

    def walk_toc(items):
        for it in items:
            if isinstance(it, tuple):
                sec, children = it
                toc_titles[sec.href.split("#")[0]] = sec.title
                walk_toc(children)
            else:
                toc_titles[it.href.split("#")[0]] = it.title
    walk_toc(book.toc)
    chap = 0
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue
        chap += 1
        soup = BeautifulSoup(item.get_content(), "lxml")
        hpath = []
        title = toc_titles.get(item.get_name())
        for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "pre", "blockquote"]):
            if el.find_parent(["p", "li", "tr", "blockquote"]):
                continue
            t = el.get_text(" ", strip=True)
            if el.name[0] == "h" and el.name[1:].isdigit():
                lvl = int(el.name[1])
                heading_push(hpath, lvl, t)
                d.add(t, kind="heading", level=lvl, chapter=chap, chapter_title=title, href=item.get_name(),
                      heading_path=list(hpath))
            else:
                d.add(t, kind=el.name, chapter=chap, chapter_title=title, href=item.get_name(),
                      heading_path=list(hpath))
    return d.result()


# ------------------------------------------------------------------ IPYNB
def ipynb_convert(path):
    d = Doc()
    nb = json.load(open(path, encoding="utf-8"))
    for i, cell in enumerate(nb.get("cells", []), 1):
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        d.add(src, kind=cell["cell_type"], cell=i, cell_id=cell.get("id"))
        for o in cell.get("outputs", []):
            t = o.get("text") or o.get("data", {}).get("text/plain") or ""
            t = "".join(t) if isinstance(t, list) else t
            d.add(t, kind="output", cell=i, cell_id=cell.get("id"), output_type=o.get("output_type"))
    return d.result()


# ------------------------------------------------------------------ e-mail
def email_units(d, msg, **meta):
    hdr = {k: str(msg.get(k, "")) for k in ("From", "To", "Date", "Subject", "Message-ID")}
    d.add(f"Subject: {hdr['Subject']}\nFrom: {hdr['From']}\nTo: {hdr['To']}\nDate: {hdr['Date']}",
          kind="headers", message_id=hdr["Message-ID"], **meta)
    body = msg.get_body(preferencelist=("plain", "html"))
    if body is not None:
        txt = body.get_content()
        if body.get_content_subtype() == "html":
            from bs4 import BeautifulSoup
            txt = BeautifulSoup(txt, "lxml").get_text(" ", strip=True)
        d.add(txt, kind="body", message_id=hdr["Message-ID"], **meta)
    for att in msg.iter_attachments():
        if att.get_content_maintype() == "text":
            d.add(att.get_content(), kind="attachment", filename=att.get_filename(),
                  message_id=hdr["Message-ID"], **meta)


def eml_convert(path):
    d = Doc()
    msg = email.message_from_binary_file(open(path, "rb"), policy=policy.default)
    email_units(d, msg)
    return d.result()


def mbox_convert(path):
    d = Doc()
    mb = mailbox.mbox(path, factory=lambda f: email.message_from_binary_file(f, policy=policy.default),
                      create=False)
    for i, msg in enumerate(mb, 1):
        email_units(d, msg, message_index=i)
    mb.close()
    return d.result()


def msg_convert(path):
    import extract_msg
    d = Doc()
    m = extract_msg.openMsg(path)
    try:
        d.add(f"Subject: {m.subject}\nFrom: {m.sender}\nTo: {m.to}\nDate: {m.date}", kind="headers")
        d.add(m.body, kind="body")
        for a in m.attachments:
            data = a.data if isinstance(a.data, bytes) else None
            if data is not None and (a.longFilename or "").endswith((".txt", ".csv", ".md")):
                d.add(data.decode("utf-8", "replace"), kind="attachment", filename=a.longFilename)
    finally:
        m.close()
    return d.result()


# ------------------------------------------------------------------ RTF
def rtf_convert(path):
    from striprtf.striprtf import rtf_to_text
    d = Doc()
    txt = rtf_to_text(open(path, encoding="latin-1").read(), errors="ignore")
    for para in re.split(r"\n", txt):
        d.add(para, kind="paragraph")
    return d.result()


DISPATCH = {".docx": docx_convert, ".pptx": pptx_convert, ".xlsx": xlsx_convert, ".xls": xls_convert,
            ".ods": ods_convert, ".csv": csv_convert, ".odt": odt_convert, ".html": html_convert,
            ".epub": epub_convert, ".ipynb": ipynb_convert, ".eml": eml_convert, ".mbox": mbox_convert,
            ".msg": msg_convert, ".rtf": rtf_convert}


def convert(path):
    ext = os.path.splitext(path)[1].lower()
    if ext not in DISPATCH:
        raise NotImplementedError(f"plain set has no extractor for {ext}")
    return DISPATCH[ext](path)


if __name__ == "__main__":
    main("plain", convert)
