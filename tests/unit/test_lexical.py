"""The FTS5 keyword index."""

from __future__ import annotations

from rag.retrieval.lexical import LexicalIndex, match_expression, query_terms
from rag.types import Chunk


def chunk(source, text, start=0, **kw):
    return Chunk(source=source, text=text, start=start, end=start + len(text), **kw)


def test_bm25_ranks_the_matching_chunk_first(tmp_path):
    idx = LexicalIndex(tmp_path / "lex.sqlite3")
    a = chunk(
        "/a.md", "Sourdough bread needs a starter.", heading=("Kitchen", "Bread"), kind="markdown"
    )
    b = chunk("/b.md", "Coffee beans are ground coarsely.", kind="markdown")
    c = chunk("/c.pdf", "Tomatoes ripen in August.", page=4, kind="pdf")
    idx.upsert([a, b, c])
    hits = idx.search("how do I grind coffee beans?", 3)
    assert hits[0][0] == b and hits[0][1] > 0
    assert [h[0].id for h in idx.search("tomato", 3)] == [c.id]  # porter stemming
    got = idx.search("kitchen", 1)[0][0]
    assert got == a  # heading words count, chunk round-trips whole


def test_filters_by_source_and_kind(tmp_path):
    idx = LexicalIndex(tmp_path / "lex.sqlite3")
    a = chunk("/n/a.md", "owls hunt at night", kind="markdown")
    b = chunk("/p/b.pdf", "owls sleep by day", page=1, kind="pdf")
    idx.upsert([a, b])
    assert [h[0].id for h in idx.search("owls", 5, sources=["/p/b.pdf"])] == [b.id]
    assert [h[0].id for h in idx.search("owls", 5, kinds=["markdown"])] == [a.id]
    assert idx.search("owls", 5, sources=[]) == []


def test_upsert_replaces_and_delete_removes(tmp_path):
    idx = LexicalIndex(tmp_path / "lex.sqlite3")
    a = chunk("/a.md", "volcanoes erupt")
    idx.upsert([a])
    idx.upsert([a])
    assert idx.count() == 1
    assert idx.ids_for_source("/a.md") == {a.id}
    idx.delete([a.id])
    assert idx.count() == 0 and idx.search("volcanoes", 5) == []
    idx.upsert([a])
    idx.reset()
    assert idx.count() == 0


def test_persists_across_reopen(tmp_path):
    idx = LexicalIndex(tmp_path / "lex.sqlite3")
    idx.upsert([chunk("/a.md", "glaciers retreat")])
    idx.close()
    assert LexicalIndex(tmp_path / "lex.sqlite3").search("glacier", 1)[0][0].source == "/a.md"


def test_query_syntax_is_never_interpreted(tmp_path):
    idx = LexicalIndex(tmp_path / "lex.sqlite3")
    idx.upsert([chunk("/a.md", "NEAR the AND gate, OR not")])
    for q in ['"unbalanced', "a AND (b", "NEAR(x y)", "col:thing", "-minus *star", "^caret"]:
        idx.search(q, 5)  # must not raise an FTS5 syntax error
    assert idx.search("gate", 1)


def test_query_terms_drop_stopwords():
    assert query_terms("What is the role of the BRCA1 gene?") == ["role", "brca1", "gene"]
    assert match_expression("the of") == '"the" OR "of"'  # only stopwords: keep them
    assert match_expression("") == ""
