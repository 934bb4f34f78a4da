"""Vector stores: Chroma on disk, and an in-memory store with the same contract for tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rag.types import Chunk

COLLECTION = "quire_chunks"
_WRITE_BATCH = 1000


@dataclass(frozen=True)
class StoredHit:
    """A chunk returned by a vector query, with its cosine similarity."""

    chunk: Chunk
    score: float


class Store(Protocol):
    """Where chunk vectors live. Vectors always come from our embedder, never the store's."""

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def ids_for_source(self, source: str) -> set[str]: ...

    def count(self) -> int: ...

    def query(
        self,
        vector: Sequence[float],
        k: int,
        sources: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[StoredHit]:
        """Nearest `k` chunks by cosine, optionally only from `sources` / of `kinds`."""
        ...

    def vectors(self, ids: Sequence[str]) -> list[list[float]]:
        """The stored vectors of `ids` (missing ids are left out)."""
        ...

    def get_meta(self) -> dict[str, str]: ...

    def set_meta(self, meta: dict[str, str]) -> None: ...

    def reset(self) -> None:
        """Drop every chunk and the index metadata."""
        ...


class MemoryStore:
    """A dict-backed store (exact cosine search) for unit tests and the fake backend."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Chunk, list[float]]] = {}
        self._meta: dict[str, str] = {}

    def upsert(self, chunks, vectors) -> None:
        _check_lengths(chunks, vectors)
        for c, v in zip(chunks, vectors):
            self._rows[c.id] = (c, list(v))

    def delete(self, ids) -> None:
        for i in ids:
            self._rows.pop(i, None)

    def ids_for_source(self, source: str) -> set[str]:
        return {i for i, (c, _) in self._rows.items() if c.source == source}

    def count(self) -> int:
        return len(self._rows)

    def query(self, vector, k: int, sources=None, kinds=None) -> list[StoredHit]:
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        scored = []
        allowed = set(sources) if sources is not None else None
        for c, v in self._rows.values():
            if allowed is not None and c.source not in allowed:
                continue
            if kinds and c.kind not in kinds:
                continue
            vn = math.sqrt(sum(x * x for x in v)) or 1.0
            scored.append(StoredHit(c, sum(a * b for a, b in zip(vector, v)) / (norm * vn)))
        scored.sort(key=lambda h: (-h.score, h.chunk.id))
        return scored[:k]

    def vectors(self, ids) -> list[list[float]]:
        return [list(self._rows[i][1]) for i in ids if i in self._rows]

    def get_meta(self) -> dict[str, str]:
        return dict(self._meta)

    def set_meta(self, meta: dict[str, str]) -> None:
        self._meta = dict(meta)

    def reset(self) -> None:
        self._rows.clear()
        self._meta.clear()


class ChromaStore:
    """A Chroma `PersistentClient` collection under QUIRE_HOME (cosine, telemetry off)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._client = None
        self._col = None

    @property
    def collection(self):
        if self._col is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            self.path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(
                path=str(self.path),
                settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
            )
            self._col = self._open()
        return self._col

    def _open(self):
        # embedding_function=None: Chroma's default one downloads an ONNX model.
        return self._client.get_or_create_collection(
            COLLECTION,
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )

    def upsert(self, chunks, vectors) -> None:
        _check_lengths(chunks, vectors)
        for i in range(0, len(chunks), _WRITE_BATCH):
            part = chunks[i : i + _WRITE_BATCH]
            self.collection.upsert(
                ids=[c.id for c in part],
                embeddings=[list(v) for v in vectors[i : i + _WRITE_BATCH]],
                documents=[c.text for c in part],
                metadatas=[_to_meta(c) for c in part],
            )

    def delete(self, ids) -> None:
        ids = list(ids)
        for i in range(0, len(ids), _WRITE_BATCH):
            self.collection.delete(ids=ids[i : i + _WRITE_BATCH])

    def ids_for_source(self, source: str) -> set[str]:
        return set(self.collection.get(where={"source": source}, include=[])["ids"])

    def count(self) -> int:
        return self.collection.count()

    def query(self, vector, k: int, sources=None, kinds=None) -> list[StoredHit]:
        n = min(k, self.count())
        if n == 0 or (sources is not None and not sources):
            return []
        clauses = []
        if sources is not None:
            clauses.append({"source": {"$in": list(sources)}})
        if kinds:
            clauses.append({"kind": {"$in": list(kinds)}})
        where = None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}
        res = self.collection.query(
            query_embeddings=[list(vector)],
            n_results=n,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            StoredHit(_from_meta(i, d, m), 1.0 - dist)
            for i, d, m, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0]
            )
        ]

    def vectors(self, ids) -> list[list[float]]:
        ids = list(ids)
        if not ids:
            return []
        got = self.collection.get(ids=ids, include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"]))
        return [[float(x) for x in by_id[i]] for i in ids if i in by_id]

    def get_meta(self) -> dict[str, str]:
        meta = self.collection.metadata or {}
        return {k[len("quire_") :]: str(v) for k, v in meta.items() if k.startswith("quire_")}

    def set_meta(self, meta: dict[str, str]) -> None:
        self.collection.modify(metadata={f"quire_{k}": str(v) for k, v in meta.items()})

    def reset(self) -> None:
        col = self.collection
        self._client.delete_collection(col.name)
        self._col = self._open()


def _check_lengths(chunks, vectors) -> None:
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")


def _to_meta(c: Chunk) -> dict:
    meta = {"source": c.source, "start": c.start, "end": c.end, "kind": c.kind}
    if c.page is not None:
        meta["page"] = c.page
    if c.heading:
        meta["heading"] = "\x1f".join(c.heading)
    if c.line_start is not None:
        meta["line_start"] = c.line_start
        meta["line_end"] = c.line_end
    return meta


def _from_meta(chunk_id: str, text: str, m: dict) -> Chunk:
    heading = tuple(m["heading"].split("\x1f")) if m.get("heading") else ()
    return Chunk(
        source=m["source"],
        text=text,
        start=int(m["start"]),
        end=int(m["end"]),
        page=m.get("page"),
        heading=heading,
        line_start=m.get("line_start"),
        line_end=m.get("line_end"),
        kind=m.get("kind", "text"),
        id=chunk_id,
    )
