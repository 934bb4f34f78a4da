"""Incremental ingest: the public operations (ingest, sync, update, remove, reindex) under the
library's write lock, and the run that joins the two halves of the work. One thread reads and
parses the next files (`ingest.prepare`) while this one embeds them in batches, writes both
indexes and records each file in the manifest (`ingest.commit`).
"""

from __future__ import annotations

import itertools
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from typing import Protocol

from ingest.commit import Writer
from ingest.files import Discovery, discover, inside, through_link
from ingest.lock import new_generation, read_generation, write_lock
from ingest.manifest import Manifest
from ingest.prepare import Failed, Prepared, Reader, Touch
from ingest.sandbox import Sandbox
from rag.errors import DiskFullError, QuireError, is_disk_full
from rag.retrieval.embed import Embedder
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.store import Store
from rag.settings import Settings
from rag.types import FileResult, IngestReport

# Chunks gathered from several files before one embedding call: small notes batch well.
_FLUSH_CHUNKS = 256


class Progress(Protocol):
    """Told how many files there are, then about each file as it finishes."""

    def start(self, total: int) -> None: ...

    def advance(self, result: FileResult) -> None: ...


class _Silent:
    def start(self, total: int) -> None:
        pass

    def advance(self, result: FileResult) -> None:
        pass


class Ingestor:
    """Runs ingest, sync, remove and reindex against one embedder, the two indexes (vectors
    and keywords) and the manifest, parsing files in `sandbox`."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: Store,
        lexical: LexicalIndex,
        manifest: Manifest,
        sandbox: Sandbox,
    ):
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.lexical = lexical
        self.manifest = manifest
        self.sandbox = sandbox  # parses files in a child process
        self.lock = write_lock(settings.home)
        # Told who holds the library when another process is writing to it, before waiting.
        self.on_wait: Callable[[str], None] | None = None
        self.parse_ahead = settings.parse_ahead
        self.reader = Reader(settings, manifest, sandbox, embedder)
        self.writer = Writer(settings, embedder, store, lexical, manifest)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the library's write lock; see other processes' changes first, and tell other
        processes about ours afterwards."""
        with self.lock.hold(self.on_wait), self._disk_full_stops():
            self.refresh()
            if self.lock.depth == 1:
                self.writer.changed = False
            try:
                yield
            finally:
                # Only a change to the vector store makes other processes reopen theirs (an
                # ingest of unchanged files must not cost them a reload of the whole index).
                if self.lock.depth == 1 and self.writer.changed:
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

    def check_index(self) -> None:
        """Raise IndexMismatchError if the index was built with other settings."""
        self.writer.check_index()

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
                report.files.append(self.writer.remove(path))
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
                    report.files.append(self.writer.remove(path))
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
        report = IngestReport(files=[self.writer.remove(p) for p in paths])
        report.seconds = time.perf_counter() - began
        return report

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        """Rebuild every chunk and vector with the current settings; resumable if killed."""
        with self.writing():
            return self._reindex(progress)

    def _reindex(self, progress: Progress | None) -> IngestReport:
        began = time.perf_counter()
        started = self.writer.begin_reindex()
        records = [r for r in self.manifest.records() if r.indexed_at < started]
        report = IngestReport()
        progress = progress or _Silent()
        progress.start(len(records))
        todo = []
        for r in records:
            if os.path.isfile(r.path):
                todo.append(r.path)
            else:
                result = self.writer.remove(r.path)
                report.files.append(result)
                progress.advance(result)
        self._run(todo, report, progress, force=True)
        self.writer.end_reindex()
        report.seconds = time.perf_counter() - began
        return report

    # --- the work -----------------------------------------------------------------------

    def _run(self, files: list[str], report: IngestReport, progress: Progress, force: bool):
        # Closed on the way out even when interrupted, so the parse thread stops with the run
        # (a traceback kept alive would otherwise keep it parsing beside the next run).
        with closing(self._prepared(files, force)) as prepared_files:
            self._consume(prepared_files, report, progress)

    def _consume(self, prepared_files, report: IngestReport, progress: Progress) -> None:
        def done(result: FileResult) -> None:
            report.files.append(result)
            progress.advance(result)

        batch: list[Prepared] = []
        pending = 0
        for prepared in prepared_files:
            # What the parse thread could not write is written here.
            if isinstance(prepared, Touch):
                prepared = self.writer.touch(prepared)
            elif isinstance(prepared, Failed):
                prepared = self.writer.fail(prepared)
            if isinstance(prepared, FileResult):
                done(prepared)
                continue
            batch.append(prepared)
            pending += len(prepared.chunks)
            if pending >= _FLUSH_CHUNKS:
                self.writer.flush(batch, done)
                batch, pending = [], 0
        self.writer.flush(batch, done)

    def _prepared(
        self, files: list[str], force: bool
    ) -> Iterator[Prepared | Touch | Failed | FileResult]:
        """Each file loaded and chunked, in order. With `parse_ahead`, one thread reads and
        parses the next files (in the parse worker, `ingest.sandbox`) while this one embeds."""
        prepare = self.reader.prepare
        if self.parse_ahead <= 0 or len(files) < 2:
            for path in files:
                yield prepare(path, force)
            return
        with ThreadPoolExecutor(1, thread_name_prefix="quire-parse") as pool:
            ahead: deque = deque()
            todo = iter(files)
            for path in itertools.islice(todo, self.parse_ahead):
                ahead.append(pool.submit(prepare, path, force))
            try:
                while ahead:
                    done = ahead.popleft().result()
                    for path in itertools.islice(todo, 1):
                        ahead.append(pool.submit(prepare, path, force))
                    yield done
            finally:
                for f in ahead:
                    f.cancel()


def _gone(path: str, folder: str) -> bool:
    """Whether the indexed `path` under `folder` left it: no file there any more, or one
    reached through a link that this run did not follow."""
    return not os.path.isfile(path) or through_link(path, folder)
