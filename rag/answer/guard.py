"""Guards on a streaming answer: unsupported markers, loops and prompt echoes never shown."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.citations import MARKER, marker_numbers, repoint, sentences, supports
from rag.types import Chunk

_PARTIAL = re.compile(r"\[[\d,;\s]{0,15}")


class MarkerFilter:
    """Drops `[n]` markers while text streams, so an invented marker never reaches the user,
    even for a moment: a marker must name an excerpt and, when the excerpts are given, that
    excerpt must support the sentence so far (the test `citations.check` applies at the end)."""

    def __init__(self, n_excerpts: int, excerpts: Sequence[Chunk] | None = None) -> None:
        self.n = n_excerpts
        self.excerpts = excerpts
        self.buf = ""
        self.said = ""  # what has been let through: the sentence a marker belongs to

    def _shown(self, n: int) -> int | None:
        """The number to show for marker `n` (moved as `citations.check` moves it), or None."""
        if not 1 <= n <= self.n:
            return None
        if self.excerpts is None:
            return n
        spans = sentences(self.said)
        claim = self.said[spans[-1][0] :] if spans else ""
        if not supports(claim, self.excerpts[n - 1]):
            return None
        return repoint(claim, n, self.excerpts)

    def feed(self, text: str) -> str:
        self.buf += text
        out: list[str] = []

        def say(piece: str) -> None:
            out.append(piece)
            self.said += piece

        while self.buf:
            i = self.buf.find("[")
            if i == -1:
                say(self.buf)
                self.buf = ""
                break
            head = self.buf[:i]
            text_part = head.rstrip(" ")
            space = head[len(text_part) :]  # goes out only with a kept marker
            say(text_part)
            rest = self.buf[i:]
            m = MARKER.match(rest)
            if m:
                shown = (self._shown(n) for n in marker_numbers(m))
                kept = "".join(f"[{n}]" for n in dict.fromkeys(shown) if n is not None)
                say(space + kept if kept else "")
                self.buf = rest[m.end() :]
            elif _PARTIAL.fullmatch(rest):
                self.buf = space + rest  # could still become a marker: wait for more text
                break
            else:
                say(space + "[")
                self.buf = rest[1:]
        return "".join(out)

    def flush(self) -> str:
        rest, self.buf = self.buf, ""
        return "" if _PARTIAL.fullmatch(rest.lstrip(" ")) else rest


_ECHO = re.compile(
    r"\n\s*(Excerpt\s*\d*:|Excerpt \d|<excerpt|Question:|Excerpts:|System:|User:|Assistant:"
    r"|The question is:)",
    re.IGNORECASE,
)


def degenerate_at(text: str, final: bool = False) -> int | None:
    """Where a generated answer stops being an answer: the start of a sentence that repeats
    an earlier one, or of an echo of the prompt's own layout; None if nowhere. Unless
    `final`, the last sentence is taken to be still growing."""
    m = _ECHO.search(text)
    limit = m.start() if m else None
    seen = set()
    spans = sentences(text)
    for a, b in spans if final else spans[:-1]:
        if limit is not None and a >= limit:
            break
        key = " ".join(text[a:b].lower().split())
        if key in seen:
            return a
        seen.add(key)
    return limit


_ECHO_STARTS = ("excerpt", "<excerpt", "question:", "system:", "user:", "assistant:")
LEAD_LABEL = re.compile(r"\s*(?:excerpt\s*\d*|answer)\s*:\s+", re.IGNORECASE)


def safe_length(text: str) -> int:
    """How much of a growing answer can be shown now: all but a sentence in progress that
    so far matches an earlier one, and a new line that may be the start of a prompt echo."""
    spans = sentences(text)
    safe = len(text)
    if len(spans) > 1:
        a = spans[-1][0]
        growing = " ".join(text[a:].lower().split())
        earlier = [" ".join(text[x:y].lower().split()) for x, y in spans[:-1]]
        if growing and any(e.startswith(growing) for e in earlier):
            safe = a
    nl = text.rfind("\n")
    line = text[nl + 1 :].lstrip().lower()
    if line and any(p.startswith(line) or line.startswith(p) for p in _ECHO_STARTS):
        safe = min(safe, max(nl, 0))
    return safe


# --- prompt markup ----------------------------------------------------------------------------

_TAG_NAMES = (
    r"excerpts?|question|answer|system|user|assistant|context|documents?|sources?|quote"
    r"|start_of_turn|end_of_turn|im_start|im_end|s|inst|sys"
)
_MARKUP = re.compile(
    r"</?(?:" + _TAG_NAMES + r")\b[^<>\n]{0,300}>"  # <excerpt n="1" ...>, </excerpt>
    r"(?:[ \t]*(?:system|user|assistant|model)\b)?"  # <start_of_turn>model
    r"|<\|[^|<>\n]{0,40}\|>(?:[ \t]*(?:system|user|assistant|model)\b)?"  # <|im_start|>user
    r"|\[/?(?:INST|SYS)\]|<<\s*/?SYS\s*>>"  # [INST], <<SYS>>
    r"|\b(?:n|source|page|section)\s*=\s*[\"'][^\"'\n]{0,300}[\"']",  # n="1" source="x.pdf"
    re.IGNORECASE,
)
_ROLE_LABEL = re.compile(
    r"(?im)^[ \t>*_#]*(?:system|user|assistant|question|answer|excerpts?(?:[ \t]*\d+)?|context"
    r"|sources?|standalone question)[ \t]*\**[ \t]*:[ \t]*"
)
_FILE_NAME = re.compile(
    r"(?<![\w./-])[\w][\w.\-]{0,100}?\.(?:pdf|md|markdown|txt|text|py|ipynb|docx?|odt|rtf|pptx?"
    r"|odp|xlsx?|ods|csv|tsv|html?|xhtml|epub|eml|mbox|msg|json|ya?ml|toml|xml|rst|org|adoc"
    r"|png|jpe?g|tiff?|webp|bmp|js|ts|go|rs|java|c|cpp|h|cs|rb|php|sh|sql)\b",
    re.IGNORECASE,
)
_LOOSE_TAG = re.compile(r"<[^<>\n]{0,300}$")  # an opening "<" whose tag has not closed yet
_LOOSE_ATTR = re.compile(r"=\s*[\"'][^\"'\n]{0,300}$")


def strip_markup(text: str, excerpts: Sequence[Chunk]) -> str:
    """`text` without the prompt's own markup: excerpt tags and their attributes, chat-template
    tokens, role labels at the start of a line, and any file name that is neither one of the
    excerpts' sources nor written in one of them (a model may invent or echo one)."""
    out = _MARKUP.sub("", text)
    out = _ROLE_LABEL.sub("", out)
    names = {c.source.rsplit("/", 1)[-1].lower() for c in excerpts}
    bodies = " ".join(c.text.lower() for c in excerpts)

    def name(m: re.Match) -> str:
        found = m.group(0).lower()
        return m.group(0) if found in names or found in bodies else ""

    out = _FILE_NAME.sub(name, out)
    out = re.sub(r"[ \t]{2,}", " ", out)
    out = re.sub(r"[ \t]+([.,;:!?])(?=\s|$)", r"\1", out)
    out = re.sub(r"^[ \t]+", "", out, flags=re.M)
    return out


class Sanitizer:
    """Strips prompt markup from a growing answer. `feed` takes the whole text so far and
    returns what is new to show; an unfinished tag, attribute or word is held back until it
    is complete, so markup is never shown even in part."""

    def __init__(self, excerpts: Sequence[Chunk]) -> None:
        self.excerpts = excerpts
        self.released = ""  # what has been shown
        self.text = ""  # the cleaned text so far (the final answer once `final` was fed)

    def feed(self, text: str, final: bool = False) -> str:
        upto = len(text)
        if not final:
            last_space = max(text.rfind(" "), text.rfind("\n"))
            upto = last_space + 1  # the last word may be a file name in the making
            moved = True
            while moved and upto > 0:  # nor may the cut fall inside a tag or an attribute
                moved = False
                for pattern in (_LOOSE_TAG, _LOOSE_ATTR):
                    m = pattern.search(text, 0, upto)
                    if m and m.start() < upto:
                        upto, moved = m.start(), True
        cleaned = strip_markup(text[:upto], self.excerpts)
        if final:
            cleaned = cleaned.strip()
        self.text = cleaned
        if not cleaned.startswith(self.released):
            return ""  # a removal reached back into shown text: wait for it to settle
        new = cleaned[len(self.released) :]
        if not final:
            new = new[: len(new) - (len(new) - len(new.rstrip()))]  # trailing space waits
        self.released += new
        return new
