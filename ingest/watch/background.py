"""The app's watcher: a `Watcher` on a daemon thread, while this process holds the library's
`watch.lock`. When another process (a `quire watch` service) holds it, that one keeps the
folders in sync and `start` simply tries again next time it is called."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from ingest.watch.folders import try_watch_lock
from ingest.watch.watcher import Watcher


class BackgroundWatcher:
    """Start with `start()` (cheap to call on every page run), end with `stop()`."""

    def __init__(
        self,
        home: Path,
        make_watcher: Callable[[], Watcher],
        make_server: Callable[[], object] | None = None,
    ) -> None:
        self.home = Path(home)
        self._make = make_watcher
        self._make_server = make_server  # warm searches (quire/warm.py) while this one watches
        self._server = None
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.watcher: Watcher | None = None
        self.error = ""
        self.server_error = ""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Watch in this process if no other process does; True if this process watches."""
        with self._guard:
            if self.running:
                return True
            fd = try_watch_lock(self.home)
            if fd is None:
                return False
            try:
                self.watcher = self._make()
            except BaseException:
                os.close(fd)
                raise
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(fd, self.watcher, self._stop), daemon=True,
                name="quire-watch",
            )  # fmt: skip
            self._thread.start()
            if self._make_server is not None and self._server is None:
                try:
                    self._server = self._make_server()
                except Exception as exc:  # searches are then made by each command itself
                    self.server_error = f"warm searches unavailable: {exc}"
            return True

    def _run(self, fd: int, watcher: Watcher, stop: threading.Event) -> None:
        try:
            watcher.run(stop)
        except Exception as exc:  # shown in the app; the next `start` tries again
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            os.close(fd)  # releases watch.lock

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching and serving, and close what they opened (database connections, the
        index, the parse worker), so a process that starts many apps (tests) does not pile up
        open files."""
        self._stop.set()
        server, self._server = self._server, None
        if server is not None:
            server.stop()
            _close(getattr(server, "engine", None))
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if not thread.is_alive() and self.watcher is not None:
                _close(self.watcher.library)
                _close(self.watcher.watch_list)


def _close(thing) -> None:
    close = getattr(thing, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # already closed, or half-open: nothing more to free
            pass
