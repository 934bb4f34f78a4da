"""Which changed paths are ready to index: editors' temp and swap files passed over, and a
path taken only once it has been quiet for a moment and its size and time stopped changing.

Editors save in odd ways: vim renames the file to `name~`, writes a new one and deletes the
backup (after a `4913` probe file); VS Code and JetBrains may write a temp file and rename it
over the original; Obsidian saves every couple of seconds while one types; Office and
LibreOffice keep `~$name.docx` and `.~lock.name.odt#` beside an open file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ingest.files import passed_over, temp_file


def ignored(path: str, root: str, is_dir: bool = False) -> bool:
    """Whether a change at `path` (inside the watched folder `root`) can be passed over: a
    hidden or tool folder on the way, a temp or swap file, or a type Quire does not read."""
    rel = os.path.relpath(path, root)
    if rel == "." or rel.startswith(".." + os.sep) or rel == "..":
        return rel != "."
    parts = rel.split(os.sep)
    if any(passed_over(p) for p in parts):
        return True
    return not is_dir and temp_file(parts[-1])


@dataclass
class _Entry:
    first: float
    last: float
    signature: tuple | None


def signature(path: str) -> tuple | None:
    """Size and modification time (None if gone): a file still being written changes it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


class Settle:
    """Changed paths waiting to settle. `touch` from any thread; `due` hands out each path
    once nothing has happened to it for `quiet` seconds and its signature held still since
    the last event, or once it has waited `longest` seconds (a file that never stops
    changing, such as a log, is still indexed now and then)."""

    def __init__(
        self,
        quiet: float = 1.0,
        longest: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sign: Callable[[str], tuple | None] = signature,
    ) -> None:
        self.quiet, self.longest = quiet, longest
        self._clock, self._sign = clock, sign
        self._pending: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def touch(self, path: str) -> None:
        now = self._clock()
        sig = self._sign(path)
        with self._lock:
            entry = self._pending.get(path)
            if entry is None:
                self._pending[path] = _Entry(now, now, sig)
            else:
                entry.last, entry.signature = now, sig

    def due(self) -> list[str]:
        now = self._clock()
        with self._lock:
            waiting = [(p, e) for p, e in self._pending.items() if now - e.last >= self.quiet]
        ready = []
        for path, entry in waiting:
            sig = self._sign(path)
            with self._lock:
                if self._pending.get(path) is not entry or now - entry.last < self.quiet:
                    continue  # touched again meanwhile
                if sig == entry.signature or now - entry.first >= self.longest:
                    del self._pending[path]
                    ready.append(path)
                else:  # still being written: wait for another quiet spell
                    entry.last, entry.signature = now, sig
        return sorted(ready)

    def drop_under(self, folder: str) -> None:
        """Forget what is waiting inside `folder` (no longer watched)."""
        prefix = folder.rstrip(os.sep) + os.sep
        with self._lock:
            for path in [p for p in self._pending if p == folder or p.startswith(prefix)]:
                del self._pending[path]

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)
