"""Keep a library's watched folders in sync: file-system events (watchdog: inotify on Linux,
FSEvents on macOS), settled (`settle.py`), applied as index updates, with a full `sync` of
every folder at start and every `rescan` seconds as the safety net for missed events (network
drives, a laptop asleep, an inotify limit).

A folder that disappears, or that suddenly has nothing in it while the index holds files from
it (an unmounted drive leaves its empty mount point), is reported missing and nothing of it is
removed. The index is only written through the library's `update` and `sync`, which hold the
library's write lock: the watcher, the app and the CLI take turns.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from ingest.load import kind_for
from ingest.lock import process_command
from ingest.watch.folders import ERROR, HEARTBEAT, MISSING, SYNCING, WATCHING, WatchList
from ingest.watch.settle import Settle, ignored
from rag.errors import QuireError
from rag.types import ADDED, FAILED, REMOVED, UPDATED, FileResult, IngestReport

TICK = 0.2  # seconds between looks at what has settled
CHECK = 2.0  # seconds between looks at the watch list and whether folders are still there
SHOWN = (ADDED, UPDATED, REMOVED, FAILED)


class Library(Protocol):
    """What the watcher needs of an engine."""

    def update(
        self, paths: Sequence[str], progress=None, folder: str | None = None
    ) -> IngestReport: ...
    def sync(self, folder: str, progress=None) -> IngestReport: ...
    def indexed_under(self, folder: str) -> list[str]: ...


class Watcher:
    """Watches the folders in `watch_list` for `library` until `stop` is set (`run`)."""

    def __init__(
        self,
        library: Library,
        watch_list: WatchList,
        quiet: float = 1.0,
        rescan: float = 600.0,
        log: Callable[[str], None] | None = None,
        observer_factory: Callable[[], object] | None = None,
        private: Sequence[Path] = (),
    ) -> None:
        self.library = library
        self.watch_list = watch_list
        self.settle = Settle(quiet=quiet)
        self.rescan = rescan
        self.log = log or (lambda line: None)
        self.recent: deque[str] = deque(maxlen=50)  # the last changes, for the app
        self._observer_factory = observer_factory or _default_observer
        self._private = [os.path.realpath(p) for p in private]  # QUIRE_HOME, the cache
        self._watches: dict[str, object] = {}  # folder -> its observer watch (None: rescans)
        self._missing: set[str] = set()
        self._observer = None

    # --- the loop -----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        pid, command, started = os.getpid(), process_command(), time.time()
        self._observer = self._observer_factory()
        self._observer.start()
        done = threading.Event()  # the heartbeat goes on while a long sync waits or works
        beat = threading.Thread(
            target=self._beat, args=(pid, command, started, stop, done), daemon=True,
            name="quire-watch-beat",
        )  # fmt: skip
        clock = time.monotonic
        try:
            self.watch_list.beat(pid, command, started)
            beat.start()
            self.reconcile()
            next_check, next_rescan = clock() + CHECK, clock() + self.rescan
            while not stop.wait(TICK):
                now = clock()
                if now >= next_check:
                    self.reconcile()
                    next_check = now + CHECK
                due = self.settle.due()
                if due:
                    self.apply(due)
                if now >= next_rescan:
                    for folder in list(self._watches):
                        self._sync(folder)
                    next_rescan = clock() + self.rescan
        finally:
            done.set()
            if beat.is_alive():
                beat.join(timeout=5)
            self._observer.stop()
            self._observer.join(timeout=5)
            self.watch_list.stopped(pid)

    def _beat(self, pid, command, started, stop: threading.Event, done: threading.Event):
        while not done.wait(HEARTBEAT) and not stop.is_set():
            try:
                self.watch_list.beat(pid, command, started)
            except Exception:  # a locked or full database: the next beat tries again
                pass

    def reconcile(self) -> None:
        """Start watching new folders (sync first), stop watching removed ones, and notice
        folders that went missing or came back."""
        wanted = self.watch_list.paths()
        for folder in [f for f in self._watches if f not in wanted]:
            self._unwatch(folder)
        self._missing &= set(wanted)
        for folder in wanted:
            why = self._why_missing(folder)
            if why:
                if folder not in self._missing:
                    self._unwatch(folder)
                    self._missing.add(folder)
                    self.watch_list.set_state(folder, MISSING, note=why)
                    self._say(f"missing: {folder}: {why}; nothing of it is removed")
                continue
            if folder in self._watches:
                continue
            if folder in self._missing:
                self._missing.discard(folder)
                self._say(f"back: {folder}")
            self._watch(folder)
            self._sync(folder)

    def apply(self, paths: list[str]) -> None:
        """Bring the index up to date at `paths` (settled changes), folder by folder."""
        by_folder: dict[str, list[str]] = {}
        for path in paths:
            folder = self._folder_of(path)
            if folder is not None and folder not in self._missing:
                by_folder.setdefault(folder, []).append(path)
        for folder, changed in by_folder.items():
            if self._why_missing(folder):
                continue  # the next check reports it; nothing is removed meanwhile
            work = functools.partial(self.library.update, changed, folder=folder)
            self._run(folder, work, len(changed))

    # --- helpers ------------------------------------------------------------------------

    def _sync(self, folder: str) -> None:
        if self._why_missing(folder):
            return
        self._run(folder, lambda p: self.library.sync(folder, p), 0)

    def _run(self, folder: str, work: Callable, pending: int) -> None:
        note = "" if self._watches.get(folder) is not None else self._rescan_note()
        self.watch_list.set_state(folder, SYNCING, pending=pending, note=note)
        try:
            report = work(_Progress(self.watch_list, folder, note))
        except QuireError as exc:  # e.g. the index was built with other settings
            self.watch_list.set_state(folder, ERROR, note=str(exc))
            self._say(f"error: {folder}: {exc}")
            return
        except Exception as exc:  # one bad run must not stop the watcher
            self.watch_list.set_state(folder, ERROR, note=f"{type(exc).__name__}: {exc}")
            self._say(f"error: {folder}: {type(exc).__name__}: {exc}")
            return
        self.watch_list.set_state(folder, WATCHING, note=note, synced=True)
        for result in report.files:
            if result.status in SHOWN:
                self._say(_line(result, folder))

    def _watch(self, folder: str) -> None:
        try:
            watch = self._observer.schedule(_Handler(self, folder), folder, recursive=True)
        except OSError as exc:  # e.g. the inotify watch limit: rescans still keep it right
            self._say(f"no file-system events for {folder} ({exc}); synced every "
                      f"{self.rescan:g} s instead")  # fmt: skip
            watch = None
        self._watches[folder] = watch

    def _rescan_note(self) -> str:
        return f"no file-system events here; synced every {self.rescan:g} s"

    def _unwatch(self, folder: str) -> None:
        watch = self._watches.pop(folder, None)
        if watch is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError):
                pass  # its folder is gone, and the watch with it
        self.settle.drop_under(folder)

    def _why_missing(self, folder: str) -> str:
        if not os.path.isdir(folder):
            return "folder not found"
        try:
            with os.scandir(folder) as entries:
                empty = next(entries, None) is None
        except OSError as exc:
            return f"cannot read it ({exc.strerror or exc})"
        if empty and self.library.indexed_under(folder):
            return "the folder is empty but its files are in the index (an unmounted drive?)"
        return ""

    def _folder_of(self, path: str) -> str | None:
        best = None
        for folder in self._watches:
            if path == folder or path.startswith(folder.rstrip(os.sep) + os.sep):
                if best is None or len(folder) > len(best):
                    best = folder
        return best

    def wants(self, path: str, folder: str, is_dir: bool) -> bool:
        """Whether an event at `path` matters: not a temp or hidden file, a type Quire reads,
        not Quire's own files."""
        if ignored(path, folder, is_dir) or (not is_dir and kind_for(path) is None):
            return False
        return not any(path == p or path.startswith(p + os.sep) for p in self._private)

    def _say(self, line: str) -> None:
        self.recent.append(f"{time.strftime('%H:%M:%S')} {line}")
        self.log(line)


class _Handler:
    """Feeds watchdog's events for one folder into the watcher's `Settle`."""

    def __init__(self, watcher: Watcher, folder: str) -> None:
        self.watcher, self.folder = watcher, folder

    def dispatch(self, event) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write") or (event.is_directory and kind == "modified"):
            return
        paths = [event.src_path]
        if kind == "moved":
            paths.append(event.dest_path)
        for path in paths:
            path = os.fsdecode(path)
            if self.watcher.wants(path, self.folder, event.is_directory):
                self.watcher.settle.touch(path)


class _Progress:
    """A run's progress as the folder's `syncing N files` state (written at most twice a
    second)."""

    def __init__(self, watch_list: WatchList, folder: str, note: str) -> None:
        self.watch_list, self.folder, self.note = watch_list, folder, note
        self.total = self.done = 0
        self._last = 0.0

    def start(self, total: int) -> None:
        self.total, self.done = total, 0
        self._write()

    def advance(self, result: FileResult) -> None:
        self.done += 1
        if time.monotonic() - self._last >= 0.5:
            self._write()

    def _write(self) -> None:
        self._last = time.monotonic()
        left = max(0, self.total - self.done)
        self.watch_list.set_state(self.folder, SYNCING, pending=left, note=self.note)


def _line(result: FileResult, folder: str) -> str:
    rel = os.path.relpath(result.path, os.path.dirname(folder))
    if result.status == FAILED:
        return f"failed  {rel}: {result.reason}"
    n = result.chunks
    chunks = f" ({n} chunk{'s' * (n != 1)})" if result.status != REMOVED else ""
    return f"{result.status:8}{rel}{chunks}"


def _default_observer():
    from watchdog.observers import Observer  # inotify on Linux, FSEvents on macOS

    return Observer()
