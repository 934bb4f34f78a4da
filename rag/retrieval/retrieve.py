"""Hybrid retrieval: dense (Chroma, cosine) and keyword (FTS5 BM25) lists, fused, diversified."""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rag.errors import QuireError
from rag.retrieval.documents import DocumentHit, rank_documents
from rag.retrieval.embed import Embedder
from rag.retrieval.fusion import diversify, fuse, merge_ranked, with_page_evidence
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.rerank import rerank
from rag.retrieval.store import Store
from rag.types import Chunk, Hit

MODES = ("hybrid", "dense", "keyword")
FUSIONS = ("rrf", "convex")
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
