"""Hybrid retrieval: dense (Chroma, cosine) and keyword (FTS5 BM25) lists, fused, diversified."""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from rag.errors import QuireError
from rag.retrieval.embed import Embedder
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.rerank import rerank
from rag.retrieval.store import Store
from rag.types import Chunk, Hit

MODES = ("hybrid", "dense", "keyword")
FUSIONS = ("rrf", "convex")
RRF_K = 60  # the constant from Cormack et al. (2009); the usual choice
# The dense list's share in the convex fusion (the keyword list has the rest): chosen on four
# corpora of different kinds (BENCHMARKS.md, "Retrieval choices across four corpora").
DENSE_WEIGHT = 0.45
# Hybrid search runs the keyword search on another thread while the query is embedded and the
# dense index asked (BENCHMARKS.md, "Query latency from 1,000 to 100,000 chunks"); False runs
# them one after the other (for that comparison).
ALONGSIDE = True


@dataclass(frozen=True)
class Filters:
    """Restrict a search: `path` is a folder or file prefix, or a glob; `kinds` file kinds as
    the index records them ("markdown", "pdf"; `quire.engine.make_filters` reads a user's
    "md" or ".PDF")."""

    path: str | None = None
    kinds: tuple[str, ...] = ()

    def sources(self, all_sources: Sequence[str]) -> list[str] | None:
        """The indexed files the path filter lets through (None: no path filter)."""
        if not self.path:
            return None
        pattern = os.path.expanduser(self.path)
        if any(ch in pattern for ch in "*?["):
            if not os.path.isabs(pattern) and not pattern.startswith("*"):
                pattern = os.path.join(os.getcwd(), pattern)
            return [s for s in all_sources if fnmatch.fnmatchcase(s, pattern)]
        given = os.path.abspath(pattern)
        # Files are indexed under their real path, or under a link's own path inside a folder
        # (QUIRE_FOLLOW_LINKS): either spelling of the filter selects them.
        prefixes = {given, os.path.realpath(given)} if os.path.exists(given) else {given}
        folders = tuple(p.rstrip(os.sep) + os.sep for p in prefixes)
        return [s for s in all_sources if s in prefixes or s.startswith(folders)]


class Retriever:
    """Question in, ranked chunks out. Nothing is rebuilt per query."""

    def __init__(
        self,
        embedder: Embedder,
        store: Store,
        lexical: LexicalIndex,
        list_sources: Callable[[], list[str]],
        fusion: str = "convex",
        depth: int = 100,
        per_source: int = 2,
        reranker=None,
        rerank_top: int = 30,
    ):
        if fusion not in FUSIONS:
            raise QuireError(f"unknown fusion {fusion!r}: use one of {', '.join(FUSIONS)}")
        self.embedder = embedder
        self.store = store
        self.lexical = lexical
        self.list_sources = list_sources
        self.fusion = fusion
        self.depth = depth
        self.per_source = per_source
        self.reranker = (
            reranker  # rag.retrieval.rerank.Reranker, or None (the default: none bundled)
        )
        self.rerank_top = rerank_top

    def search(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """The best `k` chunks for `query`; at most `per_source` from one file unless too few."""
        if not _worth_searching(query, k, mode):
            return []
        depth = max(self.depth, 3 * k)
        dense, keyword = self.candidates(query, depth, filters, mode)
        hits = self.fused(dense, keyword, mode)
        if self.reranker is not None:
            hits = rerank(self.reranker, query, hits, max(self.rerank_top, k))
        return diversify(hits, k, self.per_source)

    def search_many(
        self, queries: Sequence[str], k: int = 10, filters: Filters | None = None
    ) -> list[Hit]:
        """The best `k` chunks for several forms of one question (as asked, and in the chat's
        context): each form's fused list, merged by reciprocal rank; a chunk keeps the best
        dense and keyword scores any form gave it. One form is the same as `search`."""
        forms = list(dict.fromkeys(q for q in queries if q.strip()))
        if len(forms) <= 1:
            return self.search(forms[0] if forms else "", k, filters)
        depth = max(self.depth, 3 * k)
        vectors = self.embedder.embed_queries(forms)  # one batch for every form
        lists = []
        for q, vector in zip(forms, vectors):
            dense, keyword = self.candidates(q, depth, filters, vector=vector)
            lists.append(self.fused(dense, keyword))
        hits = merge_ranked(lists)
        if self.reranker is not None:
            hits = rerank(self.reranker, forms[0], hits, max(self.rerank_top, k))
        return diversify(hits, k, self.per_source)

    def fused(
        self,
        dense: Sequence[tuple[Chunk, float]],
        keyword: Sequence[tuple[Chunk, float]],
        mode: str = "hybrid",
        fusion: str | None = None,
    ) -> list[Hit]:
        """One ranked list from the two (one list alone in `dense` or `keyword` mode), with a
        PDF page's other matching chunks lifting its best one (`with_page_evidence`)."""
        if mode == "dense":
            hits = fuse(dense, [], "rrf")
        elif mode == "keyword":
            hits = fuse([], keyword, "rrf")
        else:
            hits = fuse(dense, keyword, fusion or self.fusion, DENSE_WEIGHT)
        return with_page_evidence(hits)

    def candidates(
        self,
        query: str,
        depth: int,
        filters: Filters | None = None,
        mode: str = "hybrid",
        vector: Sequence[float] | None = None,
    ) -> tuple[list[tuple[Chunk, float]], list[tuple[Chunk, float]]]:
        """The dense and keyword candidate lists, best first (`vector`: the query's embedding,
        if already computed)."""
        filters = filters or Filters()
        sources = filters.sources(self.list_sources()) if filters.path else None
        kinds = filters.kinds or None
        if sources is not None and not sources:
            return [], []
        if mode == "keyword":
            return [], self.lexical.search(query, depth, sources, kinds)
        keyword = None
        if mode == "hybrid" and ALONGSIDE:  # on another core: SQLite lets go of the GIL
            keyword = _background().submit(self.lexical.search, query, depth, sources, kinds)
        try:
            if vector is None:
                vector = self.embedder.embed_queries([query])[0]
            dense = [(h.chunk, h.score) for h in self.store.query(vector, depth, sources, kinds)]
        finally:
            words = keyword.result() if keyword else []
        if mode == "hybrid" and not ALONGSIDE:
            words = self.lexical.search(query, depth, sources, kinds)
        return dense, words

    def documents(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        mode: str = "hybrid",
        vector: Sequence[float] | None = None,
        exclude: str | None = None,
    ) -> list[DocumentHit]:
        """The best `k` documents for `query`: the fused chunk list, each document scored from
        its chunks' evidence (`rank_documents`). `vector` stands for the query's embedding (a
        document's own, for `related`); `exclude` leaves one file out."""
        if not _worth_searching(query, k, mode):
            return []
        depth = max(self.depth, 10 * k)
        dense, keyword = self.candidates(query, depth, filters, mode, vector)
        hits = self.fused(dense, keyword, mode)
        return rank_documents([h for h in hits if h.chunk.source != exclude], k)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _background() -> ThreadPoolExecutor:
    """The threads keyword searches run on while the dense side embeds and queries."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="keyword-search")
        return _POOL


def _worth_searching(query: str, k: int, mode: str) -> bool:
    """False for an empty query or k <= 0; an unknown mode is an error."""
    if mode not in MODES:
        raise QuireError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
    return bool(query.strip()) and k > 0


@dataclass(frozen=True)
class DocumentHit:
    """A document found for a query: its score and its best chunks, best first."""

    source: str
    score: float
    hits: tuple[Hit, ...]

    @property
    def chunk(self) -> Chunk:
        return self.hits[0].chunk


EVIDENCE = 3  # the best distinct chunks kept with a document or counted for a PDF page
DECAY = 0.5  # a page's next chunk's weight, relative to the one before (with_page_evidence)


def rank_documents(hits: Sequence[Hit], k: int) -> list[DocumentHit]:
    """Documents ranked by their best chunk's fused score, each with its EVIDENCE best
    distinct chunks. (Adding a share of the next chunks' scores, as for PDF pages, was
    measured and lost on three document corpora: it favours long documents.)"""
    by_source = _best_distinct(hits, lambda c: c.source)
    docs = [DocumentHit(src, best[0].score, tuple(best)) for src, best in by_source.items()]
    docs.sort(key=lambda d: (-d.score, d.source))
    return docs[:k]


def _best_distinct(hits: Sequence[Hit], key: Callable[[Chunk], object]) -> dict:
    """The first EVIDENCE hits of each group (`key` of the chunk, None: no group) that do not
    overlap one another, in the order given."""
    groups: dict[object, list[Hit]] = {}
    for h in hits:
        group = key(h.chunk)
        if group is None:
            continue
        same = groups.setdefault(group, [])
        if len(same) < EVIDENCE and not any(_near_duplicate(h.chunk, o.chunk) for o in same):
            same.append(h)
    return groups


def document_vector(store: Store, chunk_ids: Sequence[str]) -> list[float] | None:
    """A document's vector: the normalised mean of its chunks' vectors."""
    vectors = store.vectors(chunk_ids)
    if not vectors:
        return None
    dim = len(vectors[0])
    mean = [sum(v[i] for v in vectors) / len(vectors) for i in range(dim)]
    norm = sum(x * x for x in mean) ** 0.5 or 1.0
    return [x / norm for x in mean]


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
    by_page = _best_distinct(hits, _pdf_page)
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
        if any(_near_duplicate(h.chunk, other) for other in same):
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
        if not any(_near_duplicate(h.chunk, other) for other in same):
            kept.append(h)
            same.append(h.chunk)
    return kept


def _near_duplicate(a: Chunk, b: Chunk) -> bool:
    if a.source != b.source:
        return False
    if a.text == b.text:
        return True
    if a.page != b.page:
        return False
    overlap = min(a.end, b.end) - max(a.start, b.start)
    return overlap > 0.5 * min(a.end - a.start, b.end - b.start)
