"""A running watcher answers searches on a Unix socket (rag/warm.py): another user on the same
computer must get nothing from it, even if QUIRE_HOME and the socket were opened up by mistake
(the server checks the peer's user id, SO_PEERCRED)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rag.engine import build_engine
from rag.settings import Settings
from rag.warm import SearchServer, fingerprint, socket_path
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
