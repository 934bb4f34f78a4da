"""E-mail: a `.eml` message, or an `.mbox` of many, one page per message with its From, To, Cc,
Date and Subject, the text body (an HTML-only body as its text) and the attachments' names."""

from __future__ import annotations

import email
import email.policy
import re

from ingest.formats.text import _normalise
from ingest.limits import Limits, Options
from rag.errors import LoadError
from rag.types import Document, Section

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_MBOX_FROM = re.compile(rb"(?:\A|\n)From [^\n]*\n")


def load_eml(data: bytes, limits: Limits, options: Options) -> Document:
    return _messages([data], limits, "eml")


def load_mbox(data: bytes, limits: Limits, options: Options) -> Document:
    starts = [m.end() for m in _MBOX_FROM.finditer(data)]
    if not starts:
        raise LoadError("not an mbox file: no 'From ' line starts a message")
    ends = [m.start() for m in _MBOX_FROM.finditer(data)][1:] + [len(data)]
    limits.check_pages(len(starts))
    return _messages([data[a:b] for a, b in zip(starts, ends)], limits, "mbox")


def _messages(raws: list[bytes], limits: Limits, kind: str) -> Document:
    pages, names, sections, chars = [], [], [], 0
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text, subject = message_text(msg)
        chars += len(text)
        limits.check_chars(chars)
        pages.append(text)
        names.append(subject)
        if text.strip():
            sections.append(Section(len(pages), 0, len(text), (subject,) if subject else ()))
    if not sections:
        raise LoadError("no message with any text")
    if not any(p.startswith(("From:", "To:", "Date:", "Subject:")) for p in pages):
        raise LoadError("not an e-mail message: no From, To, Date or Subject header")
    return Document(
        kind, tuple(pages), tuple(sections), (), unit="message", page_names=tuple(names)
    )


def message_text(msg) -> tuple[str, str]:
    """The message as text: headers, a blank line, the body, then its attachments' names."""
    lines = []
    for name in _HEADERS:
        value = _header(msg, name)
        if value:
            lines.append(f"{name}: {value}")
    body = _body(msg)
    attached = [_safe(p.get_filename() or "") for p in _attachments(msg)]
    text = "\n".join(lines) + "\n\n" + body.strip()
    if any(attached):
        text += "\n\nAttachments: " + ", ".join(a for a in attached if a)
    return _normalise(text).strip() + "\n", _header(msg, "Subject")


def _header(msg, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a malformed header must not lose the message
        value = None
    return " ".join(str(value).split()) if value else ""


def _body(msg) -> str:
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AttributeError, ValueError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        from ingest.formats.web import html_text

        return html_text(content)
    return content


def _attachments(msg) -> list:
    try:
        return list(msg.iter_attachments())
    except Exception:
        return []


def _safe(name: str) -> str:
    return " ".join(name.split())[:200]
