"""Optional cross-encoder reranking of the fused hits, from a local model folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from rag.errors import QuireError
from rag.retrieval.backends.torch import prepare_torch
from rag.types import Hit


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    def score(self, query: str, passages: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers `CrossEncoder` loaded from `path` on first use (CPU)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        self.path = path
        self.threads = threads
        self._model = None

    def warm_up(self):
        if self._model is None:
            if not (self.path / "config.json").is_file():
                raise QuireError(
                    f"no cross-encoder model folder at {self.path} (QUIRE_RERANK_MODEL)"
                )
            prepare_torch(self.threads)
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(str(self.path), device="cpu")
        return self._model

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        scores = self.warm_up().predict([(query, p) for p in passages], show_progress_bar=False)
        return [float(s) for s in scores]


def rerank(reranker: Reranker, query: str, hits: Sequence[Hit], top_n: int) -> list[Hit]:
    """Re-order the first `top_n` hits by the reranker's score; the rest keep their order."""
    head, tail = list(hits[:top_n]), list(hits[top_n:])
    scores = reranker.score(query, [h.chunk.text for h in head])
    ranked = sorted(zip(scores, range(len(head)), head), key=lambda t: (-t[0], t[1]))
    return [replace(h, score=s) for s, _, h in ranked] + tail
