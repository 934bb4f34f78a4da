"""Offline by construction: ingest, search, ask and the app's health endpoint in a network
namespace with loopback only (`unshare -n`), the real bundled models, and an audit hook in every
Python process that records (and refuses) any attempt to reach a non-loopback address, so a
code path that tries the network fails here even if it would have swallowed the error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port, write
from tests.pdfs import make_pdf

ROOT = Path(__file__).resolve().parents[2]
HOOK = """
import os, sys

_LOG = os.environ.get("QUIRE_NET_LOG")
_LOCAL = ("127.", "::1", "localhost", "0.0.0.0")


def _local(host):
    return host is None or str(host).startswith(_LOCAL) or str(host) in ("", "::")


def _hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        addr = args[1] if len(args) > 1 else None
        host = addr[0] if isinstance(addr, tuple) and addr else None
    elif event == "socket.getaddrinfo":
        host = args[0]
        host = host.decode() if isinstance(host, bytes) else host
    else:
        return
    if not _local(host):
        with open(_LOG, "a") as f:
            f.write(f"{os.getpid()} {sys.argv[:2]} {event} {host}\\n")
        raise PermissionError(f"offline test: {event} to {host}")


if _LOG:
    sys.addaudithook(_hook)
"""

SCRIPT = r"""
set -e
ip link set lo up
quire() { "$PY" -m quire.cli "$@"; }
quire ingest "$LIB" --json > "$OUT/ingest.json"
quire search "translucent belly frog" -k 3 --json > "$OUT/search.json"
quire ask "Which frog has a translucent belly?" --json > "$OUT/ask.json"
"$PY" -m streamlit run "$ROOT/app.py" --server.port "$PORT" --server.headless true \
    --server.fileWatcherType none > "$OUT/app.log" 2>&1 &
APP=$!
"$PY" - <<PYEOF > "$OUT/health.txt"
import time, urllib.request
for _ in range(300):
    try:
        url = "http://127.0.0.1:$PORT/_stcore/health"
        print(urllib.request.urlopen(url, timeout=2).read().decode())
        break
    except OSError:
        time.sleep(0.2)
PYEOF
kill $APP; wait $APP || true
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None,
    reason="needs root, unshare and ip",
)
def test_everything_works_with_no_network(tmp_path):
    lib = tmp_path / "lib"
    write(
        lib / "guide.pdf",
        make_pdf(
            [
                "Toads.",
                "Frog calls.",
                "The glass frog has a translucent belly, so its heart can be seen.",
            ]
        ),
    )
    write(lib / "a.md", "# Offline\n\nQuire needs no network to index this note.\n")
    hook_dir = tmp_path / "hook"
    write(hook_dir / "sitecustomize.py", HOOK)
    out = tmp_path / "out"
    out.mkdir()
    log = tmp_path / "network.log"
    env = {
        **os.environ,
        "PY": sys.executable,
        "ROOT": str(ROOT),
        "LIB": str(lib),
        "OUT": str(out),
        "PORT": str(free_port()),
        "QUIRE_HOME": str(tmp_path / "home"),
        "QUIRE_NET_LOG": str(log),
        "PYTHONPATH": f"{hook_dir}:{ROOT}",
    }
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY"):
        env.pop(name, None)  # the code itself must keep every library offline
    for name in ("QUIRE_EMBEDDER", "QUIRE_LLM", "QUIRE_LLM_URL", "QUIRE_CHROMA_URL"):
        env.pop(name, None)
    res = subprocess.run(
        ["unshare", "-n", "bash", "-c", SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    attempts = log.read_text() if log.exists() else ""
    assert attempts == "", f"network attempts:\n{attempts}"
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads((out / "ingest.json").read_text())["counts"]["added"] == 2
    hits = json.loads((out / "search.json").read_text())
    assert hits and hits[0]["source"].endswith("guide.pdf")
    answer = json.loads((out / "ask.json").read_text())
    assert not answer["refused"] and answer["citations"]
    assert (out / "health.txt").read_text().strip() == "ok", (out / "app.log").read_text()[-2000:]
