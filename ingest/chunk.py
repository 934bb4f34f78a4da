"""Split sections into token-sized chunks that keep exact character offsets.

Chunks are measured in tiktoken cl100k tokens, cut at the best nearby break (blank line,
line end, sentence end, space) and overlap their neighbours. A chunk that would still be
longer than the embedding model accepts, counted with the model's own tokenizer, is split
again: nothing is silently truncated by the embedder.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from ingest.formats.text import line_offsets
from rag.tokens import token_offsets
from rag.types import Chunk, Document

# Break classes, best first: what the text just before a cut ends with.
_SENTENCE_END = ".!?;:)]\"'"

_MAX_CONTEXT = 200  # characters of heading path put before a chunk for the embedder

TokenCounter = Callable[[Sequence[str]], list[int]]


def chunk_document(
    doc: Document,
    source: str,
    size: int,
    overlap: int,
    count_model_tokens: TokenCounter,
    max_model_tokens: int,
) -> list[Chunk]:
    """All chunks of `doc`, in reading order, each within the model's token limit."""
    spans: list[tuple[int | None, tuple[str, ...], int, int]] = []
    for sec in doc.sections:
        text = doc.page_text(sec.page)
        for start, end in split_span(text, sec.start, sec.end, size, overlap):
            spans.append((sec.page, sec.heading, start, end))
    spans = _fit_model(doc, spans, size, overlap, count_model_tokens, max_model_tokens)
    # Two overlapping spans split again for the model can yield the same part twice (dense
    # tables do): keep one, or the file's chunk ids clash.
    unique: dict[tuple, tuple] = {}
    for span in spans:
        unique.setdefault((span[0], span[2], span[3]), span)  # (page, start, end)
    spans = list(unique.values())
    # Line numbers within the page: of a file without pages, of a sheet (its rows); a PDF's
    # lines mean nothing to its reader.
    numbered = doc.lines and doc.unit in ("", "sheet", "cell")
    line_starts = {}
    chunks = []
    for page, heading, start, end in spans:
        lines = (None, None)
        if numbered:
            if page not in line_starts:
                line_starts[page] = line_offsets(doc.page_text(page))
            lines = (
                bisect.bisect_right(line_starts[page], start),
                bisect.bisect_right(line_starts[page], end - 1),
            )
        chunks.append(
            Chunk(
                source=source,
                text=doc.page_text(page)[start:end],
                start=start,
                end=end,
                page=page,
                heading=heading,
                line_start=lines[0],
                line_end=lines[1],
                kind=doc.kind,
                unit=doc.unit,
                page_name=doc.page_name(page),
            )
        )
    return chunks


def embedding_text(chunk: Chunk) -> str:
    """What the embedder sees: the chunk's heading path as context, then its text.

    A chunk deep inside a section ("Kitchen > Coffee", `def parse`) keeps the meaning its
    heading gives it. The path is left out when the chunk's first line already names it.
    """
    return _with_context(chunk.heading, chunk.text)


def _with_context(heading: tuple[str, ...], text: str) -> str:
    if not heading:
        return text
    first_line = text.split("\n", 1)[0]
    if heading[-1] and heading[-1] in first_line and len(heading) == 1:
        return text
    return " > ".join(heading)[:_MAX_CONTEXT] + "\n\n" + text


def split_span(text: str, start: int, end: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) offsets into `text` of chunks covering text[start:end], whitespace trimmed."""
    piece = text[start:end]
    if not piece.strip():
        return []
    offs = token_offsets(piece)
    n = len(offs)
    out: list[tuple[int, int]] = []
    pos = 0
    while pos < n:
        cut = n if pos + size >= n else _best_cut(piece, offs, pos, pos + size)
        a, b = offs[pos], (offs[cut] if cut < n else len(piece))
        span = _trim(piece, a, b)
        if span:
            out.append((start + span[0], start + span[1]))
        if cut >= n:
            break
        pos = _next_start(piece, offs, max(cut - overlap, pos + 1), cut)
    return out


def _best_cut(piece: str, offs: list[int], lo: int, hi: int) -> int:
    """Token index in (lo + size/2, hi] to cut before, preferring the strongest break."""
    floor = lo + max(1, (hi - lo) // 2)
    best, best_rank = hi, 99
    for j in range(hi, floor - 1, -1):
        rank = _break_rank(piece, offs[j])
        if rank < best_rank:
            best, best_rank = j, rank
            if rank == 0:
                break
    return best


def _break_rank(piece: str, c: int) -> int:
    """0 paragraph, 1 line, 2 sentence, 3 word, 4 anywhere: how good a cut at char c is."""
    before = piece[max(0, c - 2) : c]
    after = piece[c : c + 1]
    if before.endswith("\n\n") or (before.endswith("\n") and after == "\n"):
        return 0
    if before.endswith("\n") or after == "\n":
        return 1
    if before[-1:] in _SENTENCE_END and (after.isspace() or not after):
        return 2
    if before[-1:].isspace() or after.isspace():
        return 3
    return 4


def _next_start(piece: str, offs: list[int], pos: int, cut: int) -> int:
    """First token at or after `pos` (before `cut`) that starts a word, else `pos`."""
    for j in range(pos, cut):
        c = offs[j]
        if c == 0 or piece[c - 1].isspace() or piece[c].isspace():
            return j
    return pos


def _trim(piece: str, a: int, b: int) -> tuple[int, int] | None:
    while a < b and piece[a].isspace():
        a += 1
    while b > a and piece[b - 1].isspace():
        b -= 1
    return (a, b) if a < b else None


def _fit_model(doc, spans, size, overlap, count, limit):
    """Split again every span the embedding model would truncate (heading context included)."""
    for _ in range(12):  # each round at least halves the offending spans
        texts = [_with_context(h, doc.page_text(p)[a:b]) for p, h, a, b in spans]
        counts = count(texts)
        if all(c <= limit for c in counts):
            return spans
        fitted = []
        for span, n in zip(spans, counts):
            if n <= limit:
                fitted.append(span)
                continue
            page, heading, a, b = span
            text = doc.page_text(page)
            tokens = len(token_offsets(text[a:b]))
            smaller = max(1, min(tokens // 2, int(tokens * limit / n * 0.9)))
            parts = split_span(text, a, b, smaller, min(overlap, smaller // 4))
            if len(parts) <= 1:  # one tiktoken token the model sees as many: cut by characters
                mid = a + (b - a) // 2
                parts = [(a, mid), (mid, b)] if b - a > 1 else [(a, b)]
            fitted.extend((page, heading, x, y) for x, y in parts)
        spans = fitted
    raise ValueError("could not split text to fit the embedding model")
