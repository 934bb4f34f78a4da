"""Structured text: JSON, YAML, TOML and XML are indexed as the text they are, one section per
top-level key or table (so a hit says which); RSS and Atom feeds, one page per entry."""

from __future__ import annotations

import re

from ingest.formats.text import _text, heading_sections
from ingest.limits import Limits, Options
from rag.errors import LoadError
from rag.types import Document, Section

_YAML_KEY = re.compile(r"^([A-Za-z0-9_$\"'][^:#\n]{0,200}?):(?:\s|$)")
_TOML_TABLE = re.compile(r"^\s*\[\[?\s*([^\]\n]{1,200}?)\s*\]\]?\s*(?:#.*)?$")


def load_json(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    import json

    try:
        json.loads(text)
    except ValueError as exc:
        notes += (f"not valid JSON ({exc}); indexed as text",)
    heads = [(line, 1, key) for line, key in json_top_keys(text)]
    return Document("json", (text,), heading_sections(text, heads), notes)


def load_yaml(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    heads = []
    for n, line in enumerate(text.split("\n")):
        m = _YAML_KEY.match(line)
        if m and not line.startswith(("#", "-", " ", "\t")):
            heads.append((n, 1, m.group(1).strip("\"'")))
    return Document("yaml", (text,), heading_sections(text, heads), notes)


def load_toml(data: bytes, limits: Limits, options: Options) -> Document:
    text, notes = _text(data, limits)
    import tomllib

    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        notes += (f"not valid TOML ({exc}); indexed as text",)
    heads = []
    for n, line in enumerate(text.split("\n")):
        m = _TOML_TABLE.match(line)
        if m:
            heads.append((n, 1, m.group(1)))
    return Document("toml", (text,), heading_sections(text, heads), notes)


def load_xml(data: bytes, limits: Limits, options: Options) -> Document:
    """A feed (RSS, Atom) by entry; any other XML as its text. Parsed with defusedxml: no
    entity expansion bombs, no external entities or DTDs fetched."""
    root = _parse_xml(data)
    tag = _local(root.tag) if root is not None else ""
    if tag in ("rss", "feed", "RDF"):
        return _feed(root, limits)
    text, notes = _text(data, limits)
    if root is None:
        notes += ("not well-formed XML; indexed as text",)
    return Document("xml", (text,), (Section(None, 0, len(text)),), notes)


def json_top_keys(text: str) -> list[tuple[int, str]]:
    """(0-based line, key) of each key of the top-level JSON object, by a scan that tracks
    strings and nesting (no second parse of the document)."""
    keys, depth, i, n, line = [], 0, 0, len(text), 0
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            k = j + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if depth == 1 and k < n and text[k] == ":":
                keys.append((line, text[i + 1 : j][:200]))
            line += text.count("\n", i, j)
            i = j
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        i += 1
    return keys


def _parse_xml(data: bytes):
    import defusedxml.ElementTree as ET  # noqa: N817
    from defusedxml import DefusedXmlException

    try:
        return ET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise LoadError(f"XML with entity declarations, refused ({type(exc).__name__})") from None
    except ET.ParseError:
        return None


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _feed(root, limits: Limits) -> Document:
    from ingest.formats.web import html_text

    entries = [e for e in root.iter() if _local(e.tag) in ("item", "entry")]
    if not entries:
        raise LoadError("a feed with no entries")
    limits.check_pages(len(entries))
    pages, names, sections, chars = [], [], [], 0
    for e in entries:
        fields = {}
        for child in e:
            name = _local(child.tag)
            value = child.get("href") if name == "link" and child.get("href") else child.text
            if value and name not in fields:
                fields[name] = value.strip()
        title = " ".join(fields.get("title", "").split())
        body = fields.get("description") or fields.get("summary") or fields.get("content") or ""
        when = fields.get("pubDate") or fields.get("updated") or fields.get("published") or ""
        head = "\n".join(x for x in (title, when, fields.get("link", "")) if x)
        text = f"{head}\n\n{html_text(body)}".strip() + "\n"
        chars += len(text)
        limits.check_chars(chars)
        pages.append(text)
        names.append(title[:200])
        sections.append(Section(len(pages), 0, len(text), (title,) if title else ()))
    return Document("feed", tuple(pages), tuple(sections), (), unit="item", page_names=tuple(names))
