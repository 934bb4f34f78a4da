"""One suite, run against every Store implementation."""

from __future__ import annotations

import uuid

import pytest

from rag.retrieval.store import ChromaStore, MemoryStore
from rag.types import Chunk


@pytest.fixture(params=["memory", "chroma", "chroma-server"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "chroma-server":
        server = request.getfixturevalue("chroma_server")
        store = ChromaStore(url=server.url, collection=f"t{uuid.uuid4().hex}")
        yield store
        store.reset()  # leave the shared server empty-ish
        return
    yield ChromaStore(tmp_path / "chroma")


def unit(i: int, dim: int = 4) -> list[float]:
    v = [0.0] * dim
    v[i] = 1.0
    return v


def chunk(source: str, text: str, start: int = 0, **kw) -> Chunk:
    return Chunk(source=source, text=text, start=start, end=start + len(text), **kw)


def test_upsert_then_query_ranks_nearest_first(store):
    a = chunk("/a.md", "alpha", heading=("H1", "H2"), line_start=1, line_end=2, kind="markdown")
    b = chunk("/b.pdf", "beta", page=3, kind="pdf")
    c = chunk("/c.txt", "gamma")
    store.upsert([a, b, c], [unit(0), unit(1), [0.0, 0.7071, 0.7071, 0.0]])
    hits = store.query(unit(1), 3)
    assert [h.chunk.id for h in hits] == [b.id, c.id, a.id]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[1].score == pytest.approx(0.7071, abs=1e-3)
    assert hits[0].chunk == b
    assert store.query(unit(0), 1)[0].chunk == a  # heading, lines and kind round-trip


def test_upsert_same_id_replaces(store):
    a = chunk("/a.md", "alpha")
    store.upsert([a], [unit(0)])
    store.upsert([a], [unit(1)])
    assert store.count() == 1
    assert store.query(unit(1), 1)[0].score == pytest.approx(1.0, abs=1e-4)


def test_ids_for_source_and_delete(store):
    chunks = [chunk("/a.md", f"part {i}", start=i * 10) for i in range(3)] + [chunk("/b.md", "b")]
    store.upsert(chunks, [unit(i % 4) for i in range(4)])
    ids_a = store.ids_for_source("/a.md")
    assert ids_a == {c.id for c in chunks[:3]}
    store.delete(sorted(ids_a))
    assert store.ids_for_source("/a.md") == set()
    assert store.count() == 1
    store.delete(["no-such-id"])  # deleting what is not there is fine
    assert store.count() == 1


def test_query_on_empty_store(store):
    assert store.query(unit(0), 5) == []


def test_meta_round_trip_and_reset(store):
    store.upsert([chunk("/a.md", "alpha")], [unit(0)])
    store.set_meta({"embedding_model": "m", "embedding_dim": "4"})
    assert store.get_meta() == {"embedding_model": "m", "embedding_dim": "4"}
    store.reset()
    assert store.count() == 0
    assert store.get_meta() == {}


def test_mismatched_lengths_are_refused(store):
    with pytest.raises(ValueError):
        store.upsert([chunk("/a.md", "alpha")], [])


def test_chroma_persists_across_clients(tmp_path):
    first = ChromaStore(tmp_path / "chroma")
    a = chunk("/a.md", "alpha", page=2)
    first.upsert([a], [unit(2)])
    first.set_meta({"chunker": "v"})
    again = ChromaStore(tmp_path / "chroma")
    assert again.count() == 1
    assert again.query(unit(2), 1)[0].chunk == a
    assert again.get_meta() == {"chunker": "v"}


def test_chroma_batches_large_writes(tmp_path):
    store = ChromaStore(tmp_path / "chroma")
    chunks = [chunk("/big.md", f"text {i}", start=i * 10) for i in range(2500)]
    store.upsert(chunks, [unit(i % 4) for i in range(2500)])
    assert store.count() == 2500
    store.delete([c.id for c in chunks])
    assert store.count() == 0


def test_query_filters_by_source_and_kind(store):
    a = chunk("/a.md", "alpha", kind="markdown")
    b = chunk("/b.pdf", "beta", page=1, kind="pdf")
    c = chunk("/c.md", "gamma", kind="markdown")
    store.upsert([a, b, c], [unit(0), unit(0), [0.9, 0.1, 0.0, 0.0]])
    assert {h.chunk.id for h in store.query(unit(0), 5, sources=["/b.pdf"])} == {b.id}
    assert {h.chunk.id for h in store.query(unit(0), 5, kinds=["markdown"])} == {a.id, c.id}
    both = store.query(unit(0), 5, sources=["/a.md", "/b.pdf"], kinds=["pdf"])
    assert [h.chunk.id for h in both] == [b.id]
    assert store.query(unit(0), 5, sources=[]) == []


def test_vectors_of_ids(store):
    a = chunk("/a.md", "alpha")
    b = chunk("/b.md", "beta")
    store.upsert([a, b], [unit(0), unit(3)])
    got = store.vectors([b.id, "missing", a.id])
    assert [[round(x, 4) for x in v] for v in got] == [unit(3), unit(0)]
