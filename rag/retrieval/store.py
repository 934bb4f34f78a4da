"""Vector stores: Chroma on disk, and an in-memory store with the same contract for tests."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from rag.errors import QuireError
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

    def ids(self) -> set[str]: ...

    def count(self) -> int: ...

    def refresh(self, token: str) -> None:
        """Called before use with the library's generation: reload if another process wrote."""
        ...

    def mark(self, token: str) -> None:
        """Called after this process changed the library to generation `token`."""
        ...

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

    def ids(self) -> set[str]:
        return set(self._rows)

    def refresh(self, token: str) -> None:
        pass  # one process only

    def mark(self, token: str) -> None:
        pass

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


class _Handle:
    """One Chroma client and collection per library in a process, shared by its stores, so
    that reopening (to see another process's writes) reopens it for all of them."""

    def __init__(self, make_client, name: str) -> None:
        self.make_client = make_client
        self.name = name
        self.client = None
        self.col = None
        self.token: str | None = None  # the library generation this client has seen
        self.lock = threading.RLock()  # Chroma calls of this process, one at a time

    def collection(self):
        if self.col is None:
            self.client = self.make_client()
            self.col = _open(self.client, self.name)
        return self.col

    def close(self) -> None:
        if self.client is not None and hasattr(self.client, "close"):
            self.client.close()
        self.client = self.col = None


_HANDLES: dict[str, _Handle] = {}
_HANDLES_LOCK = threading.Lock()


def _handle(key: str, make_client, name: str) -> _Handle:
    with _HANDLES_LOCK:
        if key not in _HANDLES:
            _HANDLES[key] = _Handle(make_client, name)
        return _HANDLES[key]


def _open(client, name: str):
    # embedding_function=None: Chroma's default one downloads an ONNX model.
    return client.get_or_create_collection(
        name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )


def _persistent(path: Path):
    def make():
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )

    return make


def _http(url: str):
    def make():
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise QuireError(f"QUIRE_CHROMA_URL must look like http://host:port, not {url!r}")
        try:
            return chromadb.HttpClient(
                host=parts.hostname,
                port=parts.port or (443 if parts.scheme == "https" else 80),
                ssl=parts.scheme == "https",
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        except Exception as exc:  # chromadb raises plain ValueError/ConnectionError here
            raise QuireError(f"cannot reach the Chroma server at {url}: {exc}") from None

    return make


class ChromaStore:
    """A Chroma collection (cosine, telemetry off): on disk under QUIRE_HOME with a
    `PersistentClient`, or on a Chroma server (`url`, `chromadb.HttpClient`)."""

    def __init__(
        self, path: Path | None = None, url: str | None = None, collection: str = COLLECTION
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("give a path or a url")
        self.path, self.url = path, url
        key = f"url:{url}" if url else f"path:{Path(path).resolve()}"
        make = _http(url) if url else _persistent(Path(path))
        self._h = _handle(f"{key}#{collection}", make, collection)

    @property
    def collection(self):
        return self._h.collection()

    def refresh(self, token: str) -> None:
        """Reopen if the library changed (generation `token`) since this process last looked:
        an on-disk client keeps serving its old vector index otherwise. A server needs none."""
        h = self._h
        with h.lock:
            if self.url is None and h.token is not None and h.token != token:
                h.close()
            h.token = token

    def mark(self, token: str) -> None:
        """This process made generation `token`: nothing to reopen for it."""
        with self._h.lock:
            self._h.token = token

    def upsert(self, chunks, vectors) -> None:
        _check_lengths(chunks, vectors)
        with self._h.lock:
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
        with self._h.lock:
            for i in range(0, len(ids), _WRITE_BATCH):
                self.collection.delete(ids=ids[i : i + _WRITE_BATCH])

    def ids_for_source(self, source: str) -> set[str]:
        with self._h.lock:
            return set(self.collection.get(where={"source": source}, include=[])["ids"])

    def ids(self) -> set[str]:
        """Every chunk id in the store (for consistency checks)."""
        with self._h.lock:
            return set(self.collection.get(include=[])["ids"])

    def count(self) -> int:
        with self._h.lock:
            return self.collection.count()

    def query(self, vector, k: int, sources=None, kinds=None) -> list[StoredHit]:
        with self._h.lock:
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
        with self._h.lock:
            got = self.collection.get(ids=ids, include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"]))
        return [[float(x) for x in by_id[i]] for i in ids if i in by_id]

    def get_meta(self) -> dict[str, str]:
        with self._h.lock:
            meta = self.collection.metadata or {}
        return {k[len("quire_") :]: str(v) for k, v in meta.items() if k.startswith("quire_")}

    def set_meta(self, meta: dict[str, str]) -> None:
        with self._h.lock:
            self.collection.modify(metadata={f"quire_{k}": str(v) for k, v in meta.items()})

    def reset(self) -> None:
        h = self._h
        with h.lock:
            col = self.collection
            h.client.delete_collection(col.name)
            h.col = _open(h.client, h.name)


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
    if c.unit:
        meta["unit"] = c.unit
    if c.page_name:
        meta["page_name"] = c.page_name
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
        unit=m.get("unit") or "",
        page_name=m.get("page_name") or "",
    )
