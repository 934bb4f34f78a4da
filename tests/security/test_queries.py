"""Issue 11, point 9: a keyword query stays small whatever is typed ("the " x 20,000 took
2.9 s)."""

from __future__ import annotations


def test_a_stopword_only_or_huge_query_stays_small():
    from rag.retrieval.lexical import MAX_TERMS, match_expression

    assert match_expression("the " * 20_000) == '"the"'
    many = " ".join(f"word{i}" for i in range(1000))
    assert match_expression(many).count(" OR ") == MAX_TERMS - 1
