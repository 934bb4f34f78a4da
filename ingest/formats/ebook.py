"""E-books (.epub): one page per chapter in reading order (the spine), named by the table of
contents, with heading paths inside each chapter."""

from __future__ import annotations

import posixpath

from ingest.formats.archive import checked_zip
from ingest.formats.text import _normalise, markdown_sections
from ingest.formats.web import html_text
from ingest.limits import Limits, Options
from rag.errors import LoadError
from rag.types import Document, Section

_OPF = "{http://www.idpf.org/2007/opf}"
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"


def load_epub(data: bytes, limits: Limits, options: Options) -> Document:
    """Read with the zip and lxml directly (the OPF's manifest and spine; NCX or nav titles):
    ebooklib needs a file path and reads every item up front."""
    z = checked_zip(data, "EPUB e-book")
    root = _xml(z, "META-INF/container.xml")
    rootfile = root.find(f".//{_CONTAINER}rootfile") if root is not None else None
    opf_path = rootfile.get("full-path") if rootfile is not None else None
    opf = _xml(z, opf_path) if opf_path else None
    if opf is None:
        raise LoadError("damaged EPUB e-book: no readable package (OPF) file")
    base = posixpath.dirname(opf_path)
    items = {
        i.get("id"): (posixpath.normpath(posixpath.join(base, i.get("href") or "")), i)
        for i in opf.iter(f"{_OPF}item")
    }
    spine = [items[r.get("idref")] for r in opf.iter(f"{_OPF}itemref") if r.get("idref") in items]
    chapters = [p for p, item in spine if "html" in (item.get("media-type") or "")]
    limits.check_pages(len(chapters))
    titles = _toc_titles(z, items)
    pages, names, sections, chars = [], [], [], 0
    for path in chapters:
        try:
            markup = z.read(path).decode("utf-8", "replace")
        except KeyError:
            continue  # listed in the spine but missing
        text = _normalise(html_text(markup)).strip()
        text = text + "\n" if text else ""
        chars += len(text)
        limits.check_chars(chars)
        heads = markdown_sections(text) if text else ()
        title = titles.get(path) or next((s.heading[0] for s in heads if s.heading), "")
        pages.append(text)
        names.append(title[:200])
        n = len(pages)
        sections += [Section(n, s.start, s.end, s.heading) for s in heads]
    if not sections:
        raise LoadError("no text in any chapter")
    return Document(
        "epub", tuple(pages), tuple(sections), (), unit="chapter", page_names=tuple(names),
        lines=False,
    )  # fmt: skip


def _xml(z, name: str):
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(z.read(name), parser)
    except (KeyError, etree.XMLSyntaxError, ValueError):
        return None


def _toc_titles(z, items) -> dict[str, str]:
    """Chapter file -> its title in the NCX (EPUB 2) or nav document (EPUB 3)."""
    out: dict[str, str] = {}
    for path, item in items.values():
        if item.get("media-type") == "application/x-dtbncx+xml":
            links = _ncx_links(_xml(z, path))
        elif "nav" in (item.get("properties") or "").split():
            links = _nav_links(_xml(z, path))
        else:
            continue
        for href, label in links:
            label = " ".join(label.split())
            href = href.split("#")[0]
            if href and label:  # links are relative to the table of contents' own file
                out.setdefault(
                    posixpath.normpath(posixpath.join(posixpath.dirname(path), href)), label
                )
    return out


def _ncx_links(root):
    for point in (
        root.iter("{http://www.daisy.org/z3986/2005/ncx/}navPoint") if root is not None else ()
    ):
        text, content = point.find(".//{*}text"), point.find("{*}content")
        if text is not None and content is not None:
            yield content.get("src", ""), "".join(text.itertext())


def _nav_links(root):
    for a in root.iter("{http://www.w3.org/1999/xhtml}a") if root is not None else ():
        yield a.get("href") or "", "".join(a.itertext())
