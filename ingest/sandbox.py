"""Parse untrusted files in a child process, so a parser's crash, abort, hang or appetite for
memory costs one file, never the batch or the app.

One worker process is started on first use and reused for every file after it (starting one
costs about 0.1 s). It runs `ingest.worker` under an address-space limit and cannot change
files (see `ingest.worker.confine`). A reply is checked before it is believed.

Each file has one wall-clock budget, `seconds`, for all of its pages. The worker stops reading
pages at `_STOP_AT` of it and replies with those it has (the Document says what was skipped),
so what it read arrives in time; a worker still busy when the budget is spent is killed, and
the file fails. When the worker dies, the file it was reading fails with the reason, and the
next file gets a fresh worker.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import asdict
from pathlib import Path

from ingest.formats import KINDS
from ingest.limits import Limits, Options, OutOfTime
from ingest.load import load
from ingest.worker import _HEAD, write_frame
from rag.errors import LoadError, QuireError
from rag.types import Document, Section

_ROOT = Path(__file__).resolve().parent.parent
CUT_BY = ("seconds", "pages")  # the limits that may cut a file short (Document.cut_by)
_MAX_BLOB = 256 * 2**20  # a rendered page; far over what MAX_PIXELS allows
_START_SECONDS = 60.0  # a worker's start (Python and the loaders' imports), on a busy machine
# The worker stops reading pages at this part of a file's time budget: the rest is for sending
# what it read (up to QUIRE_MAX_CHARS of JSON) before the budget ends and it is killed.
_STOP_AT = 0.9


class _Timeout(Exception):
    pass


class _Died(Exception):
    pass


class Sandbox:
    """Loads documents and renders PDF pages in a worker process. Thread-safe: calls take
    turns (one worker). `inline=True` parses in this process instead, with no protection
    (QUIRE_PARSE_WORKER=inline, for debugging)."""

    def __init__(
        self,
        memory_mb: int = 2048,
        seconds: float = 300.0,
        limits: Limits = Limits(),
        inline: bool = False,
        options: Options = Options(),
    ):
        self.memory_mb = memory_mb
        self.seconds = seconds  # one file's whole parse, every page of it
        self.limits = limits
        self.inline = inline
        self.options = dataclasses.replace(options, seconds=seconds)
        self.started = 0  # workers started so far
        # What keeps the worker from changing files: "Landlock ABI n", or "none (why)" (then
        # only a file-size limit of 0: no data written, but truncating, renaming and deleting
        # are not stopped). Known once a worker has started.
        self.confinement = "none (inline)" if inline else ""
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> Sandbox:
        return cls(
            memory_mb=settings.parse_memory_mb,
            seconds=settings.parse_seconds,
            limits=Limits(settings.max_pages, settings.max_chars, settings.max_chunks),
            inline=settings.parse_worker == "inline",
            options=Options(
                pdf_engine=settings.pdf_engine,
                ocr=settings.ocr,
                ocr_languages=settings.ocr_languages,
            ),
        )

    # --- requests -----------------------------------------------------------------------

    def load(self, name: str, data: bytes) -> Document:
        """`ingest.load.load` in the worker, with this sandbox's limits and options; every
        failure is a LoadError with the reason."""
        if self.inline:
            deadline = time.monotonic() + self.seconds
            options = dataclasses.replace(self.options, deadline=deadline)
            return load(name, data, limits=self.limits, options=options)
        header = {
            "op": "load",
            "name": str(name),
            "limits": asdict(self.limits),
            "options": self.options.wire(),
            "stop_in": self.seconds * _STOP_AT,
        }
        reply, _ = self._call(header, data, LoadError)
        try:
            return _document(reply["ok"], self.limits)
        except (KeyError, TypeError, ValueError) as exc:
            raise LoadError(f"the parser gave an unreadable reply ({exc})") from None

    def render(
        self,
        path: str,
        page: int,
        width: int,
        span: tuple[int, int] | None = None,
        boxes: list | None = None,
    ) -> bytes:
        """A page of a PDF or image as PNG bytes, the quote at `span` (or `boxes`)
        highlighted (see `ingest.pages.render`); failures are QuireErrors."""
        span = (int(span[0]), int(span[1])) if span else None
        boxes = [tuple(float(v) for v in b[:4]) for b in boxes or []]
        if self.inline:
            from ingest.pages.render import render_page

            return render_page(path, page, width, span, boxes)
        header = {
            "op": "render",
            "path": str(path),
            "page": int(page),
            "width": int(width),
            "span": list(span) if span else None,
            "boxes": [list(b) for b in boxes],
        }
        _, png = self._call(header, b"", QuireError)
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise QuireError("the page renderer gave no image")
        return png

    def close(self) -> None:
        """Stop the worker (a later request starts another)."""
        with self._lock:
            self._stop()

    # --- the worker ---------------------------------------------------------------------

    def _call(self, header: dict, blob: bytes, error: type[QuireError]) -> tuple[dict, bytes]:
        with self._lock:
            proc = self._worker()
            deadline = time.monotonic() + self.seconds
            try:
                write_frame(proc.stdin, header, blob)
                reply, out = self._read_reply(proc, deadline)
            except _Timeout:
                self._stop(kill=True)
                raise OutOfTime(self._too_long()) from None
            except (_Died, OSError, ValueError):
                raise error(self._death()) from None
            kind = reply.get("error")
            if kind == "memory":
                self._stop()
                raise error(
                    f"the parser ran out of memory at {self.memory_mb:,} MB (QUIRE_PARSE_MEMORY_MB)"
                )
        if kind is None and "ok" in reply:
            return reply, out
        message = str(reply.get("message", ""))[:500]
        if kind == "time":
            raise OutOfTime(self._too_long())
        if kind == "load":
            raise LoadError(message)
        if kind == "quire":
            raise error(message)
        raise error(f"unexpected error: {message}")

    def _too_long(self) -> str:
        return f"reading it took longer than {self.seconds:g} s, the limit (QUIRE_PARSE_SECONDS)"

    def _worker(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        code = (
            f"import sys; sys.path.insert(0, {str(_ROOT)!r}); "
            "from ingest.worker import main; main()"
        )
        errors = tempfile.TemporaryFile()  # unlinked: what the worker says if it cannot start
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(self.memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            close_fds=True,
        )
        self._proc = proc
        self.started += 1
        weakref.finalize(self, _end, proc)
        try:  # its start does not count against the first file's time limit
            ready, _ = self._read_reply(proc, time.monotonic() + _START_SECONDS)
        except (_Timeout, _Died, OSError, ValueError) as exc:
            self._stop(kill=True)
            raise LoadError(_not_started(errors, exc)) from None
        if not ready.get("ready"):
            self._stop(kill=True)
            raise LoadError(_not_started(errors, None))
        errors.close()
        self.confinement = str(ready.get("confinement", "none (not said)"))[:200]
        if self.confinement.startswith("none") and self.started == 1:
            logging.getLogger(__name__).warning(
                "the parse worker runs without Landlock, %s: it cannot write data to files, "
                "but a parser exploited through a bug could truncate, rename or delete them",
                self.confinement[5:],
            )
        return proc

    def _read_reply(self, proc: subprocess.Popen, deadline: float) -> tuple[dict, bytes]:
        import json

        fd = proc.stdout.fileno()
        n_head, n_blob = _HEAD.unpack(_read_exact(fd, _HEAD.size, deadline))
        # Pages as JSON with every non-ASCII character escaped: at most 6 bytes a character.
        if n_head > self.limits.max_chars * 6 + 64 * 2**20 or n_blob > _MAX_BLOB:
            raise _Died
        header = json.loads(_read_exact(fd, n_head, deadline))
        if not isinstance(header, dict):
            raise ValueError("reply is not an object")
        blob = _read_exact(fd, n_blob, deadline) if n_blob else b""
        return header, blob

    def _death(self) -> str:
        """Why the worker stopped answering, after making sure it has."""
        proc = self._proc
        self._stop(kill=True)
        code = proc.returncode if proc is not None else None
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return (
                f"the parser crashed ({name}) on this file: it is damaged, or needs more than "
                f"the {self.memory_mb:,} MB memory limit (QUIRE_PARSE_MEMORY_MB)"
            )
        return f"the parser stopped (exit code {code}) on this file"

    def _stop(self, kill: bool = False) -> None:
        if self._proc is not None:
            _end(self._proc, kill)
            self._proc = None


def _not_started(errors, exc: BaseException | None) -> str:
    """Why the worker did not start: the last line it wrote to stderr, or how it failed."""
    try:
        errors.seek(0)
        lines = errors.read()[-2000:].decode("utf-8", "replace").strip().splitlines()
    except OSError:
        lines = []
    finally:
        errors.close()
    why = lines[-1] if lines else (type(exc).__name__ if exc is not None else "no ready reply")
    return f"the parse worker did not start ({why[:300]})"


def _end(proc: subprocess.Popen, kill: bool = True) -> None:
    """Close the worker's input (it exits when idle); kill it if asked, or if it lingers."""
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(0 if kill else 2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    # poll, not select: select() refuses a descriptor numbered 1024 or more (ValueError), and a
    # long-running process (the app, a watcher) can own that many
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Timeout
        if not poller.poll(left * 1000):
            raise _Timeout
        part = os.read(fd, min(n - len(buf), 1 << 20))
        if not part:
            raise _Died
        buf += part
    return bytes(buf)


def _document(d: dict, limits: Limits) -> Document:
    """A Document from a worker's reply, every field checked."""
    kind, pages, notes = d["kind"], d["pages"], d["notes"]
    unit, names = d.get("unit", ""), d.get("page_names", [])
    if not isinstance(unit, str) or len(unit) > 20 or len(names) > len(pages):
        raise ValueError("unit")
    if not all(isinstance(n, str) and len(n) <= 1000 for n in names):
        raise ValueError("page names")
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}")
    if not pages or not all(isinstance(p, str) for p in pages):
        raise ValueError("pages")
    if len(pages) > limits.max_pages or sum(map(len, pages)) > limits.max_chars:
        raise ValueError("over the limits")
    sections = []
    for page, start, end, heading in d["sections"]:
        if page is not None and not (isinstance(page, int) and 1 <= page <= len(pages)):
            raise ValueError("section page")
        text = pages[(page or 1) - 1]
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(text)):
            raise ValueError("section offsets")
        if not all(isinstance(h, str) for h in heading):
            raise ValueError("heading")
        sections.append(Section(page, start, end, tuple(heading)))
    if len(sections) > limits.max_sections or not all(isinstance(n, str) for n in notes):
        raise ValueError("sections")
    lines = d.get("lines", True)
    if not isinstance(lines, bool):
        raise ValueError("lines")
    partial, cut_by = d.get("partial", ""), d.get("cut_by", "")
    if not (isinstance(partial, str) and len(partial) <= 1000 and cut_by in ("", *CUT_BY)):
        raise ValueError("partial")
    boxes = []
    for box in d.get("boxes", []):
        page, start, end, *xy = box
        if not (isinstance(page, int) and 0 <= page <= len(pages) and len(xy) == 4):
            raise ValueError("box")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end):
            raise ValueError("box offsets")
        if not all(isinstance(v, (int, float)) and -0.01 <= v <= 1.01 for v in xy):
            raise ValueError("box corners")
        boxes.append((page, start, end, *map(float, xy)))
    return Document(
        kind, tuple(pages), tuple(sections), tuple(notes), unit, tuple(names), lines,
        tuple(boxes), partial, cut_by,
    )  # fmt: skip
