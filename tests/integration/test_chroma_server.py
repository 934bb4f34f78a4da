"""QUIRE_CHROMA_URL: ingest, search and ask through a real `chroma run` server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import write
from tests.pdfs import make_pdf

ROOT = Path(__file__).resolve().parents[2]


def test_round_trip_through_a_chroma_server(tmp_path, chroma_server):
    lib = tmp_path / "lib"
    write(lib / "guide.pdf", make_pdf(["Toads.", "Frog calls.", "The glass frog is translucent."]))
    write(lib / "bread.md", "# Bread\n\nSourdough needs a starter fed daily.\n")
    env = {
        **os.environ,
        "QUIRE_HOME": str(tmp_path / "home"),
        "QUIRE_CHROMA_URL": chroma_server.url,
        "PYTHONPATH": str(ROOT),
    }

    def quire(*args) -> dict | list:
        res = subprocess.run(
            [sys.executable, "-m", "quire.cli", *args, "--json"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr[-2000:]
        return json.loads(res.stdout)

    assert quire("ingest", str(lib))["counts"]["added"] == 2
    assert not (tmp_path / "home" / "chroma").exists()  # the vectors went to the server
    hits = quire("search", "translucent glass frog", "-k", "3")
    assert hits[0]["source"].endswith("guide.pdf") and hits[0]["page"] == 3
    answer = quire("ask", "What does sourdough need?", "--mode", "quotes")
    assert not answer["refused"] and answer["citations"][0]["source"].endswith("bread.md")
    (lib / "bread.md").unlink()
    quire("sync", str(lib))
    hits = quire("search", "sourdough starter", "-k", "5")
    assert all(not h["source"].endswith("bread.md") for h in hits)


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    env = {
        **os.environ,
        "QUIRE_HOME": str(tmp_path / "home"),
        "QUIRE_CHROMA_URL": "http://127.0.0.1:9",
        "QUIRE_EMBEDDER": "fake",
        "PYTHONPATH": str(ROOT),
    }
    write(tmp_path / "a.md", "hello\n")
    res = subprocess.run(
        [sys.executable, "-m", "quire.cli", "ingest", str(tmp_path / "a.md")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 2 and "Chroma server at http://127.0.0.1:9" in res.stderr
    assert "Traceback" not in res.stderr
