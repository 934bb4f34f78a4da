"""Ranked lists made one: fusion of the dense and keyword lists, of several forms of a question,
PDF pages' evidence, and the final pick of varied, non-overlapping hits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from rag.errors import QuireError
from rag.types import Chunk, Hit

RRF_K = 60  # the constant from Cormack et al. (2009); the usual choice
EVIDENCE = 3  # the best distinct chunks kept with a document or counted for a PDF page
DECAY = 0.5  # a page's next chunk's weight, relative to the one before (with_page_evidence)


def fuse(
    dense: Sequence[tuple[Chunk, float]],
    keyword: Sequence[tuple[Chunk, float]],
    method: str = "rrf",
    weight: float = 0.5,
) -> list[Hit]:
    """Merge two ranked lists into one.

    `rrf`: reciprocal rank fusion, sum of 1 / (60 + rank). `convex`: each list's scores
    min-max normalised to [0, 1], then `weight * dense + (1 - weight) * keyword`.
    """
    info: dict[str, dict] = {}
    for rank, (chunk, score) in enumerate(dense, start=1):
        info[chunk.id] = {"chunk": chunk, "dense": score, "dense_rank": rank}
    for rank, (chunk, score) in enumerate(keyword, start=1):
        entry = info.setdefault(chunk.id, {"chunk": chunk})
        entry.update(keyword=score, keyword_rank=rank)
    if method == "rrf":

        def fused(e):
            s = 1.0 / (RRF_K + e["dense_rank"]) if "dense_rank" in e else 0.0
            return s + (1.0 / (RRF_K + e["keyword_rank"]) if "keyword_rank" in e else 0.0)

    elif method == "convex":
        dn = _normaliser([s for _, s in dense])
        kn = _normaliser([s for _, s in keyword])

        def fused(e):
            d = dn(e["dense"]) if "dense" in e else 0.0
            k = kn(e["keyword"]) if "keyword" in e else 0.0
            return weight * d + (1 - weight) * k

    else:
        raise QuireError(f"unknown fusion {method!r}")
    hits = [
        Hit(
            chunk=e["chunk"],
            score=fused(e),
            dense=e.get("dense"),
            keyword=e.get("keyword"),
            dense_rank=e.get("dense_rank"),
            keyword_rank=e.get("keyword_rank"),
        )
        for e in info.values()
    ]
    hits.sort(key=lambda h: (-h.score, h.chunk.id))
    return hits


def with_page_evidence(hits: Sequence[Hit]) -> list[Hit]:
    """Hits re-scored so the PDF page that answers wins over one that mentions the words once:
    every chunk of a page gains DECAY times the score of the page's second best distinct chunk,
    DECAY squared its third's (EVIDENCE chunks count). Chunks of files without pages, and of
    slides, sheets and other units, are left as they are."""
    by_page = best_distinct(hits, _pdf_page)
    bonus = {
        page: sum(h.score * DECAY**i for i, h in enumerate(same[1:], start=1))
        for page, same in by_page.items()
        if len(same) > 1
    }
    if not bonus:
        return list(hits)
    out = [replace(h, score=h.score + bonus.get(_pdf_page(h.chunk), 0.0)) for h in hits]
    out.sort(key=lambda h: (-h.score, h.chunk.id))
    return out


def _pdf_page(chunk: Chunk) -> tuple[str, int] | None:
    """(file, page) for a chunk of a paged document's page; None for anything else."""
    if chunk.page is None or (chunk.unit or "page") != "page":
        return None
    return chunk.source, chunk.page


def merge_ranked(lists: Sequence[Sequence[Hit]]) -> list[Hit]:
    """Several ranked hit lists as one, by reciprocal rank fusion (k = 60)."""
    best: dict[str, Hit] = {}
    score: dict[str, float] = {}
    for hits in lists:
        for rank, h in enumerate(hits, start=1):
            cid = h.chunk.id
            score[cid] = score.get(cid, 0.0) + 1.0 / (RRF_K + rank)
            old = best.get(cid)
            if old is None:
                best[cid] = h
                continue
            best[cid] = replace(
                old,
                dense=_max(old.dense, h.dense),
                keyword=_max(old.keyword, h.keyword),
                dense_rank=_min(old.dense_rank, h.dense_rank),
                keyword_rank=_min(old.keyword_rank, h.keyword_rank),
            )
    top = len(lists) / (RRF_K + 1)  # first in every list: scores land in (0, 1] like convex
    merged = [replace(h, score=score[cid] / top) for cid, h in best.items()]
    merged.sort(key=lambda h: (-h.score, h.chunk.id))
    return merged


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _normaliser(scores: list[float]) -> Callable[[float], float]:
    if not scores:
        return lambda s: 0.0
    lo, hi = min(scores), max(scores)
    if hi - lo < 1e-12:
        return lambda s: 1.0
    return lambda s: (s - lo) / (hi - lo)


def diversify(hits: Sequence[Hit], k: int, per_source: int) -> list[Hit]:
    """Top `k`, dropping near-duplicates (overlapping spans or equal text in one file) and
    keeping at most `per_source` hits from one file while other files have hits to offer."""
    kept: list[Hit] = []
    held: list[Hit] = []
    by_source: dict[str, list[Chunk]] = {}
    for h in hits:
        same = by_source.setdefault(h.chunk.source, [])
        if any(near_duplicate(h.chunk, other) for other in same):
            continue
        if len(same) >= per_source:
            held.append(h)
            continue
        kept.append(h)
        same.append(h.chunk)
        if len(kept) == k:
            return kept
    for h in held:  # too few other files: let more of the same ones in
        if len(kept) == k:
            break
        same = by_source[h.chunk.source]
        if not any(near_duplicate(h.chunk, other) for other in same):
            kept.append(h)
            same.append(h.chunk)
    return kept


def near_duplicate(a: Chunk, b: Chunk) -> bool:
    """Whether two chunks of one file say the same: equal text, or spans of one page that
    overlap by more than half the shorter one."""
    if a.source != b.source:
        return False
    if a.text == b.text:
        return True
    if a.page != b.page:
        return False
    overlap = min(a.end, b.end) - max(a.start, b.start)
    return overlap > 0.5 * min(a.end - a.start, b.end - b.start)


def best_distinct(hits: Sequence[Hit], key: Callable[[Chunk], object]) -> dict:
    """The first EVIDENCE hits of each group (`key` of the chunk, None: no group) that do not
    overlap one another, in the order given."""
    groups: dict[object, list[Hit]] = {}
    for h in hits:
        group = key(h.chunk)
        if group is None:
            continue
        same = groups.setdefault(group, [])
        if len(same) < EVIDENCE and not any(near_duplicate(h.chunk, o.chunk) for o in same):
            same.append(h)
    return groups
