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


def test_file_and_folder_names_are_searched(tmp_path):
    idx = LexicalIndex(tmp_path / "lex.sqlite3")
    named = chunk("/n/sqlite/blob-literals.md", "Write them as X'53514C'.", kind="markdown")
    camel = chunk("/n/MeetingNotes2023.docx", "We agreed on a date.", kind="docx")
    other = chunk("/n/misc.md", "Nothing about databases here.", kind="markdown")
    idx.upsert([named, camel, other])
    assert [h[0].id for h in idx.search("blob literals", 3)] == [named.id]
    assert [h[0].id for h in idx.search("sqlite", 3)] == [named.id]  # a folder's name
    assert [h[0].id for h in idx.search("meeting notes 2023", 3)] == [camel.id]
    assert idx.search("blob", 1, weights=(0.0, 2.0, 1.0))[0][1] == 0  # the name weight counts


def test_numbers_are_found_as_written(tmp_path):
    idx = LexicalIndex(tmp_path / "lex.sqlite3")
    total = chunk("/t.md", "Revenue | $737,877 | FY2022 Q4 | 1,355 staff", kind="markdown")
    ones = [chunk(f"/o{i}.md", f"row 1 of {i}: 355 days, 737 and 877", kind="markdown")
            for i in range(5)]  # fmt: skip
    idx.upsert([total, *ones])
    for query in ("1,355", "$737,877", "FY2022", "fy2022 q4"):
        assert idx.search(query, 1)[0][0].id == total.id, query
    assert match_expression("paid $1,355.50 in Q4") == '"1 355 50" OR "paid" OR "q4"'


def test_an_index_made_before_names_gains_them(tmp_path):
    import sqlite3

    path = tmp_path / "lex.sqlite3"
    idx = LexicalIndex(path)
    idx.upsert([chunk("/notes/blob-literals.md", "X'53514C' is a blob.", kind="markdown")])
    idx.close()
    db = sqlite3.connect(path)  # make it the old layout: heading and text only
    db.executescript(
        "CREATE VIRTUAL TABLE old USING fts5(heading, text, tokenize = 'porter unicode61');"
        "INSERT INTO old (rowid, heading, text) SELECT rowid, heading, text FROM fts;"
        "DROP TABLE fts; ALTER TABLE old RENAME TO fts;"
    )
    db.close()
    idx = LexicalIndex(path)
    assert idx.search("literals", 1)[0][0].source == "/notes/blob-literals.md"
    assert idx.search("blob", 1)[0][0].text == "X'53514C' is a blob."


def test_coverage_counts_stemmed_question_words_per_chunk(tmp_path):
    idx = LexicalIndex(tmp_path / "lex.sqlite3")
    a = chunk("/notes/linux-setup.md", "Run make; it needs apt-get.", heading=("Installing",))
    b = chunk("/notes/garden.md", "Tomatoes want full sun and installation of stakes.")
    idx.upsert([a, b])
    words, share = idx.coverage("How do I install it on Linux?", [a.id, b.id])
    assert words == 2 and share == {a.id: 1.0, b.id: 0.5}  # install ~ Installing, installation
    _, titles = idx.coverage("How do I install it on Linux?", [a.id, b.id], titles=True)
    assert titles == {a.id: 1.0, b.id: 0.0}  # in b only its text has "installation"
    assert idx.coverage("the of and", [a.id]) == (3, {a.id: 0.0})  # only stop words: kept
    assert idx.coverage("", [a.id]) == (0, {a.id: 0.0})
