"""Searches served warm by a running `quire watch`, so `quire search` skips loading anything.

A cold `quire search` spends about a second importing ONNX Runtime and Chroma and opening the
index before it embeds one short query (BENCHMARKS.md, "Fast from a cold shell"). A watcher
already has all of that loaded, so it also answers searches on a Unix socket,
`QUIRE_HOME/search.sock`, and `quire search` asks there first. If no watcher answers (none
running, a stale socket, other settings), the command searches by itself as before.

The socket lives in QUIRE_HOME (0700) and is made 0600; each side checks that the other runs
as the same user (SO_PEERCRED): the server answers no one else, and the client sends its query
to no one else (a socket another user left there gets nothing). One JSON request per
connection, at most 64 KB, sent within READ_SECONDS, checked field by field; one JSON reply.
At most MAX_CLIENTS connections are served at once, the others are told the server is busy
(the client then searches by itself). No pickle, nothing a request says is executed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import socketserver
import struct
import threading
import time
from dataclasses import asdict
from pathlib import Path

from rag.errors import QuireError
from rag.home import check_home
from rag.types import Chunk, Hit

SOCKET = "search.sock"
MAX_REQUEST = 64 * 1024
MAX_CLIENTS = 8  # connections served at once; searches run one at a time anyway
READ_SECONDS = 5.0  # to send a request: a client that trickles cannot hold a thread
SEND_SECONDS = 10.0  # to take the reply
MAX_DEPTH = 4  # of JSON arrays and objects; a request uses 2
MODES = ("hybrid", "dense", "keyword")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


def fingerprint(settings) -> str:
    """What must agree between the client's settings and the server's for the same results."""
    return repr(
        (str(settings.home), settings.embedder, str(settings.embed_model), settings.fusion,
         str(settings.rerank_model), settings.chroma_url, settings.embed_backend)
    )  # fmt: skip


# --- the client (`quire search`) --------------------------------------------------------


def socket_path(home: Path) -> Path:
    return Path(home) / SOCKET


def ask_server(settings, request: dict, timeout: float = 30.0) -> dict | None:
    """The running watcher's reply to a search `request`, or None if none answers (the caller
    then searches by itself). A reply with an error is returned for the caller to show.

    Only a watcher of this user is asked, in a home only this user may write to; a relative
    `path` filter is made absolute here, since the watcher runs in a folder of its own."""
    path = socket_path(settings.home)
    try:
        check_home(settings.home)  # searching by itself, the caller says what is wrong
    except QuireError:
        return None
    if not path.exists():
        return None
    if isinstance(request.get("path"), str):
        request = {**request, "path": absolute_filter(request["path"])}
    data = json.dumps({**request, "fingerprint": fingerprint(settings)}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            if peer_uid(s) != os.geteuid():
                return None  # another user's server: it would see the query and pick the hits
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            reply = b"".join(iter(lambda: s.recv(1 << 16), b""))
        answer = json.loads(reply)
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(answer, dict) or answer.get("busy") or answer.get("other_settings"):
        return None
    return answer


def absolute_filter(path: str) -> str:
    """A `--path` filter as `Filters.sources` reads it in the caller's folder: a relative
    folder or glob joined to the current directory (a glob starting with `*` stays as it is)."""
    pattern = os.path.expanduser(path)
    if not pattern or os.path.isabs(pattern) or pattern.startswith("*"):
        return pattern
    return os.path.join(os.getcwd(), pattern)


def peer_uid(sock: socket.socket) -> int | None:
    """The user id of the process at the other end of a Unix socket (None: cannot tell)."""
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (AttributeError, OSError):  # not Linux
        return None
    return struct.unpack("iII", creds)[1]


def hit_from(d: dict) -> Hit:
    """A `Hit` from its JSON form (`hit_dict`)."""
    c = d["chunk"]
    chunk = Chunk(
        source=str(c["source"]), text=str(c["text"]), start=int(c["start"]), end=int(c["end"]),
        page=c["page"], heading=tuple(map(str, c["heading"])), line_start=c["line_start"],
        line_end=c["line_end"], kind=str(c["kind"]), id=str(c["id"]), unit=str(c["unit"]),
        page_name=str(c["page_name"]),
    )  # fmt: skip
    return Hit(chunk, float(d["score"]), d["dense"], d["keyword"])


def hit_dict(h: Hit) -> dict:
    """A `Hit` as JSON: its chunk's fields, its scores (read back by `hit_from`)."""
    return {"chunk": asdict(h.chunk), "score": h.score, "dense": h.dense, "keyword": h.keyword}


def document_dict(d) -> dict:
    return {"source": d.source, "score": d.score, "hits": [hit_dict(h) for h in d.hits]}


# --- the server (in `quire watch`) ------------------------------------------------------


class SearchServer:
    """Answers search requests with `engine` on a thread of its own, until `stop()`."""

    def __init__(self, engine, home: Path) -> None:
        self.engine = engine
        self.path = socket_path(home)
        self._fingerprint = fingerprint(engine.settings)
        self._lock = threading.Lock()  # one search at a time: the engine is not shared
        self._server: socketserver.UnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SearchServer:
        self.path.unlink(missing_ok=True)  # a socket left by a watcher that was killed
        server = _Server(str(self.path), _Handler)
        os.chmod(self.path, 0o600)
        server.owner = self
        server.slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True,
            name="quire-search-server",
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.path.unlink(missing_ok=True)

    def answer(self, raw: bytes) -> dict:
        """The reply to one request (never raises)."""
        try:
            if _too_deep(raw):
                raise ValueError("nested too deeply")
            request = json.loads(raw)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            if request.get("fingerprint") != self._fingerprint:
                return {"other_settings": True}
            query, k = request.get("query"), request.get("k", 10)
            mode, docs = request.get("mode", "hybrid"), request.get("docs", False)
            path, kinds = request.get("path"), request.get("kinds", [])
            if not isinstance(query, str) or not isinstance(k, int) or not 1 <= k <= 1000:
                raise ValueError("query must be text and k a number from 1 to 1000")
            if mode not in MODES or not isinstance(docs, bool):
                raise ValueError(f"mode must be one of {', '.join(MODES)}")
            if path is not None and not isinstance(path, str):
                raise ValueError("path must be text")
            if not isinstance(kinds, list) or not all(isinstance(x, str) for x in kinds):
                raise ValueError("kinds must be a list of file types")
        except ValueError as exc:
            return {"error": f"bad request: {exc}"}
        from quire.filters import make_filters

        try:
            with self._lock:
                filters = make_filters(path, kinds)
                if docs:
                    found = self.engine.search_documents(query, k=k, filters=filters, mode=mode)
                    return {"documents": [document_dict(d) for d in found]}
                hits = self.engine.search(query, k=k, filters=filters, mode=mode)
                return {"hits": [hit_dict(h) for h in hits]}
        except QuireError as exc:
            return {"error": str(exc)}
        except Exception as exc:  # the client searches by itself and reports its own way
            return {"busy": True, "reason": f"{type(exc).__name__}: {exc}"}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A thread per connection, at most MAX_CLIENTS of them; others are told "busy"."""

    daemon_threads = True
    owner: SearchServer
    slots: threading.BoundedSemaphore

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            try:
                request.setblocking(False)  # a short reply into an empty buffer
                request.send(json.dumps({"busy": True, "reason": "too many clients"}).encode())
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        try:
            if peer_uid(sock) != os.geteuid():
                return  # another user: no answer at all
            raw = _read_request(sock, time.monotonic() + READ_SECONDS)
            if raw is None:
                reply = {"error": f"bad request: over {MAX_REQUEST} bytes"}
            else:
                reply = self.server.owner.answer(raw)
            sock.settimeout(SEND_SECONDS)  # the whole reply, not each piece of it
            sock.sendall(json.dumps(reply).encode())
        except OSError:
            pass  # the client went away, or took too long


def _too_deep(raw: bytes) -> bool:
    """Whether the JSON in `raw` nests deeper than MAX_DEPTH, told before parsing it: json.loads
    recurses, and a request 60,000 brackets deep hit the recursion limit (in the parser, and in
    whatever the garbage collector ran meanwhile)."""
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b"", raw)):
        depth += 1 if bracket.group() in b"[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def _read_request(sock: socket.socket, deadline: float) -> bytes | None:
    """The request up to the client's end of it (None: over MAX_REQUEST bytes); TimeoutError
    when it is not all there by `deadline`."""
    raw = b""
    while len(raw) <= MAX_REQUEST:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request took too long")
        sock.settimeout(left)
        part = sock.recv(1 << 16)
        if not part:
            return raw
        raw += part
    return None
