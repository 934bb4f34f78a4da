"""Guards on a streaming answer: unsupported markers, loops and prompt echoes never shown."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.citations import MARKER, marker_numbers, repoint, sentences, supports
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
