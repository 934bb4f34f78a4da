"""Documents rather than chunks: a document ranked by its best chunks, and its own vector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.retrieval.fusion import best_distinct
from rag.retrieval.store import Store
from rag.types import Chunk, Hit


@dataclass(frozen=True)
class DocumentHit:
    """A document found for a query: its score and its best chunks, best first."""

    source: str
    score: float
    hits: tuple[Hit, ...]

    @property
    def chunk(self) -> Chunk:
        """The document's best chunk."""
        return self.hits[0].chunk


def rank_documents(hits: Sequence[Hit], k: int) -> list[DocumentHit]:
    """Documents ranked by their best chunk's fused score, each with its EVIDENCE best
    distinct chunks. (Adding a share of the next chunks' scores, as for PDF pages, was
    measured and lost on three document corpora: it favours long documents.)"""
    by_source = best_distinct(hits, lambda c: c.source)
    docs = [DocumentHit(src, best[0].score, tuple(best)) for src, best in by_source.items()]
    docs.sort(key=lambda d: (-d.score, d.source))
    return docs[:k]


def document_vector(store: Store, chunk_ids: Sequence[str]) -> list[float] | None:
    """A document's vector: the normalised mean of its chunks' vectors."""
    vectors = store.vectors(chunk_ids)
    if not vectors:
        return None
    dim = len(vectors[0])
    mean = [sum(v[i] for v in vectors) / len(vectors) for i in range(dim)]
    norm = sum(x * x for x in mean) ** 0.5 or 1.0
    return [x / norm for x in mean]
