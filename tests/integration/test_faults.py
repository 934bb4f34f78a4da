"""Killed ingests, two writers on one library, a reader that another process wrote under.

Real Chroma on disk and real `quire` processes; the hashing embedder keeps them fast (what is
tested is the bookkeeping, not the vectors)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.lock import write_lock
from ingest.manifest import INDEXED, Manifest
from quire.engine import build_engine
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.store import ChromaStore
from rag.settings import Settings
from tests.helpers import write

QUIRE = [sys.executable, "-m", "quire.cli"]


def env_for(home: Path) -> dict:
    return {
        **os.environ,
        "QUIRE_HOME": str(home),
        "QUIRE_EMBEDDER": "fake",
        "QUIRE_LLM": "fake",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }


def notes(folder: Path, n: int, words: int = 120) -> Path:
    for i in range(n):
        body = " ".join(f"word{(i * 7 + j) % 997} topic{i}" for j in range(words))
        write(folder / f"sub{i % 10}" / f"note{i:04d}.md", f"# Note {i}\n\n{body}\n")
    return folder


def consistent(home: Path) -> dict:
    """Manifest, vector store and keyword index agree; returns their sizes."""
    m = Manifest(home / "manifest.sqlite3")
    lex = LexicalIndex(home / "lexical.sqlite3")
    try:
        records = [r for r in m.records() if r.status == INDEXED]
        listed = [i for r in records for i in r.chunk_ids]
        assert len(listed) == len(set(listed)), "a chunk id belongs to two files"
        stored = ChromaStore(home / "chroma").ids()
        keyed = lex.ids()
        assert set(listed) == stored, (len(listed), len(stored))
        assert keyed == stored
        assert all(r.chunk_ids for r in records), "a file marked indexed has no chunks"
        return {"files": len(records), "chunks": len(stored)}
    finally:
        m.close()
        lex.close()


def indexed_count(home: Path) -> int:
    path = home / "manifest.sqlite3"
    if not path.exists():
        return 0
    m = Manifest(path)
    try:
        return sum(r.status == INDEXED for r in m.records())
    except Exception:
        return 0
    finally:
        m.close()


def test_sigkill_in_the_middle_of_an_ingest_then_again(tmp_path):
    lib = notes(tmp_path / "lib", 400)
    home = tmp_path / "home"
    kills = []
    for attempt in range(3):  # kill at three points of the same ingest, each time resumed
        proc = subprocess.Popen(
            [*QUIRE, "ingest", str(lib)],
            env=env_for(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        before = indexed_count(home)
        end = time.monotonic() + 120
        while indexed_count(home) <= before and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(0.05 * attempt)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append(indexed_count(home))
    assert kills and all(k < 400 for k in kills), kills  # really killed mid-way
    done = subprocess.run(
        [*QUIRE, "ingest", str(lib), "--json"], env=env_for(home), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    sizes = consistent(home)
    assert sizes["files"] == 400 and sizes["chunks"] >= 400


def test_two_writers_on_one_library_take_turns(tmp_path):
    home = tmp_path / "home"
    a = notes(tmp_path / "a", 150)
    b = notes(tmp_path / "b", 150)
    settings = Settings.from_env(env_for(home))
    engine = build_engine(settings)
    with write_lock(home).hold():  # the app is writing: the command must wait, and say so
        proc = subprocess.Popen(
            [*QUIRE, "ingest", str(b)], env=env_for(home), stderr=subprocess.PIPE, text=True
        )
        time.sleep(3)
        assert proc.poll() is None  # still waiting
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 0 and "is changing this library" in err and "waiting" in err
    # now both at once: the app's engine in this process, the command in another
    proc = subprocess.Popen(
        [*QUIRE, "ingest", str(a), str(b)], env=env_for(home), stderr=subprocess.PIPE, text=True
    )
    engine.ingest([str(a)])
    assert proc.wait(120) == 0
    sizes = consistent(home)
    assert sizes["files"] == 300
    engine.close()


def test_a_reader_sees_what_another_process_wrote(tmp_path):
    home = tmp_path / "home"
    engine = build_engine(Settings.from_env(env_for(home)))
    engine.ingest([str(notes(tmp_path / "many", 600, words=300))])  # past Chroma's brute-force
    assert engine.store.count() > 1500
    assert engine.search("word1 topic1", 3, mode="dense")  # the index is loaded in memory now
    late = write(tmp_path / "late" / "late.md", "# Late\n\nZanzibar quokka marmalade.\n")
    done = subprocess.run([*QUIRE, "ingest", str(late)], env=env_for(home), capture_output=True)
    assert done.returncode == 0
    hits = engine.search("Zanzibar quokka marmalade", 3, mode="dense")
    assert hits and hits[0].chunk.source == str(late.resolve())
    engine.close()


def test_consistency_check_can_fail(tmp_path):
    home = tmp_path / "home"
    engine = build_engine(Settings.from_env(env_for(home)))
    engine.ingest([str(notes(tmp_path / "lib", 3))])
    some = sorted(engine.store.ids())[:1]
    engine.store.delete(some)  # vectors lost behind the manifest's back
    with pytest.raises(AssertionError):
        consistent(home)
    engine.close()
