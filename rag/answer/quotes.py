"""Answers without a model: the sentences of the top excerpts that best match the question."""

from __future__ import annotations

from collections.abc import Sequence

from rag.answer.citations import overlap, quotable
from rag.retrieval.embed import Embedder
from rag.types import Chunk, Hit

EXCERPTS = 5  # the top hits whose sentences may be quoted


def pick_quotes(query: str, hits: Sequence[Hit], embedder: Embedder) -> tuple[str, list[Chunk]]:
    """(the chosen sentences, one a line, each with its [n] marker; the excerpts they are
    numbered from). `query` chooses the sentences: a follow-up's own words (a checked
    rewrite's, if any), since the chat's context already chose the excerpts."""
    shown = [h.chunk for h in hits[:EXCERPTS]]
    prior = [h.score for h in hits[:EXCERPTS]]
    # Every sentence of the top excerpts, scored by the share of the question's words it
    # has, plus its embedding's cosine to the question's (one batch), plus half its
    # excerpt's retrieval score; ties go to the better-ranked excerpt. The best sentence
    # is the answer; a second one from another excerpt joins only if it scores as well.
    # (Three variants were compared on SQuAD: words only 0.775 citation precision, + cosine
    # 0.853, + retrieval score 0.870; see BENCHMARKS.md.)
    spans = [(n, a, b) for n, c in enumerate(shown, start=1) for a, b in quotable(c)]
    # A Markdown heading names a topic; it answers nothing (unless nothing else is there).
    prose = [(n, a, b) for n, a, b in spans if not _is_heading(shown[n - 1].text[a:b])]
    spans = prose or spans
    texts = [shown[n - 1].text[a:b] for n, a, b in spans]
    vectors = embedder.embed_queries([query, *texts]) if texts else [[]]
    q = vectors[0]
    scored = []
    for (n, a, b), text, v in zip(spans, texts, vectors[1:]):
        cosine = sum(x * y for x, y in zip(q, v))
        scored.append((overlap(query, text) + cosine + 0.5 * prior[n - 1], -n, a, b))
    scored.sort(reverse=True)
    lines, used = [], set()
    for score, neg_n, a, b in scored[:2]:
        n = -neg_n
        if score <= 0 or n in used or (lines and score < scored[0][0]):
            continue
        used.add(n)
        lines.append(f"{shown[n - 1].text[a:b]} [{n}]")
    return "\n".join(lines), shown


def _is_heading(sentence: str) -> bool:
    return sentence.lstrip().startswith("#") and "\n" not in sentence.strip()
