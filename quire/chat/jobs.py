"""Index changes run one at a time on a background thread, so asking never waits for an ingest.

The app hands ingest, sync, remove and reindex to a `Writer`. The writer's thread has its own
engine (its own SQLite connections; the embedder is shared), so the app's readers see each file
once it is committed and never see half a transaction. What is still queued or running is known,
so an answer can say which uploaded files it could not use yet.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.errors import QuireError
from rag.types import FileResult, IngestReport

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass
class Job:
    """One index change and how far it has got."""

    id: int
    kind: str  # ingest, sync, remove, reindex
    targets: list[str]  # the paths given
    state: str = QUEUED
    total: int = 0  # files found, once known
    results: list[FileResult] = field(default_factory=list)
    error: str = ""
    note: str = ""  # e.g. waiting for another process that is writing to the library
    started: float = 0.0
    finished: float = 0.0

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def snapshot(self) -> Job:
        return Job(
            self.id,
            self.kind,
            list(self.targets),
            self.state,
            self.total,
            list(self.results),
            self.error,
            self.note,
            self.started,
            self.finished,
        )


class _Progress:
    def __init__(self, job: Job, lock: threading.Lock) -> None:
        self.job, self.lock = job, lock

    def start(self, total: int) -> None:
        with self.lock:
            self.job.total = total

    def advance(self, result: FileResult) -> None:
        with self.lock:
            self.job.results.append(result)


class Writer:
    """A queue of index changes and the thread that applies them, in order."""

    def __init__(self, make_engine: Callable[[], object], uploads=None, keep: int = 50) -> None:
        self._make_engine = make_engine  # called on the writer's thread
        self._uploads = uploads  # an `ingest.uploads.Uploads`: removing its files deletes them
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: list[Job] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._keep = keep
        self._thread = threading.Thread(target=self._work, name="quire-writer", daemon=True)
        self._thread.start()

    def submit(self, kind: str, targets: list[str]) -> Job:
        if kind not in ("ingest", "sync", "remove", "reindex"):
            raise QuireError(f"unknown index change {kind!r}")
        job = Job(next(self._ids), kind, list(targets))
        with self._lock:
            self._jobs.append(job)
            done = [j for j in self._jobs if not j.active]
            for old in done[: max(0, len(done) - self._keep)]:
                self._jobs.remove(old)
        self._queue.put(job)
        return job.snapshot()

    def jobs(self) -> list[Job]:
        """Copies of the known jobs, oldest first."""
        with self._lock:
            return [j.snapshot() for j in self._jobs]

    def job(self, job_id: int) -> Job | None:
        return next((j for j in self.jobs() if j.id == job_id), None)

    def busy(self) -> bool:
        return any(j.active for j in self.jobs())

    def pending(self) -> list[str]:
        """Paths given to ingest jobs that are not committed yet."""
        out = []
        for j in self.jobs():
            if j.kind == "ingest" and j.active:
                finished = {r.path for r in j.results}
                out.extend(t for t in j.targets if t not in finished)
        return out

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running; False on timeout."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.busy():
            if end is not None and time.monotonic() > end:
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _work(self) -> None:
        engine = None
        while True:
            job = self._queue.get()
            if job is None:
                break
            with self._lock:
                job.state, job.started = RUNNING, time.time()
            try:
                if engine is None:
                    engine = self._make_engine()
                ingestor = getattr(engine, "ingestor", None)
                if ingestor is not None:
                    ingestor.on_wait = lambda who, job=job: self._note(
                        job, f"waiting: {who} is changing this library"
                    )
                self._apply(engine, job)
                state, error = DONE, ""
            except Exception as e:  # a job's failure is shown with it; the writer goes on
                state, error = FAILED, str(e) or type(e).__name__
            with self._lock:
                job.state, job.error, job.finished = state, error, time.time()
        if engine is not None:
            engine.close()

    def _note(self, job: Job, text: str) -> None:
        with self._lock:
            job.note = text

    def _apply(self, engine, job: Job) -> IngestReport:
        progress = _Progress(job, self._lock)
        if job.kind == "ingest":
            return engine.ingest(job.targets, progress)
        if job.kind == "sync":
            return engine.sync(job.targets[0], progress)
        if job.kind == "reindex" and not job.targets:
            return engine.reindex(progress)
        if job.kind == "reindex":  # these files only: forget them, then index them again
            for path in job.targets:
                engine.remove(path)
            return engine.ingest(job.targets, progress)
        report = IngestReport()
        for path in job.targets:
            r = engine.remove(path)
            for f in r.files:
                progress.advance(f)
            report.files.extend(r.files)
            if self._uploads is not None:
                self._uploads.delete(path)  # only if it is Quire's own copy of an upload
        return report
