"""The library's watched folders and what the watcher is doing with them.

Kept in `QUIRE_HOME/watch.sqlite3`, so `quire watch add`, a running `quire watch`, the app and
`quire watch list` all see one list: the watcher writes each folder's state and a heartbeat,
the others read them. Only one process watches a library at a time (`watch.lock`).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.errors import QuireError
from rag.sqlite import open_db, transaction

WATCHING, SYNCING, MISSING, ERROR, NEW = "watching", "syncing", "missing", "error", "new"
HEARTBEAT = 5.0  # seconds between a watcher's signs of life
_SCHEMA = """
CREATE TABLE IF NOT EXISTS folders (
    path TEXT PRIMARY KEY,
    added REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'new',
    pending INTEGER NOT NULL DEFAULT 0,
    last_synced REAL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS watcher (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    command TEXT NOT NULL,
    started REAL NOT NULL,
    heartbeat REAL NOT NULL
);
"""


@dataclass(frozen=True)
class WatchedFolder:
    """One watched folder: `state` is new, watching, syncing (`pending` files), missing or
    error; `note` says why (missing, inotify limit, an error); times are Unix seconds."""

    path: str
    added: float
    state: str = NEW
    pending: int = 0
    last_synced: float | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class WatcherInfo:
    """The process keeping the folders in sync, as it last said."""

    pid: int
    command: str
    started: float
    heartbeat: float

    def alive(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        if now - self.heartbeat > 3 * HEARTBEAT:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


class WatchList:
    """The watched folders of the library at `home`."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self._db = open_db(self.home / "watch.sqlite3", _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def folders(self) -> list[WatchedFolder]:
        rows = self._db.execute(
            "SELECT path, added, state, pending, last_synced, note FROM folders ORDER BY path"
        ).fetchall()
        return [WatchedFolder(*r) for r in rows]

    def paths(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT path FROM folders ORDER BY path")]

    def add(self, folder: str) -> str:
        """Watch `folder` (its real path is kept and returned); an error if it is not a folder,
        or is inside QUIRE_HOME, or holds QUIRE_HOME outside a hidden folder."""
        path = os.path.realpath(os.path.expanduser(folder))
        if not os.path.isdir(path):
            raise QuireError(f"not a folder: {folder}")
        home = os.path.realpath(self.home)
        if _inside(path, home):
            raise QuireError(f"{folder} is inside Quire's own data folder ({home})")
        if _inside(home, path) and not _hidden_between(path, home):
            raise QuireError(
                f"{folder} holds Quire's own data folder ({home}); watch the folders beside it"
            )
        self._db.execute(
            "INSERT OR IGNORE INTO folders (path, added) VALUES (?, ?)", (path, time.time())
        )
        return path

    def remove(self, folder: str) -> str | None:
        """Stop watching `folder`; returns the path that was watched, or None."""
        given = os.path.abspath(os.path.expanduser(folder))
        for path in dict.fromkeys([given, os.path.realpath(given)]):
            cur = self._db.execute("DELETE FROM folders WHERE path = ?", (path,))
            if cur.rowcount:
                return path
        return None

    def set_state(
        self,
        path: str,
        state: str,
        pending: int = 0,
        note: str = "",
        synced: bool = False,
    ) -> None:
        sql = "UPDATE folders SET state = ?, pending = ?, note = ?"
        args: list = [state, pending, note]
        if synced:
            sql += ", last_synced = ?"
            args.append(time.time())
        self._db.execute(sql + " WHERE path = ?", [*args, path])

    def beat(self, pid: int, command: str, started: float) -> None:
        """The watcher's sign of life."""
        with transaction(self._db) as db:
            db.execute(
                "INSERT OR REPLACE INTO watcher (id, pid, command, started, heartbeat)"
                " VALUES (1, ?, ?, ?, ?)",
                (pid, command, started, time.time()),
            )

    def stopped(self, pid: int) -> None:
        self._db.execute("DELETE FROM watcher WHERE pid = ?", (pid,))

    def watcher(self) -> WatcherInfo | None:
        """The watcher that last said it was alive, if it still is."""
        row = self._db.execute(
            "SELECT pid, command, started, heartbeat FROM watcher WHERE id = 1"
        ).fetchone()
        info = WatcherInfo(*row) if row else None
        return info if info is not None and info.alive() else None


def describe(folder: WatchedFolder, watched: bool, now: float | None = None) -> str:
    """A folder's state in words, for `quire watch list` and the app."""
    now = time.time() if now is None else now
    synced = f"last synced {ago(folder.last_synced, now)}" if folder.last_synced else "not synced"
    if folder.state == MISSING:
        return f"missing: {folder.note or 'folder not found'} (nothing removed); {synced}"
    if not watched:
        return f"not watched now; {synced}"
    if folder.state == SYNCING:
        return f"syncing {folder.pending} file{'s' * (folder.pending != 1)}"
    if folder.state == ERROR:
        return f"error: {folder.note}; {synced}"
    if folder.state == NEW:
        return "waiting for its first sync"
    return f"watching; {synced}" + (f" ({folder.note})" if folder.note else "")


def ago(when: float, now: float) -> str:
    seconds = max(0, int(now - when))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def try_watch_lock(home: Path) -> int | None:
    """A descriptor holding `QUIRE_HOME/watch.lock` (closing it releases the lock), or None
    at once when another process holds it."""
    fd = _open_lock(home)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def watch_lock(home: Path, wait: bool, on_wait: Callable[[], None] | None = None) -> Iterator[bool]:
    """Hold `QUIRE_HOME/watch.lock` (one watcher per library). Yields False at once when
    another process holds it and `wait` is false; with `wait`, calls `on_wait` and blocks
    until it is free."""
    fd = try_watch_lock(home)
    if fd is None:
        if not wait:
            yield False
            return
        if on_wait is not None:
            on_wait()
        fd = _open_lock(home)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
    try:
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _open_lock(home: Path) -> int:
    path = Path(home) / "watch.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _hidden_between(folder: str, inner: str) -> bool:
    """Whether a folder between `folder` and `inner` is hidden (a sync passes over it)."""
    rel = os.path.relpath(inner, folder)
    return any(part.startswith(".") for part in rel.split(os.sep))
