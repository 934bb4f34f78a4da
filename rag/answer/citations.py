"""Check the model's `[n]` citations against the excerpts it was given.

Markers that point to no excerpt are removed. Every remaining citation gets, as its quote, the
sentence of the cited excerpt that best supports the answer sentence carrying the marker; the
quote is always a verbatim span of the indexed text. Nothing here trusts the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.retrieval.lexical import query_terms
from rag.types import Chunk

MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")  # [1], [2, 3], [4;5]
_MARKER = re.compile(r"\s?" + MARKER.pattern)  # with the space before it
MIN_SUPPORT = 0.3  # share of a sentence's content words its cited excerpt must contain
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*\n|\n(?=\s*[-*#\d])")


@dataclass(frozen=True)
class Citation:
    """Excerpt `n` cited for an answer sentence, with the span of it that supports it."""

    n: int
    source: str
    page: int | None
    heading: tuple[str, ...]
    quote: str  # == page_text[start:end]
    chunk_id: str
    start: int  # character offsets into the page (or file) text
    end: int
    inferred: bool = False  # True: the model cited nothing; Quire found the support
    location: str = ""  # "page 3", "slide 2", "sheet Budget, rows 4-9" ... (Chunk.location)


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, whitespace trimmed."""
    spans, pos = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    return _trimmed(text, spans)


def line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank line of `text`, whitespace trimmed: a sheet's rows."""
    spans, pos = [], 0
    for line in text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return _trimmed(text, spans)


def _trimmed(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`spans` without their leading and trailing whitespace; the empty ones dropped."""
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            out.append((a, b))
    return out


def overlap(claim: str, evidence: str) -> float:
    """Share of the claim's content words found in the evidence (0..1)."""
    words = query_terms(claim)
    if not words:
        return 0.0
    have = set(query_terms(evidence))
    return sum(w in have for w in words) / len(words)


def quotable(chunk: Chunk) -> list[tuple[int, int]]:
    """What can be quoted of a chunk: its sentences, or a sheet's rows (a table has no full
    stops, so a sentence would be the whole chunk)."""
    return line_spans(chunk.text) if chunk.unit == "sheet" else sentences(chunk.text)


def best_quote(claim: str, chunk: Chunk) -> tuple[int, int, float]:
    """The sentence (row) of `chunk` that best supports `claim`: (start, end), score."""
    best = (0, len(chunk.text), -1.0)
    for a, b in quotable(chunk):
        score = overlap(claim, chunk.text[a:b])
        if score > best[2]:
            best = (a, b, score)
    return best


def _citation(n: int, chunk: Chunk, claim: str, inferred: bool = False) -> Citation:
    a, b, _ = best_quote(claim, chunk)
    return Citation(
        n=n,
        source=chunk.source,
        page=chunk.page,
        heading=chunk.heading,
        quote=chunk.text[a:b],
        chunk_id=chunk.id,
        start=chunk.start + a,
        end=chunk.start + b,
        inferred=inferred,
        location=chunk.location,
    )


def marker_numbers(m: re.Match) -> list[int]:
    """The distinct excerpt numbers of a matched marker, in order."""
    return list(dict.fromkeys(int(x) for x in re.split(r"\s*[,;]\s*", m.group(1))))


def supports(claim: str, chunk: Chunk, min_support: float = MIN_SUPPORT) -> bool:
    """Whether some sentence of `chunk` has enough of the claim's words (markers ignored)."""
    return best_quote(MARKER.sub("", claim), chunk)[2] >= min_support


REPOINT_MARGIN = 0.25  # support another excerpt must beat the cited one's by, to take over


def repoint(claim: str, n: int, excerpts: Sequence[Chunk]) -> int:
    """The excerpt to cite for `claim`: `n`, unless another one supports it much better (a small
    model often copies a sentence from one excerpt and cites its neighbour)."""
    score = best_quote(claim, excerpts[n - 1])[2]
    best, best_n = score, n
    for m, chunk in enumerate(excerpts, start=1):
        other = best_quote(claim, chunk)[2]
        if other > best:
            best, best_n = other, m
    return best_n if best >= score + REPOINT_MARGIN else n


def check(answer: str, excerpts: Sequence[Chunk], min_support: float = MIN_SUPPORT):
    """(answer with only valid markers, citations in order of first use).

    Excerpts are numbered from 1. A marker is kept only if its excerpt has a sentence sharing
    at least `min_support` of the cited sentence's content words; it is moved to another excerpt
    that supports the sentence by `REPOINT_MARGIN` more. If the model cited nothing
    valid, the excerpts that best support its sentences (by the same measure) are listed,
    `inferred=True`.
    """
    valid = range(1, len(excerpts) + 1)
    cited: dict[int, str] = {}  # n -> the answer sentence that first cited it
    spans = sentences(answer)

    def keep(m: re.Match) -> str:
        claim = next((answer[a:b] for a, b in spans if a <= m.start() < b), answer)
        claim = MARKER.sub("", claim)  # the marker digits are not words of the claim
        # Kept only if the excerpt exists and really shares the sentence's words.
        good = [
            n
            for n in marker_numbers(m)
            if n in valid and supports(claim, excerpts[n - 1], min_support)
        ]
        if not good:
            return ""
        good = list(dict.fromkeys(repoint(claim, n, excerpts) for n in good))
        for n in good:
            cited.setdefault(n, claim)
        lead = m.group(0)[: len(m.group(0)) - len(m.group(0).lstrip())]
        return lead + "".join(f"[{n}]" for n in good)

    clean = _MARKER.sub(keep, answer)
    clean = re.sub(r"[ \t]+([.,;:!?])(?=\s|$)", r"\1", clean).strip()
    if cited:
        return clean, [_citation(n, excerpts[n - 1], claim) for n, claim in cited.items()]
    inferred: dict[int, Citation] = {}
    for a, b in sentences(clean):
        claim = clean[a:b]
        scored = [(best_quote(claim, c)[2], n) for n, c in enumerate(excerpts, start=1)]
        if not scored:
            break
        score, n = max(scored)
        if score >= min_support and n not in inferred:
            inferred[n] = _citation(n, excerpts[n - 1], claim, inferred=True)
    return clean, list(inferred.values())
