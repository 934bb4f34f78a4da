"""When to refuse without calling the model: the hits are too far from the question."""

from __future__ import annotations

from collections.abc import Sequence

from rag.retrieval.lexical import LexicalIndex
from rag.types import Hit


def relevance(hits: Sequence[Hit]) -> float:
    """The hits' best dense cosine to the question (0.0 when none has one)."""
    return max((h.dense or 0.0 for h in hits), default=0.0)


def should_refuse(
    searched: str,
    hits: Sequence[Hit],
    lexical: LexicalIndex | None,
    min_relevance: float,
    min_relevance_with_words: float,
) -> bool:
    """Whether the hits fail to back an answer: there are none, or their best cosine is below
    `min_relevance` and they do not hold the question's words (`has_words`)."""
    if not hits:
        return True
    best = relevance(hits)
    if best >= min_relevance:
        return False
    return not has_words(searched, hits, lexical, best, min_relevance_with_words)


def has_words(
    searched: str,
    hits: Sequence[Hit],
    lexical: LexicalIndex | None,
    best: float,
    min_relevance_with_words: float,
) -> bool:
    """Whether the hits hold the question's words: with the best cosine `best` at least
    `min_relevance_with_words`, one hit holds every one of 3+ of the words searched for, or
    its file name or heading holds every one of 2+."""
    if best < min_relevance_with_words or lexical is None:
        return False
    ids = [h.chunk.id for h in hits]
    words, share = lexical.coverage(searched, ids)
    if words >= 3 and max(share.values(), default=0.0) == 1.0:
        return True
    if words < 2:
        return False
    _, in_titles = lexical.coverage(searched, ids, titles=True)
    return max(in_titles.values(), default=0.0) == 1.0
