"""Fusion, diversification, filters and the search/related engine calls, with fakes."""

from __future__ import annotations

import os

import pytest

from quire.filters import make_filters
from rag.errors import QuireError
from rag.retrieval.documents import rank_documents
from rag.retrieval.fusion import diversify, fuse, with_page_evidence
from rag.retrieval.retrieve import Filters
from rag.types import Chunk
from tests.helpers import write


def chunk(source, text, start=0, page=None):
    return Chunk(source=source, text=text, start=start, end=start + len(text), page=page)


A, B, C, D = (chunk(f"/{x}.md", f"text {x}") for x in "abcd")


def test_rrf_rewards_agreement():
    dense = [(A, 0.9), (B, 0.8), (C, 0.7)]
    keyword = [(D, 12.0), (C, 11.0), (A, 3.0)]
    hits = fuse(dense, keyword, "rrf")
    assert [h.chunk.id for h in hits][:2] == [A.id, C.id]
    a = hits[0]
    assert (a.dense_rank, a.keyword_rank, a.dense, a.keyword) == (1, 3, 0.9, 3.0)
    assert a.score == pytest.approx(1 / 61 + 1 / 63)
    assert {h.chunk.id for h in hits} == {A.id, B.id, C.id, D.id}


def test_convex_uses_normalised_scores():
    dense = [(A, 0.9), (B, 0.5)]
    keyword = [(B, 10.0), (C, 2.0)]
    hits = fuse(dense, keyword, "convex", weight=0.5)
    scores = {h.chunk.id: h.score for h in hits}
    assert scores[A.id] == pytest.approx(0.5) and scores[B.id] == pytest.approx(0.5)
    assert scores[C.id] == pytest.approx(0.0)


def test_diversify_caps_per_file_and_drops_overlaps():
    same = [chunk("/big.md", f"part {i} " * 20, start=i * 100) for i in range(5)]
    overlap = chunk("/big.md", "part 0 " * 20 + "x", start=10)
    other = chunk("/small.md", "small")
    hits = fuse([(c, 1.0 - i / 10) for i, c in enumerate([same[0], overlap, *same[1:], other])], [])
    top = diversify(hits, 3, per_source=2)
    assert [h.chunk.id for h in top] == [same[0].id, same[1].id, other.id]
    assert all(h.chunk.id != overlap.id for h in diversify(hits, 10, per_source=10))
    assert len(diversify(hits, 6, per_source=2)) == 6  # refills from the same file when short


def test_documents_rank_by_their_best_chunk_and_keep_their_evidence():
    once = chunk("/once.md", "the one matching passage")
    many = [chunk("/many.md", f"passage {i} " * 10, start=i * 200) for i in range(4)]
    again = chunk("/many.md", "passage 0 " * 10 + "!", start=5)  # overlaps many[0]
    hits = fuse(
        [
            (once, 0.9),
            (many[0], 0.8),
            (again, 0.79),
            *[(c, 0.7 - i / 100) for i, c in enumerate(many[1:])],
        ],
        [],
    )
    docs = rank_documents(hits, 5)
    assert [d.source for d in docs] == ["/once.md", "/many.md"]
    best = docs[1]
    assert [h.chunk for h in best.hits] == many[:3]  # distinct passages, best first
    assert best.chunk == many[0] and best.score == best.hits[0].score
    assert docs[0].score == hits[0].score and len(docs[0].hits) == 1
    assert rank_documents(hits, 1) == docs[:1]


def test_the_page_with_more_evidence_wins():
    once = chunk("/m.pdf", "mentions it once", page=3)
    answer = [chunk("/m.pdf", f"explains it {i}", start=i * 100, page=7) for i in range(4)]
    note = chunk("/n.md", "a note")
    hits = fuse([(once, 0.9), (note, 0.85), *[(c, 0.8 - i / 10) for i, c in enumerate(answer)]], [])
    got = with_page_evidence(hits)
    assert [h.chunk.id for h in got][:2] == [answer[0].id, answer[1].id]
    by_id = {h.chunk.id: h.score for h in got}
    base = {h.chunk.id: h.score for h in hits}
    bonus = 0.5 * base[answer[1].id] + 0.25 * base[answer[2].id]  # the 4th chunk does not count
    assert all(by_id[c.id] == pytest.approx(base[c.id] + bonus) for c in answer)
    assert by_id[once.id] == base[once.id] and by_id[note.id] == base[note.id]
    slides = [
        Chunk("/s.pptx", f"slide {i}", i * 9, i * 9 + 7, page=2, unit="slide") for i in range(3)
    ]
    plain = fuse([(c, 0.5) for c in slides], [])
    assert [h.score for h in with_page_evidence(plain)] == [h.score for h in plain]


def test_filters_resolve_prefix_glob_and_kinds(tmp_path):
    sources = ["/n/a.md", "/n/sub/b.pdf", "/n2/c.md", "/p/d.py"]
    assert Filters(path="/n").sources(sources) == ["/n/a.md", "/n/sub/b.pdf"]
    assert Filters(path="/n/*.md").sources(sources) == ["/n/a.md"]
    assert Filters(path="*.pdf").sources(sources) == ["/n/sub/b.pdf"]
    assert Filters().sources(sources) is None
    assert make_filters(types=("md", "PDF", ".py")).kinds == ("markdown", "pdf", "python")
    with pytest.raises(QuireError, match="unknown file type"):
        make_filters(types=("dwg",))


@pytest.fixture
def library(tmp_path, make_engine):
    d = tmp_path / "lib"
    write(d / "birds" / "owls.md", "# Owls\n\nOwls hunt mice at night and fly silently.\n")
    write(d / "birds" / "gulls.md", "# Gulls\n\nGulls steal chips at the seaside.\n")
    write(d / "code" / "mice.py", "def count_mice(field):\n    return len(field.mice)\n")
    write(d / "notes.txt", "Shopping: bread, milk, coffee.\n")
    engine = make_engine()
    engine.ingest([str(d)])
    return engine, d


def test_search_modes_and_filters(library):
    engine, d = library
    for mode in ("hybrid", "dense", "keyword"):
        hits = engine.search("owls hunt mice at night", k=2, mode=mode)
        assert hits[0].chunk.source == str(d / "birds" / "owls.md"), mode
    only_code = engine.search("mice", k=5, filters=Filters(kinds=("python",)))
    assert {h.chunk.source for h in only_code} == {str(d / "code" / "mice.py")}
    in_birds = engine.search("mice", k=5, filters=Filters(path=str(d / "birds")))
    assert {h.chunk.source for h in in_birds} <= {
        str(d / "birds" / "owls.md"),
        str(d / "birds" / "gulls.md"),
    }
    assert engine.search("mice", k=5, filters=Filters(path=str(d / "nowhere"))) == []
    with pytest.raises(QuireError, match="unknown search mode"):
        engine.search("x", mode="magic")


def test_hybrid_with_its_searches_side_by_side_is_the_same_search(library, monkeypatch):
    from rag.retrieval import retrieve

    engine, _ = library
    queries = ["owls hunt mice at night", "bread", "seaside chips", "count_mice", "nothing here"]
    alongside = [[(h.chunk.id, h.score) for h in engine.search(q, k=4)] for q in queries]
    monkeypatch.setattr(retrieve, "ALONGSIDE", False)
    in_turn = [[(h.chunk.id, h.score) for h in engine.search(q, k=4)] for q in queries]
    assert alongside == in_turn and any(alongside)


def test_a_failing_keyword_search_is_raised_not_lost(library, monkeypatch):
    engine, _ = library

    def broken(*args, **kwargs):
        raise QuireError("the keyword index is damaged")

    monkeypatch.setattr(engine.lexical, "search", broken)
    with pytest.raises(QuireError, match="damaged"):
        engine.search("owls")


def test_removed_files_vanish_from_both_indexes(library):
    engine, d = library
    owls = str(d / "birds" / "owls.md")
    engine.remove(owls)
    for mode in ("dense", "keyword", "hybrid"):
        assert all(h.chunk.source != owls for h in engine.search("owls hunt mice", 10, mode=mode))
    os.remove(d / "birds" / "gulls.md")
    engine.sync(str(d))
    gulls = str(d / "birds" / "gulls.md")
    for mode in ("dense", "keyword", "hybrid"):
        assert all(
            h.chunk.source != gulls for h in engine.search("gulls seaside chips", 10, mode=mode)
        )
    assert engine.lexical.count() == engine.store.count()


def test_search_documents_ranks_files_and_finds_them_by_name(library):
    engine, d = library
    docs = engine.search_documents("mice", k=5, mode="keyword")
    assert {x.source for x in docs} == {str(d / "birds" / "owls.md"), str(d / "code" / "mice.py")}
    assert len(engine.search_documents("mice", k=5)) == 4  # dense lists every file
    assert all(h.chunk.source == x.source for x in docs for h in x.hits)
    found = engine.search_documents("birds gulls", k=1, mode="keyword")
    assert found[0].source == str(d / "birds" / "gulls.md")
    named = engine.search_documents("notes", k=1, mode="keyword")  # only its file name says so
    assert named[0].source == str(d / "notes.txt")
    only_code = engine.search_documents("mice", k=5, filters=Filters(kinds=("python",)))
    assert [x.source for x in only_code] == [str(d / "code" / "mice.py")]


def test_related_excludes_itself(library):
    engine, d = library
    owls = str(d / "birds" / "owls.md")
    found = engine.related(owls, k=5)
    assert found and all(r.source != owls for r in found)
    assert len({r.source for r in found}) == len(found) == 3
    assert found == sorted(found, key=lambda r: -r.score)
    with pytest.raises(QuireError, match="not in the index"):
        engine.related(str(d / "nope.md"))


def test_a_reranker_reorders_the_fused_head(library):
    engine, d = library

    class ByLength:  # scripted: longer passages are "more relevant"
        def score(self, query, passages):
            return [float(len(p)) for p in passages]

    plain = engine.search("mice", k=4)
    engine.retriever.reranker = ByLength()
    reranked = engine.search("mice", k=4)
    lengths = [len(h.chunk.text) for h in reranked]
    assert lengths == sorted(lengths, reverse=True)
    assert {h.chunk.id for h in reranked} == {h.chunk.id for h in plain}


def test_a_file_indexed_under_a_links_path_is_found_by_path_and_related(tmp_path, make_engine):
    """With QUIRE_FOLLOW_LINKS a file is indexed under the link's own path inside the folder;
    `--path` and `quire related` given that path (or the folder) find it, though the path
    resolves elsewhere."""
    import os

    from rag.retrieval.retrieve import Filters
    from tests.helpers import write

    write(tmp_path / "shared" / "pantry.md", "# Pantry\n\nFlour, sugar and oats for baking.\n")
    notes = write(tmp_path / "notes" / "bread.md", "# Bread\n\nFlour and water for baking.\n")
    notes = notes.parent
    os.symlink(tmp_path / "shared", notes / "shared")
    engine = make_engine(follow_links=True)
    engine.ingest([str(notes)])
    linked = str(notes / "shared" / "pantry.md")
    assert linked in [d.path for d in engine.documents()]
    for path in (linked, str(notes / "shared")):
        hits = engine.search("flour sugar oats", filters=Filters(path=path))
        assert hits and {h.chunk.source for h in hits} == {linked}, path
    related = engine.related(linked)
    assert [r.source for r in related] == [str(notes / "bread.md")]
