"""Word (.docx), OpenDocument text (.odt) and RTF: headings become heading paths, tables keep
their rows (cells joined by " | "), comments and footnotes are text too. Macros are never run:
they are not even read."""

from __future__ import annotations

import io
import re

from ingest.formats.archive import checked_zip
from ingest.formats.text import Builder
from ingest.limits import Limits, Options
from rag.errors import LoadError, brief
from rag.types import Document

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_HEADING = re.compile(r"(?:Heading|heading|Überschrift|Titre|Título|Titolo)\s*(\d)")


def load_docx(data: bytes, limits: Limits, options: Options) -> Document:
    zipped = checked_zip(data, "Word file")
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds on damaged files
        raise LoadError(f"damaged Word file ({type(exc).__name__}: {brief(exc)})") from None
    out = Builder(limits)
    for el in document.element.body.iterchildren():
        if el.tag == _W + "p":
            p = Paragraph(el, document)
            level = _level(p)
            if level:
                out.heading(level, p.text)
            else:
                out.add(p.text)
        elif el.tag == _W + "tbl":
            for row in _rows(Table(el, document)):
                out.add(row)
    comments = [
        f"{c.author or 'comment'}: {c.text}" for c in getattr(document, "comments", []) or []
    ]
    notes = _notes(zipped)
    if comments:
        out.heading(1, "Comments")
        for c in comments:
            out.add(c)
    if notes:
        out.heading(1, "Footnotes")
        for n in notes:
            out.add(n)
    return out.document("docx")


def _level(p) -> int:
    try:
        name = p.style.name if p.style is not None else ""
    except (KeyError, ValueError):
        return 0
    if name == "Title":
        return 1
    m = _HEADING.match(name or "")
    return int(m.group(1)) if m else 0


def _rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list = []
        for cell in row.cells:  # a merged cell appears once per grid column: once is enough
            if not cells or cells[-1] is not cell._tc:
                cells.append(cell._tc)
        rows.append(" | ".join(" ".join(t.text or "" for t in tc.iter(_W + "t")) for tc in cells))
    return rows


def _notes(z) -> list[str]:
    """Footnotes and endnotes (python-docx has no API for them: read their parts)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    out = []
    for part, tag in (("word/footnotes.xml", "footnote"), ("word/endnotes.xml", "endnote")):
        if part not in z.namelist():
            continue
        try:
            root = etree.fromstring(z.read(part), parser)
        except etree.XMLSyntaxError:
            continue
        for note in root.iterchildren(_W + tag):
            if note.get(_W + "type") in (
                "separator",
                "continuationSeparator",
                "continuationNotice",
            ):
                continue
            text = " ".join("".join(t.text or "" for t in note.iter(_W + "t")).split())
            if text:
                out.append(text)
    return out


def load_odt(data: bytes, limits: Limits, options: Options) -> Document:
    checked_zip(data, "OpenDocument text")
    doc = _odf(data, "OpenDocument text")
    out = Builder(limits)
    _walk_odt(doc.text, out)
    return out.document("odt")


def _odf(data: bytes, what: str):
    from odf.opendocument import load

    try:
        return load(io.BytesIO(data))
    except Exception as exc:  # odfpy raises many kinds on damaged files
        raise LoadError(f"damaged {what} ({type(exc).__name__}: {brief(exc)})") from None


def _walk_odt(node, out: Builder) -> None:
    from odf import teletype

    stack = list(reversed(node.childNodes))
    while stack:  # no recursion: a hostile file may nest lists deeply
        ch = stack.pop()
        name = getattr(ch, "qname", (None, None))[1]
        if name == "h":
            out.heading(int(ch.getAttribute("outlinelevel") or 1), teletype.extractText(ch))
        elif name == "p":
            out.add(teletype.extractText(ch))
        elif name == "table":
            for tr in _children(ch, "table-row", deep=True):
                cells = [teletype.extractText(c).strip() for c in _children(tr, "table-cell")]
                out.add(" | ".join(cells))
        elif name in ("list", "list-item", "list-header", "section", "index-body"):
            stack.extend(reversed(ch.childNodes))


def _children(node, name: str, deep: bool = False) -> list:
    out, stack = [], list(reversed(node.childNodes))
    while stack:
        ch = stack.pop()
        q = getattr(ch, "qname", (None, None))[1]
        if q == name:
            out.append(ch)
        elif deep and q in ("table-rows", "table-header-rows", "table-row-group"):
            stack.extend(reversed(ch.childNodes))
    return out


def load_rtf(data: bytes, limits: Limits, options: Options) -> Document:
    from striprtf.striprtf import rtf_to_text

    if not data.lstrip().startswith(b"{\\rtf"):
        raise LoadError("not an RTF file: it does not start with {\\rtf")
    try:
        text = rtf_to_text(data.decode("latin-1"), errors="ignore")
    except Exception as exc:
        raise LoadError(f"damaged RTF file ({type(exc).__name__}: {brief(exc)})") from None
    out = Builder(limits)
    for para in text.split("\n"):
        out.add(para)
    return out.document("rtf")
