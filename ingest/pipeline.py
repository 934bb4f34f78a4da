"""Incremental ingest: load, chunk, embed in batches, write the store, record the manifest.

A file is committed to the manifest only after its chunks are in the store, and its old
chunks are deleted by source, so an interrupted run is repaired by running it again.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Protocol

from ingest.chunk import chunk_document, embedding_text
from ingest.files import Discovery, discover, inside, open_document, through_link
from ingest.limits import OutOfTime
from ingest.load import kind_for
from ingest.lock import new_generation, read_generation, write_lock
from ingest.manifest import FAILED as M_FAILED
from ingest.manifest import INDEXED, FileRecord, Manifest
from ingest.pages import boxes
from ingest.sandbox import Sandbox
from rag.errors import DiskFullError, IndexMismatchError, LoadError, QuireError, is_disk_full
from rag.retrieval.embed import Embedder, release_memory
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.store import Store
from rag.settings import Settings
from rag.types import (
    ADDED,
    FAILED,
    REMOVED,
    UNCHANGED,
    UPDATED,
    Chunk,
    FileResult,
    IngestReport,
)

# Chunks gathered from several files before one embedding call: small notes batch well.
_FLUSH_CHUNKS = 256
_REINDEX_KEY = "reindex_started"


class Progress(Protocol):
    """Told how many files there are, then about each file as it finishes."""

    def start(self, total: int) -> None: ...

    def advance(self, result: FileResult) -> None: ...


class _Silent:
    def start(self, total: int) -> None:
        pass

    def advance(self, result: FileResult) -> None:
        pass


@dataclass
class _Prepared:
    path: str
    kind: str
    size: int
    mtime_ns: int
    sha256: str
    pages: int
    chunks: list[Chunk]
    notes: tuple[str, ...]
    existed: bool
    boxes: tuple = ()  # word boxes of OCR'd pages (ingest.pages.boxes)
    previous_sha: str = ""  # the content the manifest holds for this path, if any
    partial: str = ""  # what a limit left unread (Document.partial)
    cut_at: str = ""  # that limit, as the manifest records it (FileRecord.cut_at)


@dataclass
class _Later:
    """A write `_prepare` asks for (it may run on the parse thread, which never writes)."""

    action: Callable[[], FileResult | None]
    result: FileResult | None = None

    def run(self) -> FileResult:
        out = self.action()
        return self.result if self.result is not None else out


class Ingestor:
    """Runs ingest, sync, remove and reindex against one embedder, the two indexes (vectors
    and keywords) and the manifest. Both indexes always change together."""

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
        self.lock = write_lock(settings.home)
        # Told who holds the library when another process is writing to it, before waiting.
        self.on_wait: Callable[[str], None] | None = None
        self.parse_ahead = settings.parse_ahead
        self.sandbox = Sandbox.from_settings(settings)  # parses files in a child process
        self._changed = False  # the vector store was written in this `writing` block

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the library's write lock; see other processes' changes first, and tell other
        processes about ours afterwards."""
        with self.lock.hold(self.on_wait), self._disk_full_stops():
            self.refresh()
            if self.lock.depth == 1:
                self._changed = False
            try:
                yield
            finally:
                # Only a change to the vector store makes other processes reopen theirs (an
                # ingest of unchanged files must not cost them a reload of the whole index).
                if self.lock.depth == 1 and self._changed:
                    self.store.mark(new_generation(self.settings.home))

    @contextmanager
    def _disk_full_stops(self) -> Iterator[None]:
        """A full disk ends the run with one clear error; what was committed stays, and the
        file being written when it filled is indexed again by the next run."""
        try:
            yield
        except QuireError:
            raise
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            raise DiskFullError(
                f"the disk holding {self.settings.home} is full; the files indexed before it "
                "filled are kept: free some space and run the command again"
            ) from None

    def refresh(self) -> None:
        """Reopen the vector store if another process changed the library since we looked."""
        self.store.refresh(read_generation(self.settings.home))

    # --- both indexes -------------------------------------------------------------------

    def _write(self, chunks: Sequence[Chunk], vectors) -> None:
        self._changed = True
        self.store.upsert(chunks, vectors)
        self.lexical.upsert(chunks)

    def _delete(self, ids: set[str]) -> None:
        if ids:
            self._changed = True
            self.store.delete(sorted(ids))
            self.lexical.delete(sorted(ids))

    def _ids_for_source(self, path: str) -> set[str]:
        return self.store.ids_for_source(path) | self.lexical.ids_for_source(path)

    def _embed(self, chunks: Sequence[Chunk]) -> list:
        vectors = self.embedder.embed([embedding_text(c) for c in chunks])
        self._check_dim(len(vectors[0]))
        return vectors

    # --- index metadata -----------------------------------------------------------------

    def wanted_meta(self) -> dict[str, str]:
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
            meta = {**stored, **self.wanted_meta(), "embedding_dim": str(dim)}
            self.manifest.set_meta(meta)
            self._changed = True
            self.store.set_meta(meta)

    # --- commands -----------------------------------------------------------------------

    def ingest(self, paths: Sequence[str], progress: Progress | None = None) -> IngestReport:
        """Index files and folders; unchanged files are skipped, changed ones replaced."""
        with self.writing():
            return self._ingest(paths, progress)

    def _ingest(self, paths: Sequence[str], progress: Progress | None) -> IngestReport:
        return self._take(discover(list(paths), self.settings.follow_links), progress)

    def _take(self, found: Discovery, progress: Progress | None) -> IngestReport:
        self.check_index()
        began = time.perf_counter()
        report = IngestReport(files=list(found.results), links=list(found.links))
        progress = progress or _Silent()
        progress.start(len(found.files) + len(found.results))
        for r in found.results:
            progress.advance(r)
        self._run(found.files, report, progress, force=False)
        report.seconds = time.perf_counter() - began
        return report

    def sync(self, folder: str, progress: Progress | None = None) -> IngestReport:
        """Ingest `folder`, then remove from the index every file under it that is gone."""
        with self.writing():
            return self._sync(folder, progress)

    def _sync(self, folder: str, progress: Progress | None) -> IngestReport:
        root = os.path.realpath(os.path.expanduser(folder))
        if not os.path.isdir(root):
            raise QuireError(
                f"folder does not exist: {folder} (to drop its documents from the index, "
                f"use `quire remove {folder}`)"
            )
        began = time.perf_counter()
        report = self._ingest([root], progress)
        present = {f.path for f in report.files}
        for path in self.manifest.paths_under(root):
            if path not in present and _gone(path, root):
                report.files.append(self._remove_one(path))
        report.seconds = time.perf_counter() - began
        return report

    def update(
        self, paths: Sequence[str], progress: Progress | None = None, folder: str | None = None
    ) -> IngestReport:
        """Make the index agree with the disk at `paths` (what a watcher saw change in the
        watched `folder`; without it, each path counts as seen in its own parent folder): a
        file there is ingested, a folder synced, and what is gone at or under a path is
        removed. Nothing is removed whose file is still on disk, unless it was indexed through
        a link that is no longer followed. A link among the paths is judged as in a walk of
        the folder (`ingest.files`), never taken as named by the user."""
        with self.writing():
            return self._update(paths, progress, folder)

    def _update(
        self, paths: Sequence[str], progress: Progress | None, folder: str | None
    ) -> IngestReport:
        began = time.perf_counter()
        paths = list(dict.fromkeys(map(os.path.abspath, paths)))
        folder = os.path.abspath(folder) if folder else None
        present = [p for p in paths if os.path.lexists(p)]
        report = IngestReport()
        if present:
            found = discover(present, self.settings.follow_links, folder, named=False)
            report = self._take(found, progress)
        done = {f.path for f in report.files}
        for p in paths:
            root = folder if folder and inside(p, folder) else os.path.dirname(p)
            for path in self.manifest.paths_under(p):
                if path not in done and _gone(path, root):
                    report.files.append(self._remove_one(path))
                    done.add(path)
        report.seconds = time.perf_counter() - began
        return report

    def remove(self, path: str) -> IngestReport:
        """Drop a file, or every file under a folder, from the index (not from disk)."""
        with self.writing():
            return self._remove(path)

    def _remove(self, path: str) -> IngestReport:
        began = time.perf_counter()
        given = os.path.abspath(os.path.expanduser(path))
        # A link's own path holds what was indexed through it; its target, what was named.
        targets = [given, os.path.realpath(given)] if os.path.exists(given) else [given]
        paths = dict.fromkeys(p for t in targets for p in self.manifest.paths_under(t))
        report = IngestReport(files=[self._remove_one(p) for p in paths])
        report.seconds = time.perf_counter() - began
        return report

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        """Rebuild every chunk and vector with the current settings; resumable if killed."""
        with self.writing():
            return self._reindex(progress)

    def _reindex(self, progress: Progress | None) -> IngestReport:
        began = time.perf_counter()
        stored = self.manifest.get_meta()
        started = float(stored.get(_REINDEX_KEY, 0)) or time.time()
        if _REINDEX_KEY not in stored:
            meta = {**self.wanted_meta(), _REINDEX_KEY: repr(started)}
            self._changed = True
            self.store.reset()
            self.lexical.reset()
            self.store.set_meta(meta)
            self.manifest.set_meta(meta)
        records = [r for r in self.manifest.records() if r.indexed_at < started]
        report = IngestReport()
        progress = progress or _Silent()
        progress.start(len(records))
        todo = []
        for r in records:
            if os.path.isfile(r.path):
                todo.append(r.path)
            else:
                result = self._remove_one(r.path)
                report.files.append(result)
                progress.advance(result)
        self._run(todo, report, progress, force=True)
        meta = self.manifest.get_meta()
        meta.pop(_REINDEX_KEY, None)
        self.manifest.set_meta(meta)
        self._changed = True
        self.store.set_meta(meta)
        report.seconds = time.perf_counter() - began
        return report

    # --- the work -----------------------------------------------------------------------

    def _run(self, files: list[str], report: IngestReport, progress: Progress, force: bool):
        # Closed on the way out even when interrupted, so the parse thread stops with the run
        # (a traceback kept alive would otherwise keep it parsing beside the next run).
        with closing(self._prepared(files, force)) as prepared_files:
            self._consume(prepared_files, report, progress)

    def _consume(self, prepared_files, report: IngestReport, progress: Progress) -> None:
        batch: list[_Prepared] = []
        pending = 0
        for prepared in prepared_files:
            if isinstance(prepared, _Later):  # writes happen here, never on the parse thread
                prepared = prepared.run()
            if isinstance(prepared, FileResult):
                report.files.append(prepared)
                progress.advance(prepared)
                continue
            batch.append(prepared)
            pending += len(prepared.chunks)
            if pending >= _FLUSH_CHUNKS:
                self._flush(batch, report, progress)
                batch, pending = [], 0
        self._flush(batch, report, progress)

    def _prepared(self, files: list[str], force: bool) -> Iterator[_Prepared | FileResult]:
        """Each file loaded and chunked, in order. With `parse_ahead`, one thread reads and
        parses the next files (in the parse worker, `ingest.sandbox`) while this one embeds."""
        if self.parse_ahead <= 0 or len(files) < 2:
            for path in files:
                yield self._prepare(path, force)
            return
        with ThreadPoolExecutor(1, thread_name_prefix="quire-parse") as pool:
            ahead: deque = deque()
            todo = iter(files)
            for path in itertools.islice(todo, self.parse_ahead):
                ahead.append(pool.submit(self._prepare, path, force))
            try:
                while ahead:
                    done = ahead.popleft().result()
                    for path in itertools.islice(todo, 1):
                        ahead.append(pool.submit(self._prepare, path, force))
                    yield done
            finally:
                for f in ahead:
                    f.cancel()

    def _prepare(self, path: str, force: bool) -> _Prepared | FileResult:
        """Load and chunk one file, or say why not (unchanged, or failed with a reason)."""
        if not _utf8(path):  # the manifest, the store and the keyword index keep text names
            return FileResult(path, FAILED, _NOT_UTF8)
        kind = kind_for(path) or "unknown"
        previous = self.manifest.get(path)
        try:
            stands = not force and _stands(previous, self.settings)
            if stands and self._unchanged(path, previous):
                return _as_before(previous)
            # Opened once, then checked and read through the descriptor (`ingest.files`): a
            # file swapped since discovery for a FIFO, a device or a link costs only itself.
            limit, follow = self.settings.max_file_bytes, self.settings.follow_links
            with open_document(path, limit, follow) as f:
                st, data = f.stat, f.read()
            sha = hashlib.sha256(data).hexdigest()
            if stands and previous.sha256 == sha:
                size, mtime = st.st_size, st.st_mtime_ns
                return _Later(lambda: self.manifest.touch(path, size, mtime), _as_before(previous))
            doc = self.sandbox.load(path, data)
            chunks = chunk_document(
                doc,
                path,
                self.settings.chunk_tokens,
                self.settings.chunk_overlap,
                self.embedder.count_tokens,
                self.embedder.max_tokens,
            )
            if not chunks:
                raise LoadError("no text to index")
            if len(chunks) > self.settings.max_chunks:
                raise LoadError(
                    f"the file makes {len(chunks):,} chunks, over the limit of "
                    f"{self.settings.max_chunks:,} (QUIRE_MAX_CHUNKS)"
                )
        except OutOfTime as exc:  # kept with the file's identity: not read again while unchanged
            reason = f"{exc}; it is read again when it changes or the limit is raised"
            seen = FileRecord(path, kind, st.st_size, st.st_mtime_ns, sha, M_FAILED,
                              error=reason, cut_at=_cut_at("seconds", self.settings))  # fmt: skip
            return _Later(lambda: self._fail(path, kind, reason, previous, seen))
        except LoadError as exc:
            reason = str(exc)
        except OSError as exc:
            reason = _os_reason(exc)
        except Exception as exc:  # a loader bug on a strange file must not stop the batch
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
        else:
            reason = ""
        if reason:
            return _Later(lambda: self._fail(path, kind, reason, previous))
        return _Prepared(
            path=path,
            kind=doc.kind,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            sha256=sha,
            pages=len(doc.pages) if doc.paged else 0,
            chunks=chunks,
            notes=doc.notes,
            existed=previous is not None and previous.status == INDEXED,
            boxes=doc.boxes,
            previous_sha=previous.sha256 if previous else "",
            partial=doc.partial,
            cut_at=_cut_at(doc.cut_by, self.settings),
        )

    def _unchanged(self, path: str, previous: FileRecord) -> bool:
        """Whether `path` is the regular file, within the size limit, of the size and time the
        manifest holds: known unchanged from a look, without opening it."""
        st = os.lstat(path)
        return (
            stat.S_ISREG(st.st_mode)
            and st.st_size <= self.settings.max_file_bytes
            and (previous.size, previous.mtime_ns) == (st.st_size, st.st_mtime_ns)
        )

    def _flush(self, batch: list[_Prepared], report: IngestReport, progress: Progress) -> None:
        """Embed and write a batch of files together (one model call, one store write), then
        commit each file; if the batch fails, retry file by file to find the bad one."""
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
            result = self._commit(p, written)
            report.files.append(result)
            progress.advance(result)
        release_memory()

    def _commit(self, p: _Prepared, written: bool) -> FileResult:
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
            return self._fail(p.path, p.kind, reason, self.manifest.get(p.path))
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

    def _fail(
        self,
        path: str,
        kind: str,
        reason: str,
        previous: FileRecord | None,
        seen: FileRecord | None = None,
    ) -> FileResult:
        """Record a failure (`seen`, if given, is the record to keep: one that met a limit);
        the file's old chunks go, since they no longer match the file."""
        old = set(previous.chunk_ids) if previous else set()
        try:
            old |= self._ids_for_source(path)
        except Exception:
            pass
        self._delete(old)
        self._forget_boxes(path, previous.sha256 if previous else "")
        self.manifest.put(
            seen
            or FileRecord(
                path=path, kind=kind, size=0, mtime_ns=0, sha256="", status=M_FAILED, error=reason
            )
        )
        return FileResult(path, FAILED, reason)

    def _forget_boxes(self, path: str, sha256: str) -> None:
        """Drop the OCR word boxes kept for `path` at content `sha256` (none: nothing)."""
        if sha256:
            boxes.delete(self.settings.home, path, sha256)

    def _remove_one(self, path: str) -> FileResult:
        rec = self.manifest.get(path)
        self._forget_boxes(path, rec.sha256 if rec else "")
        ids = set(rec.chunk_ids) if rec else set()
        ids |= self._ids_for_source(path)
        self._delete(ids)
        self.manifest.delete(path)
        return FileResult(path, REMOVED, chunks=len(ids))


def _gone(path: str, folder: str) -> bool:
    """Whether the indexed `path` under `folder` left it: no file there any more, or one
    reached through a link that this run did not follow."""
    return not os.path.isfile(path) or through_link(path, folder)


def _stands(rec: FileRecord | None, settings: Settings) -> bool:
    """Whether `rec`'s result holds while its file is unchanged: an indexed file, or one that
    failed at the time limit, unless the limit that cut it short has since been raised."""
    if rec is None or not (rec.status == INDEXED or rec.cut_at):
        return False
    name, _, value = rec.cut_at.partition("=")
    now = _LIMITS[name](settings) if name in _LIMITS else None
    try:
        return now is None or now <= float(value)
    except ValueError:
        return False


def _as_before(rec: FileRecord) -> FileResult:
    """The result of a file not read again: unchanged, or failed as before."""
    if rec.status == INDEXED:
        return FileResult(rec.path, UNCHANGED, chunks=len(rec.chunk_ids), pages=rec.pages)
    return FileResult(rec.path, FAILED, rec.error)


_LIMITS = {"seconds": lambda s: s.parse_seconds, "pages": lambda s: s.max_pages}


def _cut_at(cut_by: str, settings: Settings) -> str:
    """The limit `cut_by` names, with its value now: "seconds=300", "pages=20000"; or ""."""
    return f"{cut_by}={_LIMITS[cut_by](settings):.15g}" if cut_by in _LIMITS else ""


_NOT_UTF8 = (
    "its name is not valid UTF-8 (written in an older encoding), which the index cannot "
    "store: rename the file to index it"
)


def _utf8(path: str) -> bool:
    """Whether `path` is valid text: a name in another encoding reaches Python with its
    undecodable bytes as lone surrogates, which SQLite and Chroma refuse."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "file disappeared during ingest"
    return f"cannot read: {exc.strerror or exc}"
