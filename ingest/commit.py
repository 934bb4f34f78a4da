"""Writing what ingest prepared: embed in batches, write both indexes, record each file.

A file is committed to the manifest only after its chunks are in the store, and its old
chunks are deleted by source, so an interrupted run is repaired by running it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ingest.chunk import embedding_text
from ingest.manifest import FAILED as M_FAILED
from ingest.manifest import INDEXED, FileRecord, Manifest
from ingest.pages import boxes
from ingest.prepare import Failed, Prepared, Touch
from rag.errors import IndexMismatchError, QuireError, is_disk_full
from rag.retrieval.embed import Embedder, release_memory
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.store import Store
from rag.settings import Settings
from rag.types import ADDED, FAILED, REMOVED, UPDATED, Chunk, FileResult

_REINDEX_KEY = "reindex_started"


class Writer:
    """Writes the two indexes (vectors and keywords) and the manifest, on the one thread that
    writes; both indexes always change together."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: Store,
        lexical: LexicalIndex,
        manifest: Manifest,
    ):
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.lexical = lexical
        self.manifest = manifest
        self.changed = False  # the vector store was written since the holder cleared this

    # --- both indexes -------------------------------------------------------------------

    def _write(self, chunks: Sequence[Chunk], vectors) -> None:
        self.changed = True
        self.store.upsert(chunks, vectors)
        self.lexical.upsert(chunks)

    def _delete(self, ids: set[str]) -> None:
        if ids:
            self.changed = True
            self.store.delete(sorted(ids))
            self.lexical.delete(sorted(ids))

    def _ids_for_source(self, path: str) -> set[str]:
        return self.store.ids_for_source(path) | self.lexical.ids_for_source(path)

    def _embed(self, chunks: Sequence[Chunk]) -> list:
        vectors = self.embedder.embed([embedding_text(c) for c in chunks])
        self._check_dim(len(vectors[0]))
        return vectors

    def _set_meta(self, meta: dict[str, str]) -> None:
        self.manifest.set_meta(meta)
        self.changed = True
        self.store.set_meta(meta)

    # --- index metadata -----------------------------------------------------------------

    def wanted_meta(self) -> dict[str, str]:
        """What the index must have been built with: the embedding model and chunker."""
        return {"embedding_model": self.embedder.name, "chunker": self.settings.chunker_version}

    def check_index(self) -> None:
        """Raise IndexMismatchError if the index was built with other settings."""
        stored = self.manifest.get_meta()
        if _REINDEX_KEY in stored:
            raise IndexMismatchError(
                "an earlier `quire reindex` did not finish; run `quire reindex` again"
            )
        for key, want in self.wanted_meta().items():
            have = stored.get(key)
            if have is not None and have != want:
                raise IndexMismatchError(
                    f"the index was built with {key} {have!r} but the settings now use {want!r}; "
                    "run `quire reindex` to rebuild it (your files are not touched)"
                )

    def _check_dim(self, dim: int) -> None:
        stored = self.manifest.get_meta()
        if "embedding_dim" in stored and int(stored["embedding_dim"]) != dim:
            raise IndexMismatchError(
                f"the index holds {stored['embedding_dim']}-dimensional vectors but the "
                f"embedder gives {dim}; run `quire reindex` to rebuild it"
            )
        if stored.get("embedding_dim") is None:
            self._set_meta({**stored, **self.wanted_meta(), "embedding_dim": str(dim)})

    def begin_reindex(self) -> float:
        """Empty both indexes and mark a rebuild begun, or find the one a killed run began;
        returns when it began (files indexed since then are done)."""
        stored = self.manifest.get_meta()
        started = float(stored.get(_REINDEX_KEY, 0)) or time.time()
        if _REINDEX_KEY not in stored:
            meta = {**self.wanted_meta(), _REINDEX_KEY: repr(started)}
            self.changed = True
            self.store.reset()
            self.lexical.reset()
            self.store.set_meta(meta)
            self.manifest.set_meta(meta)
        return started

    def end_reindex(self) -> None:
        """Mark the rebuild finished."""
        meta = self.manifest.get_meta()
        meta.pop(_REINDEX_KEY, None)
        self._set_meta(meta)

    # --- files --------------------------------------------------------------------------

    def flush(self, batch: list[Prepared], done: Callable[[FileResult], None]) -> None:
        """Embed and write a batch of files together (one model call, one store write), then
        commit each file and tell `done`; if the batch fails, retry file by file to find the
        bad one."""
        if not batch:
            return
        chunks = [c for p in batch for c in p.chunks]
        written = False
        try:
            self._write(chunks, self._embed(chunks))
            written = True
        except QuireError:
            raise
        except Exception as exc:
            if is_disk_full(exc):
                raise
        for p in batch:
            done(self.commit(p, written))
        release_memory()

    def commit(self, p: Prepared, written: bool) -> FileResult:
        """Make the store hold exactly `p`'s new chunks for its source, then record it."""
        ids = [c.id for c in p.chunks]
        try:
            if not written:
                self._write(p.chunks, self._embed(p.chunks))
            self._delete(self._ids_for_source(p.path) - set(ids))
        except QuireError:
            raise
        except Exception as exc:
            if is_disk_full(exc):
                raise
            reason = f"could not index: {type(exc).__name__}: {exc}"
            return self.fail(Failed(p.path, p.kind, reason, self.manifest.get(p.path)))
        if p.boxes:
            boxes.save(self.settings.home, p.path, p.sha256, p.boxes)
        if p.previous_sha != p.sha256:
            self._forget_boxes(p.path, p.previous_sha)
        self.manifest.put(
            FileRecord(
                path=p.path,
                kind=p.kind,
                size=p.size,
                mtime_ns=p.mtime_ns,
                sha256=p.sha256,
                status=INDEXED,
                pages=p.pages,
                chunk_ids=tuple(ids),
                error=p.partial,
                notes=p.notes,
                cut_at=p.cut_at,
            )
        )
        status = UPDATED if p.existed else ADDED
        return FileResult(p.path, status, chunks=len(ids), pages=p.pages, notes=p.notes)

    def touch(self, t: Touch) -> FileResult:
        """Record an unchanged file's new size and time."""
        self.manifest.touch(t.path, t.size, t.mtime_ns)
        return t.result

    def fail(self, f: Failed) -> FileResult:
        """Record a failure (`f.seen`, if given, is the record to keep: one that met a limit);
        the file's old chunks go, since they no longer match the file."""
        old = set(f.previous.chunk_ids) if f.previous else set()
        try:
            old |= self._ids_for_source(f.path)
        except Exception:
            pass
        self._delete(old)
        self._forget_boxes(f.path, f.previous.sha256 if f.previous else "")
        self.manifest.put(
            f.seen
            or FileRecord(
                path=f.path,
                kind=f.kind,
                size=0,
                mtime_ns=0,
                sha256="",
                status=M_FAILED,
                error=f.reason,
            )
        )
        return FileResult(f.path, FAILED, f.reason)

    def remove(self, path: str) -> FileResult:
        """Drop one file from both indexes and the manifest (not from disk)."""
        rec = self.manifest.get(path)
        self._forget_boxes(path, rec.sha256 if rec else "")
        ids = set(rec.chunk_ids) if rec else set()
        ids |= self._ids_for_source(path)
        self._delete(ids)
        self.manifest.delete(path)
        return FileResult(path, REMOVED, chunks=len(ids))

    def _forget_boxes(self, path: str, sha256: str) -> None:
        """Drop the OCR word boxes kept for `path` at content `sha256` (none: nothing)."""
        if sha256:
            boxes.delete(self.settings.home, path, sha256)
