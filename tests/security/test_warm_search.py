"""A running watcher answers searches on a Unix socket (quire/warm.py): another user on the same
computer must get nothing from it, even if QUIRE_HOME and the socket were opened up by mistake
(the server checks the peer's user id, SO_PEERCRED). Idle, slow or hostile clients cannot
exhaust it (issue 24), and a relative `--path` means the caller's folder, not the watcher's."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from quire.engine import build_engine
from quire.warm import SearchServer, ask_server, fingerprint, socket_path
from rag.settings import Settings
from tests.helpers import write

CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(json.dumps({"refused": exc.strerror}))
    raise SystemExit
try:
    s.sendall(json.dumps({"query": "salary", "k": 5, "fingerprint": sys.argv[2]}).encode())
    s.shutdown(socket.SHUT_WR)
    reply = b"".join(iter(lambda: s.recv(65536), b"")).decode()
except OSError:  # the server closed the connection without a word
    reply = ""
print(json.dumps({"reply": reply}))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_another_user_gets_no_search_results(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="quire-warm-"))  # under /tmp: others may pass through
    try:
        os.chmod(base, 0o755)
        settings = Settings(home=base / "home", embedder="fake")
        write(base / "notes" / "pay.md", "# Pay\n\nMy salary is 91,000 a year.\n")
        engine = build_engine(settings)
        engine.ingest([str(base / "notes")])
        server = SearchServer(engine, settings.home).start()
        try:
            sock = str(socket_path(settings.home))
            assert _as_nobody(sock, fingerprint(settings)) == {"refused": "Permission denied"}
            os.chmod(settings.home, 0o755)  # opened up by mistake
            os.chmod(sock, 0o666)
            got = _as_nobody(sock, fingerprint(settings))
            assert got == {"reply": ""}, got  # connected, and told nothing
            mine = subprocess.run([sys.executable, "-c", CLIENT, sock, fingerprint(settings)],
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
            assert (
                "pay.md"
                in json.loads(json.loads(mine.stdout)["reply"])["hits"][0]["chunk"]["source"]
            )
        finally:
            server.stop()
            engine.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _as_nobody(sock: str, fp: str) -> dict:
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-I", "-c", CLIENT, sock, fp],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# --- issue 24, point 6: socket limits, a crash, relative paths ----------------------------


@pytest.fixture
def served(tmp_path, make_engine, monkeypatch):
    import quire.warm as warm

    monkeypatch.setattr(warm, "READ_SECONDS", 3.0, raising=False)  # quick to test
    write(tmp_path / "notes" / "bread.md", "# Bread\n\nSourdough needs a starter fed daily.\n")
    engine = make_engine()
    engine.ingest([str(tmp_path / "notes")])
    server = SearchServer(engine, engine.settings.home).start()
    yield engine, str(socket_path(engine.settings.home))
    server.stop()


def _connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)  # blocking: waits for room in the listen queue
    s.settimeout(5)
    return s


def test_idle_clients_cannot_pile_up_threads(served):
    engine, path = served
    cap = 8  # quire.warm.MAX_CLIENTS

    def serving() -> int:  # the server's threads (not other tests' leftovers)
        return sum("process_request" in t.name for t in threading.enumerate())

    idle = [_connect(path) for _ in range(40)]  # connected, and never a word
    try:
        assert ask_server(engine.settings, {"query": "sourdough"}) is None  # busy: search here
        told: set = set()
        end = time.monotonic() + 10  # a loaded machine answers late, never more than the cap
        while len(told) < len(idle) - cap and time.monotonic() < end:
            ready, _, _ = select.select([s for s in idle if s not in told], [], [], 0.2)
            told.update(ready)
            assert serving() <= cap
        assert len(told) >= len(idle) - cap  # the served wait for their request
        assert all(b'"busy": true' in s.recv(1000) for s in told)
        end = time.monotonic() + 15  # the idle ones run out of time to send a request
        while serving() and time.monotonic() < end:
            time.sleep(0.1)
        assert ask_server(engine.settings, {"query": "sourdough"})["hits"]
    finally:
        for s in idle:
            s.close()


def test_a_client_that_trickles_its_request_is_dropped(served):
    _, path = served
    s = _connect(path)
    start, dropped = time.monotonic(), False
    try:
        s.sendall(b'{"query": "')
        while time.monotonic() - start < 10 and not dropped:
            time.sleep(0.2)
            try:
                s.sendall(b"a")  # one byte at a time, never the end
                readable, _, _ = select.select([s], [], [], 0)
                dropped = bool(readable) and s.recv(1000) == b""
            except OSError:  # reset or broken pipe: the server closed it
                dropped = True
    finally:
        s.close()
    assert dropped and time.monotonic() - start < 6  # READ_SECONDS is 3 here, not 10 a read


def test_a_deeply_nested_request_gets_an_error_not_a_traceback(served, capsys):
    _, path = served
    for payload in (b"[" * 60_000, b'{"query": "x", "kinds": ' + b"[" * 60_000 + b"]" * 60_000):
        s = _connect(path)
        try:
            try:
                s.sendall(payload[: 64 * 1024])
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            reply = b"".join(iter(lambda: s.recv(65536), b""))  # noqa: B023 (used at once)
        finally:
            s.close()
        assert reply and "bad request" in json.loads(reply)["error"]
    assert "Traceback" not in capsys.readouterr().err


@pytest.fixture
def watcher(tmp_path):
    """`quire watch` with the fake embedder, in a folder of its own (/), watching notes/."""
    from tests.integration.test_faults import env_for

    home, notes = tmp_path / "home", tmp_path / "notes"
    write(notes / "pay.md", "# Pay\n\nMy salary is 91,000 a year.\n")
    write(tmp_path / "other" / "pay.md", "# Pay\n\nAnother salary, 50,000.\n")
    env = env_for(home)
    root = Path(__file__).resolve().parents[2]
    for argv in (("ingest", str(tmp_path / "other")), ("watch", "add", str(notes))):
        subprocess.run([sys.executable, "-m", "quire.cli", *argv], env=env, cwd=root, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "quire.cli", "watch"], env=env, cwd="/",
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    sock = socket_path(home)
    end = time.monotonic() + 60
    while not sock.exists() and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.1)
    yield proc, env, sock
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_quire_watch_starts_serves_and_stops_with_the_fake_embedder(watcher):
    proc, env, sock = watcher
    assert proc.poll() is None and sock.exists(), proc.communicate(timeout=30)
    settings = Settings.from_env(env)
    assert ask_server(settings, {"query": "salary", "k": 5})["hits"]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Watching 1 folder" in out and "Stopped watching." in out
    assert "Traceback" not in err and not sock.exists()


def test_a_relative_path_filter_is_the_callers(watcher, tmp_path, monkeypatch, capsys):
    from quire.cli import main

    proc, env, sock = watcher
    assert proc.poll() is None and sock.exists()
    for name in ("QUIRE_HOME", "QUIRE_EMBEDDER"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.chdir(tmp_path)  # the watcher runs in /
    for where in ("notes", "notes/*.md", "./notes/"):
        assert main(["search", "salary", "--path", where, "--json"]) == 0
        hits = json.loads(capsys.readouterr().out)
        assert [h["source"] for h in hits] == [str(tmp_path / "notes" / "pay.md")], where
