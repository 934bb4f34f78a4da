"""Web pages and HTML: the text a reader sees, headings kept as Markdown headings."""

from __future__ import annotations

import html.parser

_SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas"}
_BLOCK = {
    "p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "br", "hr",
    "blockquote", "pre", "figure", "figcaption", "dl", "dt", "dd", "header", "footer", "nav",
    "aside", "form", "address", "details", "summary",
}  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.heading = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skip += 1
        elif tag in _HEADINGS and not self.skip:
            self.out.append("\n\n" + "#" * _HEADINGS[tag] + " ")
            self.heading = _HEADINGS[tag]
        elif tag in ("td", "th"):
            self.out.append(" | ")
        elif tag in _BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _HEADINGS:
            self.out.append("\n\n")
            self.heading = 0
        elif tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(" ".join(data.split()) if self.heading else data)


def html_text(markup: str) -> str:
    """Plain text of an HTML fragment or page (scripts and styles dropped, blocks on their own
    lines, headings as `#` lines), for e-mail bodies and feed entries."""
    parser = _Text()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):  # html.parser on broken markup
        pass
    lines = [" ".join(line.split()) for line in "".join(parser.out).split("\n")]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def load_html(data: bytes, limits, options):
    """A saved web page or exported note: its main content (trafilatura drops navigation,
    cookie banners, sidebars and footers), headings kept as Markdown headings, tables as rows.
    A page trafilatura finds no main content in is read whole."""
    from ingest.formats.text import _normalise, decode_text, markdown_sections
    from rag.errors import LoadError
    from rag.types import Document

    markup, notes = decode_text(data)
    text = _main_content(markup) or html_text(markup)
    text = _normalise(text).strip() + "\n"
    limits.check_chars(len(text))
    if not text.strip():
        raise LoadError("no text on this page")
    return Document("html", (text,), markdown_sections(text), notes, lines=False)


def _main_content(markup: str) -> str:
    import logging

    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    try:
        out = trafilatura.extract(
            markup,
            output_format="markdown",
            include_tables=True,
            include_comments=False,
            include_links=False,
            include_images=False,
            favor_recall=True,
            deduplicate=False,
        )
    except Exception:  # trafilatura on a strange page: read it whole instead
        return ""
    return out or ""
