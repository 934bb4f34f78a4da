"""Presentations: one page per slide (the slide number is the page), with its title, text,
tables, chart titles and series, and speaker notes. PowerPoint .pptx and OpenDocument .odp."""

from __future__ import annotations

import io

from ingest.formats.archive import checked_zip
from ingest.formats.office.documents import _odf
from ingest.limits import Limits, Options
from rag.errors import LoadError, brief
from rag.types import Document, Section


def load_pptx(data: bytes, limits: Limits, options: Options) -> Document:
    checked_zip(data, "PowerPoint file")
    from pptx import Presentation

    try:
        deck = Presentation(io.BytesIO(data))
        slides = list(deck.slides)
    except Exception as exc:  # python-pptx raises many kinds on damaged files
        raise LoadError(f"damaged PowerPoint file ({type(exc).__name__}: {brief(exc)})") from None
    limits.check_pages(len(slides))
    texts, titles = [], []
    for slide in slides:
        title, blocks = _slide(slide)
        texts.append(blocks)
        titles.append(title)
    return _deck("pptx", texts, titles, limits)


def _slide(slide) -> tuple[str, list[str]]:
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
    blocks = []
    for shape in _shapes(slide.shapes):
        if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            blocks.append(shape.text_frame.text)
        if getattr(shape, "has_table", False) and shape.has_table:
            blocks += [" | ".join(c.text for c in row.cells) for row in shape.table.rows]
        if getattr(shape, "has_chart", False) and shape.has_chart:
            blocks.append(_chart(shape.chart))
    if slide.has_notes_slide:  # reading notes_slide on a slide without notes would make one
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            blocks.append("Notes: " + notes.text)
    return title, blocks


def _shapes(shapes):
    stack = list(reversed(list(shapes)))
    while stack:  # groups hold shapes; walked without recursion
        shape = stack.pop()
        if hasattr(shape, "shapes") and getattr(shape, "shape_type", None) == 6:  # GROUP
            stack.extend(reversed(list(shape.shapes)))
        else:
            yield shape


def _chart(chart) -> str:
    parts = []
    try:
        if chart.has_title and chart.chart_title.has_text_frame:
            parts.append("Chart: " + chart.chart_title.text_frame.text)
        parts.append("categories: " + ", ".join(str(c) for c in chart.plots[0].categories))
    except Exception:  # a chart with no plots or an odd title
        pass
    try:
        parts += ["series: " + s.name for s in chart.series if s.name]
    except Exception:
        pass
    return "\n".join(parts)


def load_odp(data: bytes, limits: Limits, options: Options) -> Document:
    checked_zip(data, "OpenDocument presentation")
    from odf import draw, teletype

    doc = _odf(data, "OpenDocument presentation")
    pages = doc.presentation.getElementsByType(draw.Page)
    limits.check_pages(len(pages))
    texts, titles = [], []
    for page in pages:
        blocks = [teletype.extractText(p) for p in _paragraphs(page)]
        texts.append(blocks)
        titles.append(next((" ".join(b.split()) for b in blocks if b.strip()), ""))
    return _deck("odp", texts, titles, limits)


def _paragraphs(node) -> list:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        for ch in reversed(n.childNodes):
            if getattr(ch, "qname", (None, None))[1] in ("p", "h"):
                out.append(ch)
            elif hasattr(ch, "childNodes"):
                stack.append(ch)
    return out


def _deck(kind: str, texts: list[list[str]], titles: list[str], limits: Limits) -> Document:
    pages, sections, chars = [], [], 0
    for blocks, title in zip(texts, titles):
        body = "\n\n".join(b.strip() for b in blocks if b and b.strip())
        body = body + "\n" if body else ""
        chars += len(body)
        limits.check_chars(chars)
        pages.append(body)
        if body.strip():
            sections.append(Section(len(pages), 0, len(body), (title[:200],) if title else ()))
    if not sections:
        raise LoadError("no text on any slide")
    names = tuple(t[:200] for t in titles)
    return Document(kind, tuple(pages), tuple(sections), (), unit="slide", page_names=names)
