"""One writer at a time per library, across processes; readers told when another one wrote.

Chroma's `PersistentClient` is not safe with two writing processes, and a process that did not
write keeps serving its old in-memory vector index (measured: after another process added 3,000
vectors to 3,000, a query still saw 3,000 until the client was reopened). So:

- every change to the index (ingest, sync, remove, reindex) holds an exclusive `flock` on
  `QUIRE_HOME/write.lock`; a second writer waits, and is told who holds it;
- after each change the writer stores a new token in `QUIRE_HOME/generation`; a process that
  finds a token it did not write reopens its store before reading or writing.
"""

from __future__ import annotations

import fcntl
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class WriteLock:
    """Exclusive between processes, re-entrant within one (nested calls, one thread at a time)."""

    def __init__(self, home: Path) -> None:
        self.path = home / "write.lock"
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @property
    def depth(self) -> int:
        """How deeply the current holder has nested `hold` (0: not held)."""
        return self._depth

    @contextmanager
    def hold(self, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                self._acquire(on_wait)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self, on_wait: Callable[[str], None] | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(_holder(fd))
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {process_command()}\n".encode(), 0)
        self._fd = fd

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


_LOCKS: dict[Path, WriteLock] = {}
_LOCKS_GUARD = threading.Lock()


def write_lock(home: Path) -> WriteLock:
    """The process's one lock object for the library at `home` (two would block each other)."""
    home = Path(home).resolve()
    with _LOCKS_GUARD:
        if home not in _LOCKS:
            _LOCKS[home] = WriteLock(home)
        return _LOCKS[home]


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    pid, _, command = text.partition(" ")
    return f"process {pid} ({command})" if pid else "another process"


def process_command() -> str:
    """This process's command in a few words (`python3.11 quire watch`), to say who holds a lock."""
    try:
        with open(f"/proc/{os.getpid()}/cmdline", "rb") as f:
            parts = f.read().split(b"\0")
    except OSError:
        return "quire"
    words = [os.path.basename(p.decode("utf-8", "replace")) for p in parts[:3] if p]
    return " ".join(words) or "quire"


def read_generation(home: Path) -> str:
    """The token of the last change to the index ("" before the first)."""
    try:
        return (home / "generation").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def new_generation(home: Path) -> str:
    """Record that the index changed; returns the new token."""
    token = uuid.uuid4().hex
    tmp = home / f".generation-{os.getpid()}-{threading.get_ident()}"
    try:
        tmp.write_text(token + "\n", encoding="ascii")
        os.replace(tmp, home / "generation")
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not leave an empty temp file behind
        raise
    return token
