"""The parser's side of `ingest.sandbox`: a child process that parses files (and renders PDF
pages) for its parent, under a memory limit, and cannot change files: Landlock makes the whole
file system read-only to it where the kernel offers it (Linux 5.13 and later); elsewhere a
file-size limit of 0 keeps it from writing data, though not from truncating, renaming or
deleting.

It reads requests from stdin and writes replies to stdout, as frames (see `write_frame`). A
native crash or an abort in a parser ends only this process: the parent reports it as that
file's failure and starts another. Nothing here is trusted by the parent: it checks replies.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
import struct
import sys
import time

_HEAD = struct.Struct(">II")  # header length, blob length


def write_frame(out, header: dict, blob: bytes = b"") -> None:
    """One message: two lengths, a JSON header, then raw bytes (a file's content, a PNG)."""
    head = json.dumps(header, ensure_ascii=True).encode()  # lone surrogates stay escaped
    out.write(_HEAD.pack(len(head), len(blob)) + head)
    if blob:
        out.write(blob)
    out.flush()


def read_frame(inp) -> tuple[dict, bytes] | None:
    """The next message, or None at the end of the stream."""
    lengths = inp.read(_HEAD.size)
    if len(lengths) < _HEAD.size:
        return None
    n_head, n_blob = _HEAD.unpack(lengths)
    header = json.loads(inp.read(n_head))
    blob = inp.read(n_blob) if n_blob else b""
    if len(blob) != n_blob:
        return None
    return header, blob


def confine(memory_mb: int) -> str:
    """Limits for this process: address space, no files written, no core dumps; and, where the
    kernel has Landlock, no file or folder written, created, truncated, renamed or deleted,
    no TCP connection, no signal to a process outside. Says which confinement took hold."""
    try:
        import resource
    except ImportError:  # not POSIX: no limits to set
        return "none (not POSIX)"
    if memory_mb > 0:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Writing a regular file fails (EFBIG) instead of killing us: a parser has no reason to.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    # No PR_SET_PDEATHSIG: it fires when the *thread* that started us ends (the parse-ahead
    # thread does, after each run). Our parent's death closes stdin, and we exit on that.
    return landlock()


# Landlock: the same syscall numbers on every architecture but alpha (new syscalls since 5.1).
_CREATE_RULESET, _RESTRICT_SELF = 444, 446
_VERSION = 1  # landlock_create_ruleset flag: ask for the ABI version
# Rights taken away, by the first ABI that has them: write a file; remove a folder or a file;
# make a device, folder, file, socket, fifo or symlink; (2) move a file between folders;
# (3) truncate. Not reading, listing or executing (Tesseract is a program).
_FS = ((1, 0b1_1111_1111_0010), (2, 1 << 13), (3, 1 << 14))
_NET = (4, 0b11)  # bind and connect TCP
_SCOPE = (6, 0b11)  # abstract Unix sockets and signals outside this process and its children
_PR_SET_NO_NEW_PRIVS = 38


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where there is none."""
    if sys.platform != "linux" or platform.machine() == "alpha":
        return 0
    return max(0, _syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), _VERSION))


def landlock() -> str:
    """Make the whole file system read-only to this process and the programs it starts, for
    good (no rule allows any write: nothing in the worker or Tesseract needs one); no TCP, no
    signals out, where the ABI allows. Says what took hold: "Landlock ABI 7", or "none (...)"
    where the kernel offers no Landlock."""
    abi = landlock_abi()
    if abi < 1:
        return "none (the kernel offers no Landlock)"
    fs = sum(bits for since, bits in _FS if abi >= since)
    net = _NET[1] if abi >= _NET[0] else 0
    scoped = _SCOPE[1] if abi >= _SCOPE[0] else 0
    size = 24 if scoped else 16 if net else 8  # the struct as this ABI knows it
    attr = _RulesetAttr(fs, net, scoped)
    ruleset = _syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        return f"none (Landlock: {os.strerror(ctypes.get_errno())})"
    try:
        if _libc().prctl(*(ctypes.c_ulong(v) for v in (_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))):
            return f"none (no_new_privs: {os.strerror(ctypes.get_errno())})"
        if _syscall(_RESTRICT_SELF, ruleset, 0):
            return f"none (Landlock: {os.strerror(ctypes.get_errno())})"
    finally:
        os.close(ruleset)
    return f"Landlock ABI {abi}"


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _syscall(number: int, *args) -> int:
    """A raw system call, integer arguments passed as C longs; -1 and errno on failure."""
    wide = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    return _libc().syscall(ctypes.c_long(number), *wide)


def handle(header: dict, blob: bytes) -> tuple[dict, bytes]:
    """One request answered: {"ok": ...} or {"error": kind, "message": ...}."""
    from ingest.limits import OutOfTime
    from rag.errors import LoadError, QuireError, brief

    try:
        if header.get("op") == "load":
            return {"ok": _load(header, blob)}, b""
        if header.get("op") == "render":
            return {"ok": True}, _render(header)
        return {"error": "unexpected", "message": f"unknown request {header.get('op')!r}"}, b""
    except OutOfTime as exc:
        return {"error": "time", "message": str(exc)}, b""
    except LoadError as exc:
        return {"error": "load", "message": str(exc)}, b""
    except QuireError as exc:
        return {"error": "quire", "message": str(exc)}, b""
    except MemoryError:
        return {"error": "memory", "message": ""}, b""
    except RecursionError:
        return {"error": "load", "message": "too deeply nested to read"}, b""
    except Exception as exc:  # a parser bug on a strange file: the parent records it
        return {"error": "unexpected", "message": f"{type(exc).__name__}: {brief(exc, 280)}"}, b""


def _load(header: dict, data: bytes) -> dict:
    from ingest.limits import Limits, Options
    from ingest.load import load

    limits = Limits(**header["limits"])
    stop = header.get("stop_in")  # the file's clock started as the parent sent it
    deadline = time.monotonic() + float(stop) if stop else None
    options = Options(**header.get("options", {}), deadline=deadline)
    doc = load(header["name"], data, limits=limits, options=options)
    return {
        "kind": doc.kind,
        "pages": list(doc.pages),
        "sections": [[s.page, s.start, s.end, list(s.heading)] for s in doc.sections],
        "notes": list(doc.notes),
        "unit": doc.unit,
        "page_names": list(doc.page_names),
        "lines": doc.lines,
        "boxes": [list(b) for b in doc.boxes],
        "partial": doc.partial,
        "cut_by": doc.cut_by,
    }


def _render(header: dict) -> bytes:
    from ingest.pages.render import render_page

    span = header.get("span")
    boxes = [tuple(float(v) for v in b) for b in header.get("boxes") or []]
    return render_page(
        header["path"], int(header["page"]), int(header["width"]), tuple(span) if span else None,
        boxes,
    )  # fmt: skip


def main() -> None:
    memory_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    # Replies go to a private copy of stdout; anything a native library prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    import ingest.load  # noqa: F401  (import before the limit, once)

    quiet = os.open(os.devnull, os.O_WRONLY)  # opened before Landlock, which would refuse it
    confinement = confine(memory_mb)
    # Started: from now on what libraries print is dropped (the parent kept stderr only to
    # say why a start failed).
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    os.close(quiet)
    # the parent's clock for a file starts after this
    write_frame(out, {"ready": True, "confinement": confinement})
    while True:
        request = read_frame(inp)
        if request is None:
            return
        reply, blob = handle(*request)
        write_frame(out, reply, blob)
        if reply.get("error") == "memory":
            return  # a process that ran out of memory may be in a bad state: start afresh


if __name__ == "__main__":
    main()
