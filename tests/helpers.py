"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from pathlib import Path


def write(path: Path, text: str | bytes) -> Path:
    """Write a file, making its folders; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


class Hung(Exception):
    """Raised by `deadline` (not an OSError, which the code under test may well catch)."""


@contextmanager
def deadline(seconds: int):
    """Interrupt a blocking call in this (the main) thread after `seconds`: fail, not hang."""

    def expire(signum, frame):
        raise Hung(f"blocked for {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def bump_mtime(path: Path, seconds: int = 5) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """`chroma run` (from the chromadb package) on a free port of 127.0.0.1, data in `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> ChromaServer:
        import shutil
        import subprocess
        import sys
        import time
        import urllib.request

        exe = shutil.which("chroma", path=os.path.dirname(sys.executable)) or "chroma"
        self.log = open(self.path.parent / f"chroma-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [exe, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log,
            stderr=self.log,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        end = time.monotonic() + 120
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited ({self.proc.returncode}):\n{self.printed()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        printed = self.printed()
        raise RuntimeError(f"waited 120 s for chroma run's heartbeat; it printed:\n{printed}")

    def printed(self) -> str:
        self.log.flush()
        path = self.path.parent / f"chroma-{self.port}.log"
        return path.read_bytes().decode("utf-8", "replace")[-2000:] or "(nothing)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:
                self.proc.kill()
        self.log.close()


def loaded_chunks(name: str, data: bytes, size: int = 64):
    """`data` loaded as file `name` and chunked with the fake embedder's counter, every chunk
    checked to be the exact span of its page; (document, chunks)."""
    from ingest.chunk import chunk_document
    from ingest.load import load
    from rag.retrieval.embed import HashEmbedder

    doc = load(name, data)
    counter = HashEmbedder().count_tokens
    out = chunk_document(doc, f"/src/{name}", size, 8, counter, 10_000)
    for c in out:
        assert doc.page_text(c.page)[c.start : c.end] == c.text
    return doc, out
