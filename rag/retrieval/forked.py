"""The on-disk Chroma store opened in a child process, for one read-only command.

`import chromadb` takes 0.7-0.9 s, the larger half of a cold `quire search` (BENCHMARKS.md,
"Fast from a cold shell"), and Python cannot import two packages side by side on threads. So
`quire search`, `ask` and `related` fork at their very start (one thread, no files open): the
child imports chromadb and opens the store while the parent loads the embedder and embeds the
query; then the child answers the parent's store calls over a pipe until the parent is done.
If the child fails or cannot start, the parent opens the store itself: the answer is the same.
Linux only (fork without exec is unsafe on macOS; Windows has none).
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

from rag.errors import QuireError

_NO_REPLY = ("refresh", "mark")  # nothing to wait for: the child runs them in order


class ForkedStore:
    """A `Store` whose calls run in a child process (see the module's docstring)."""

    def __init__(self, path: Path, pid: int, reader, writer) -> None:
        self.path = path
        self.pid = pid
        self._r, self._w = reader, writer
        self._own = None  # the store opened here, if the child failed

    @classmethod
    def start(cls, path: Path) -> ForkedStore | None:
        if sys.platform != "linux" or not hasattr(os, "fork"):
            return None
        down_r, down_w = os.pipe()  # parent -> child
        up_r, up_w = os.pipe()  # child -> parent
        try:
            pid = os.fork()
        except OSError:
            for fd in (down_r, down_w, up_r, up_w):
                os.close(fd)
            return None
        if pid == 0:  # the child: serve, then leave without running the parent's exit hooks
            code = 0
            try:
                os.close(down_w)
                os.close(up_r)
                _serve(path, os.fdopen(down_r, "rb"), os.fdopen(up_w, "wb"))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(down_r)
        os.close(up_w)
        return cls(path, pid, os.fdopen(up_r, "rb"), os.fdopen(down_w, "wb"))

    def _call(self, name: str, *args):
        if self._own is None:
            try:
                pickle.dump((name, args), self._w)
                self._w.flush()
                if name in _NO_REPLY:
                    return None
                ok, value = pickle.load(self._r)
            except (OSError, EOFError, pickle.PickleError):
                self._fall_back()
            else:
                if ok:
                    return value
                raise value
        return getattr(self._own, name)(*args)

    def _fall_back(self) -> None:
        from rag.retrieval.store import ChromaStore

        self.close()
        self._own = ChromaStore(self.path)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: self._call(name, *args)

    def close(self) -> None:
        for f in (self._w, self._r):
            try:
                f.close()
            except OSError:
                pass
        try:
            os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _serve(path: Path, reader, writer) -> None:
    """The child's loop: (method, args) in, (ok, result or exception) out, until EOF."""
    store, error = None, None
    try:
        from rag.retrieval.store import ChromaStore

        store = ChromaStore(path)
        store.count()  # open it now, while the parent embeds
    except Exception as exc:
        error = exc
    while True:
        try:
            name, args = pickle.load(reader)
        except EOFError:
            return
        try:
            if store is None:
                raise error
            reply = (True, getattr(store, name)(*args))
        except Exception as exc:
            reply = (False, exc)
        if name in _NO_REPLY:
            continue
        try:
            data = pickle.dumps(reply)
        except Exception:  # an exception that does not pickle: its message does
            data = pickle.dumps((False, QuireError(str(reply[1]))))
        writer.write(data)
        writer.flush()
