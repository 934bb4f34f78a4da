"""Fusion, diversification, filters and the search/related engine calls, with fakes."""

from __future__ import annotations

import os

import pytest

from rag.errors import QuireError
from rag.retrieval.retrieve import Filters, diversify, fuse
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


def test_filters_resolve_prefix_glob_and_kinds(tmp_path):
    sources = ["/n/a.md", "/n/sub/b.pdf", "/n2/c.md", "/p/d.py"]
    assert Filters(path="/n").sources(sources) == ["/n/a.md", "/n/sub/b.pdf"]
    assert Filters(path="/n/*.md").sources(sources) == ["/n/a.md"]
    assert Filters(path="*.pdf").sources(sources) == ["/n/sub/b.pdf"]
    assert Filters().sources(sources) is None
    assert Filters(kinds=("md", "PDF", ".py")).kinds == ("markdown", "pdf", "python")
    with pytest.raises(QuireError, match="unknown file type"):
        Filters(kinds=("dwg",))


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
    only_code = engine.search("mice", k=5, filters=Filters(kinds=("py",)))
    assert {h.chunk.source for h in only_code} == {str(d / "code" / "mice.py")}
    in_birds = engine.search("mice", k=5, filters=Filters(path=str(d / "birds")))
    assert {h.chunk.source for h in in_birds} <= {
        str(d / "birds" / "owls.md"),
        str(d / "birds" / "gulls.md"),
    }
    assert engine.search("mice", k=5, filters=Filters(path=str(d / "nowhere"))) == []
    with pytest.raises(QuireError, match="unknown search mode"):
        engine.search("x", mode="magic")


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
