"""Issue 24, point 6: the parse worker cannot change the files it can read. Before, only a
file-size limit of 0 held it back: it could still truncate, rename and delete files, and make
empty ones. Landlock (Linux 5.13+) now makes the whole file system read-only to it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ingest.sandbox import Sandbox
from ingest.worker import landlock_abi

needs_landlock = pytest.mark.skipif(
    landlock_abi() < 1, reason="this kernel offers no Landlock (the worker falls back to rlimits)"
)

# What a parser exploited through a memory bug might try, run in a confined child process.
ATTEMPTS = """
import json, os, socket, sys
from ingest.worker import confine
folder = sys.argv[1]
done = {"confinement": confine(512)}
def attempt(name, action):
    try:
        action()
        done[name] = "done"
    except OSError as exc:
        done[name] = exc.strerror
j = lambda name: os.path.join(folder, name)
attempt("truncate", lambda: os.truncate(j("notes.md"), 0))
attempt("open to overwrite", lambda: open(j("notes.md"), "w").close())
attempt("rename", lambda: os.rename(j("notes.md"), j("renamed.md")))
attempt("move to a subfolder", lambda: os.rename(j("notes.md"), j("sub/notes.md")))
attempt("delete", lambda: os.unlink(j("notes.md")))
attempt("delete a folder", lambda: os.rmdir(j("sub")))
attempt("create", lambda: open(j("new.md"), "x").close())
attempt("make a folder", lambda: os.mkdir(j("made")))
attempt("make a symlink", lambda: os.symlink(j("notes.md"), j("link.md")))
attempt("read", lambda: open(j("notes.md")).read())
print(json.dumps(done))
"""


def attempts(folder) -> dict:
    run = subprocess.run(
        [sys.executable, "-c", ATTEMPTS, str(folder)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@needs_landlock
def test_the_worker_cannot_truncate_rename_delete_or_create_files(tmp_path):
    (tmp_path / "sub").mkdir()
    notes = tmp_path / "notes.md"
    notes.write_text("# My notes\n")
    got = attempts(tmp_path)
    assert got.pop("confinement").startswith("Landlock ABI ")
    assert got.pop("read") == "done"
    assert got == dict.fromkeys(got, "Permission denied")  # every change refused
    assert notes.read_text() == "# My notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md", "sub"]


@needs_landlock
def test_the_sandbox_says_its_worker_is_confined_and_still_reads_files():
    sandbox = Sandbox()
    try:
        doc = sandbox.load("n.md", b"# Title\n\nText.\n")
        assert doc.pages and sandbox.confinement.startswith("Landlock ABI ")
    finally:
        sandbox.close()


def test_the_worker_says_when_it_has_no_landlock(monkeypatch):
    import ingest.worker as worker

    monkeypatch.setattr(worker, "landlock_abi", lambda: 0)
    assert worker.landlock() == "none (the kernel offers no Landlock)"
