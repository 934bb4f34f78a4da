"""What the app shows of a source: a quote marked inside its excerpt, a passage in its context,
a PDF page as an image; and `md`, the one way the app shows any other text it did not write.
Plain functions returning strings and bytes; no Streamlit here."""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass

from rag.errors import QuireError

CONTEXT_CHARS = 1500

# Streamlit renders Markdown in two stages. The parser gives a meaning to ASCII punctuation; a
# backslash before each character makes it a plain one. Then plugins rewrite the parsed text,
# the backslashes already gone: a bare URL, "www." or an e-mail address becomes a link, ":name:"
# an emoji, an icon or a logo, "->", "--" or ">=" an arrow, a dash or a sign. An invisible word
# joiner (U+2060) after ":" and "@", inside "www." and between the two characters of an arrow
# breaks those patterns and changes nothing the reader sees.
_PUNCTUATION = str.maketrans({ch: "\\" + ch for ch in string.punctuation})
_JOINER = "\u2060"
_REWRITTEN = re.compile(
    r"(?<=\\[:@])(?=\S)"  # http://, :smile:, :material/icon:, the logo's code, a@b.org
    r"|(?<=www)(?<![a-z0-9]www)(?=\\\.)"  # www.example.org
    r"|(?<=\\[-<>~])(?=\\[-=>])",  # -> <- <-> -- >= <= ~=
    re.IGNORECASE,
)


def md(text: str) -> str:
    """`text` as Markdown that Streamlit shows exactly as written: no image, link, HTML, math,
    heading, list, table, icon, emoji or colour. For st.markdown, captions, alerts, progress and
    widget labels alike (a label renders images too); not for selectbox options or tables,
    which show plain text."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # A line's leading spaces could start a code block; the page drops them anyway.
    escaped = "  \n".join(line.lstrip(" \t").translate(_PUNCTUATION) for line in lines)
    return _REWRITTEN.sub(_JOINER, escaped)


# Characters Markdown (or its math) gives a meaning to, as HTML entities: inert either way.
# Every character HTML or Markdown (or its math) gives a meaning to, as an entity, in one pass
# (escaping twice would turn the "#" of "&#x27;" into an entity and show "&#x27;" on the page).
_ENTITIES = {ord(ch): f"&#{ord(ch)};" for ch in "[]()!$*_`#~|\\{}:"} | {
    ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;", ord("'"): "&#x27;"
}  # fmt: skip


def _escape(text: str) -> str:
    return text.translate(_ENTITIES)


def marked(text: str, start: int, end: int) -> str:
    """HTML of `text` with `text[start:end]` in a <mark>; everything escaped, for HTML and for
    Markdown alike."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    if end <= start:
        return _block(_escape(text))
    return _block(
        _escape(text[:start])
        + "<mark>"
        + _escape(text[start:end])
        + "</mark>"
        + _escape(text[end:])
    )


def locate(text: str, quote: str, offset: int | None) -> int | None:
    """Where `quote` is in `text`: at `offset` if it is there, else where it first occurs."""
    if offset is not None and text[offset : offset + len(quote)] == quote:
        return offset
    at = text.find(quote)
    return at if at >= 0 else None


def marked_quote(excerpt: str, quote: str, offset: int | None = None) -> str:
    """HTML of `excerpt` with `quote` marked (see `locate`); unmarked if it is not there."""
    at = locate(excerpt, quote, offset)
    return marked(excerpt, 0, 0) if at is None else marked(excerpt, at, at + len(quote))


def _block(body: str) -> str:
    # One line of HTML: Markdown ends an HTML block at a blank line and would render the rest
    # (a document's ![image](http://...) would make the browser fetch it). "&#10;" is a newline
    # to the browser, which white-space: pre-wrap keeps.
    body = body.replace("\r", "").replace("\n", "&#10;")
    return f'<div style="white-space: pre-wrap; line-height: 1.5">{body}</div>'


@dataclass(frozen=True)
class Passage:
    """A stretch of a source's text around a quote, and where the quote is in it."""

    text: str
    start: int
    end: int
    clipped_before: bool
    clipped_after: bool


def passage(page_text: str, start: int, end: int, quote: str, around: int = CONTEXT_CHARS):
    """The text around `page_text[start:end]`; if the offsets do not hold `quote` (the file
    changed since it was indexed), the quote is looked for instead."""
    at = locate(page_text, quote, start if page_text[start:end] == quote else None)
    if at is None:
        raise QuireError("the quote is no longer in this file: it changed since indexing")
    start, end = at, at + len(quote)
    a, b = max(0, start - around), min(len(page_text), end + around)
    return Passage(page_text[a:b], start - a, end - a, a > 0, b < len(page_text))


def source_text(
    path: str, page: int | None, sandbox, limit: int, follow_links: bool = False
) -> str:
    """The text Quire indexed for `path` (one page of a PDF), read again from the file as at
    ingest (`ingest.files.open_document`: a regular file, never past `limit` bytes, no link
    followed unless it was then) and parsed in `sandbox` (an `ingest.sandbox.Sandbox`)."""
    from ingest.files import open_document

    try:
        with open_document(path, limit, follow_links) as f:
            doc = sandbox.load(path, f.read())
    except OSError as exc:
        raise QuireError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not 1 <= (page or 1) <= len(doc.pages):
        raise QuireError(f"{os.path.basename(path)} has no page {page}")
    return doc.page_text(page)


def page_png(path: str, page: int, sandbox, span=None, boxes=None, width: int = 900) -> bytes:
    """Page `page` (1-based) of a PDF or image as a PNG about `width` pixels wide, the quote
    at `span` of its text (or the word `boxes` of an OCR'd page) highlighted; rendered in
    `sandbox` within a pixel budget (`ingest.pages.render`)."""
    return sandbox.render(path, page, width, span, boxes)


def where(item: dict) -> str:
    """A citation's or passage's place, as Markdown: **file** · page or lines · heading."""
    parts = [f"**{md(os.path.basename(item['source']))}**"]
    if item.get("location"):
        parts.append(md(item["location"]))
    elif item.get("page"):  # saved before locations were kept
        parts.append(f"page {item['page']}")
    if item.get("heading"):
        parts.append(md(" › ".join(item["heading"])))
    return " · ".join(parts)


def drawable(source: str, page: int | None) -> bool:
    """Whether the cited place can be shown as a picture: a PDF page, or an image."""
    from ingest.load import kind_for

    kind = kind_for(source)
    return kind == "image" or (kind == "pdf" and bool(page))


def open_label(c: dict) -> str:
    """What a citation's toggle opens: "page N" of a PDF, "image", or "in context"."""
    from ingest.load import kind_for

    if c.get("page") and kind_for(c["source"]) == "pdf":
        return f"page {c['page']}"
    return "image" if drawable(c["source"], 0) else "in context"


def library_rows(docs, jobs) -> list[dict]:
    """The Library table: one row per document, its status the latest job's where one ran."""
    from datetime import datetime

    last = {r.path: r for j in jobs for r in j.results}
    return [
        {
            "document": os.path.basename(d.path),
            "folder": os.path.dirname(d.path),
            "type": d.kind,
            "status": last[d.path].status if d.path in last else d.status,
            "pages": d.pages,
            "chunks": d.chunks,
            "reason": d.error,
            "indexed": datetime.fromtimestamp(d.indexed_at).strftime("%Y-%m-%d %H:%M"),
        }
        for d in docs
    ]


JOB_VERBS = {"ingest": "Indexing", "sync": "Syncing", "remove": "Removing"}


def job_title(job) -> str:
    """ "Indexing a.md, b.pdf" (Markdown, escaped)."""
    what = JOB_VERBS.get(job.kind, "Re-indexing")
    names = ", ".join(os.path.basename(t) or t for t in job.targets) or "everything"
    return f"{what} {md(names)}"


def result_line(r) -> tuple[bool, str]:
    """(failed, Markdown line) for one file's result in a job."""
    name = md(os.path.basename(r.path))
    if r.status == "failed":
        return True, f"{name}: failed: {md(r.reason)}"
    extra = f" · {r.chunks} chunk{'s' if r.chunks != 1 else ''}" if r.chunks else ""
    return False, f"{name}: {md(r.status)}{extra}"
