"""Issue 24, point 5: a file swapped after discovery costs only itself.

Files were opened with no regular-file check and read with no size bound: a FIFO swapped in hung
the ingest forever (and the next ingest waited on its lock), and a link to /dev/zero grew the
process to 5.3 GB, past QUIRE_MAX_FILE_MB. Each run here is a child process with a deadline (a
hang fails the test instead of hanging it) and, against the old unbounded read, a soft address
space limit of 2 GB so that it ends in a MemoryError rather than eating the machine."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import prepare
from ingest.uploads import Uploads
from tests.helpers import deadline, write

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 120  # seconds; the run itself takes a few

# Ingests a folder (fake embedder, in-memory store); between discovery and reading, the file
# `swapped.md` becomes a FIFO or a link to /dev/zero. Then ingests again, as the next run would.
SCRIPT = """
import json, os, resource, sys
from pathlib import Path

soft, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, hard))

from ingest import pipeline
from quire.engine import build_engine
from rag.retrieval.embed import HashEmbedder
from rag.retrieval.store import MemoryStore
from rag.settings import Settings

folder, swap, follow, home = sys.argv[1], sys.argv[2], sys.argv[3] == "follow", Path(sys.argv[4])
home.mkdir(parents=True, exist_ok=True)
links = {"follow_links": follow} if "follow_links" in Settings.__dataclass_fields__ else {}
s = Settings(home=home, embedder="fake", max_file_mb=1.0, parse_worker="inline",
             chunk_tokens=64, chunk_overlap=8, **links)
engine = build_engine(s, MemoryStore(), HashEmbedder())
discover = pipeline.discover

def discover_then_swap(*args, **kwargs):
    found = discover(*args, **kwargs)
    target = os.path.join(folder, "swapped.md")
    os.unlink(target)
    if swap == "fifo":
        os.mkfifo(target)
    else:
        os.symlink("/dev/zero", target)
    return found

pipeline.discover = discover_then_swap
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
first = engine.ingest([folder])
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
pipeline.discover = discover
second = engine.ingest([folder])
print(json.dumps({
    "first": {os.path.basename(f.path): [f.status, f.reason] for f in first.files},
    "second": {os.path.basename(f.path): [f.status, f.reason] for f in second.files},
    "grown_mb": grown / 1024,
}))
"""


def run_swapped(tmp_path: Path, swap: str, follow: bool = False) -> dict:
    folder = tmp_path / "notes"
    write(folder / "a-before.md", "# Before\n\nA note read before the swapped one.\n")
    write(folder / "swapped.md", "# Swapped\n\nA plain note, until it is swapped.\n")
    write(folder / "z-after.md", "# After\n\nA note read after the swapped one.\n")
    args = [str(folder), swap, "follow" if follow else "no", str(tmp_path / "home")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        run = subprocess.run(
            [sys.executable, "-c", SCRIPT, *args],
            capture_output=True, text=True, timeout=DEADLINE, env=env, cwd=ROOT,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"the ingest hung on a {swap} swapped in after discovery")
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_fifo_swapped_in_after_discovery_fails_alone_and_nothing_hangs(tmp_path):
    got = run_swapped(tmp_path, "fifo")
    status, reason = got["first"]["swapped.md"]
    assert status == "failed" and "not a regular file" in reason
    assert got["first"]["a-before.md"][0] == got["first"]["z-after.md"][0] == "added"
    assert got["second"]["a-before.md"][0] == "unchanged"  # the next run did not wait


@pytest.mark.parametrize("follow", [False, True], ids=["default", "follow-links"])
def test_dev_zero_swapped_in_through_a_link_is_refused_and_memory_stays_bounded(tmp_path, follow):
    got = run_swapped(tmp_path, "zero", follow)
    status, reason = got["first"]["swapped.md"]
    assert status == "failed"
    assert ("a link now, not followed" if not follow else "not a regular file") in reason
    assert got["first"]["a-before.md"][0] == got["first"]["z-after.md"][0] == "added"
    assert got["grown_mb"] < 64, f"the process grew by {got['grown_mb']:.0f} MB"


def test_a_file_that_grows_past_the_limit_while_read_fails_with_a_clear_reason(
    tmp_path, make_engine, monkeypatch
):
    folder = tmp_path / "notes"
    log = write(folder / "log.txt", "started\n")
    write(folder / "note.md", "# Note\n\nFine.\n")

    def grow() -> None:
        with open(log, "ab") as f:
            f.write(b"line\n" * 400_000)  # 2 MB

    if hasattr(prepare, "open_document"):
        real_open = prepare.open_document

        def open_then_grow(path, *args):  # the file grows between its size check and its read
            opened = real_open(path, *args)
            if path == str(log):
                grow()
            return opened

        monkeypatch.setattr(prepare, "open_document", open_then_grow)
    else:  # the code before the fix (to check that this test fails on it): stat, then read
        real_stat, looks = os.stat, []

        def stat_then_grow(path, *args, **kwargs):
            st = real_stat(path, *args, **kwargs)
            if str(path) == str(log):
                looks.append(st)
                if len(looks) == 2:  # the first look is discovery's, the second the size check
                    grow()
            return st

        monkeypatch.setattr(prepare.os, "stat", stat_then_grow)
    report = make_engine(max_file_mb=1.0).ingest([str(folder)])
    got = {Path(f.path).name: (f.status, f.reason) for f in report.files}
    assert got["log.txt"] == (
        "failed",
        "file is over the 1 MB limit (QUIRE_MAX_FILE_MB): it grew while it was read",
    )
    assert got["note.md"][0] == "added"


def test_an_upload_swapped_for_a_fifo_is_not_claimed_and_nothing_blocks(tmp_path, monkeypatch):
    uploads = Uploads(tmp_path / "uploads", tmp_path / "uploads.sqlite3")
    saved = uploads.save("notes.md", b"# Notes\n")
    recorded = os.lstat(saved.path)
    os.unlink(saved.path)
    os.mkfifo(saved.path)
    real_lstat = os.lstat

    def lstat_before_the_swap(path, *args, **kwargs):  # the swap lands just after the look
        return recorded if str(path) == str(saved.path) else real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat_before_the_swap)
    with deadline(5):
        assert uploads.delete(saved.path) is False
    monkeypatch.undo()
    assert stat.S_ISFIFO(os.lstat(saved.path).st_mode), "a file Quire did not make stays"
    uploads.close()
