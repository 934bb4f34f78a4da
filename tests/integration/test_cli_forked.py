"""Read-only commands open Chroma in a forked child while they embed the query
(rag/retrieval/forked.py): the same answers as without it, a dead child costs nothing, and no
child outlives its command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import write

QUIRE = str(Path(sys.executable).parent / "quire")


def library(tmp_path: Path) -> dict:
    notes = tmp_path / "notes"
    write(notes / "kettle.md", "# Kettle\n\nDescale the kettle with citric acid every month.\n")
    write(notes / "bikes.md", "# Bikes\n\nThe chain wants oil after rain, and a wipe first.\n")
    write(notes / "ferns.md", "# Ferns\n\nFerns like shade, damp soil and no direct sun.\n")
    env = {**os.environ, "QUIRE_HOME": str(tmp_path / "home")}
    done = subprocess.run([QUIRE, "ingest", str(notes)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return env


def quire(env: dict, *argv: str) -> str:
    done = subprocess.run([QUIRE, *argv], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_forked_store_gives_the_same_answers_and_leaves_no_child(tmp_path):
    env = library(tmp_path)
    marker = f"zq{os.getpid()}x"  # in the command line of the command and of its child
    for argv in (
        ["search", f"what does the chain want after rain {marker}", "--json"],
        ["ask", f"how do I descale the kettle {marker}", "--mode", "quotes", "--json"],
        ["related", str(tmp_path / "notes" / "ferns.md"), "--json"],
    ):
        forked = json.loads(quire(env, *argv))
        plain = json.loads(quire({**env, "QUIRE_CLI_FORK": "0"}, *argv))
        for out in (forked, plain):  # chat ids and timings differ; the findings may not
            if isinstance(out, dict):
                out.pop("chat_id", None)
                out.pop("timings", None)
        assert forked == plain, argv
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert left.strip() == "", f"children left running: {left}"


PROBE = """
import json, os, signal, sys
from pathlib import Path
from rag.retrieval.forked import ForkedStore
store = ForkedStore.start(Path(sys.argv[1]))
os.kill(store.pid, signal.SIGKILL)  # the child dies before it answers anything
os.waitpid(store.pid, 0)
from quire.engine import make_embedder
from rag.settings import Settings
vector = make_embedder(Settings.from_env()).embed_queries(["descale the kettle"])[0]
hits = store.query(vector, 2)
print(json.dumps([h.chunk.source for h in hits]))
"""


def test_a_dead_child_falls_back_to_opening_the_store_here(tmp_path):
    env = library(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "home" / "chroma")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0].endswith("kettle.md")


PARENT_ONLY = """
import os, sys
pid, real_exit = os.getpid(), os._exit
def report_then_exit(code):
    if os.getpid() == pid:
        print("command imported chromadb:", "chromadb" in sys.modules, file=sys.stderr)
    real_exit(code)
os._exit = report_then_exit
sys.argv = ["quire", *sys.argv[1:]]
import quire.cli
quire.cli.run()
"""


def test_the_command_leaves_chromadb_to_its_child(tmp_path):
    """`import chromadb` is the larger half of a cold search: only the child may pay it
    (`quire ask` once opened the store in the command itself as well)."""
    env = library(tmp_path)
    for argv in (["search", "chain after rain"], ["ask", "chain after rain", "--mode", "quotes"]):
        done = subprocess.run([sys.executable, "-c", PARENT_ONLY, *argv], capture_output=True,
                              text=True, env=env, timeout=300)  # fmt: skip
        assert "command imported chromadb: False" in done.stderr, (argv, done.stderr)
        assert "bikes.md" in done.stdout
