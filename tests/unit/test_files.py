"""Finding files: recursion, hidden folders, symlinks and loops."""

from __future__ import annotations

import os

from ingest.files import discover
from tests.helpers import write


def test_walks_recursively_in_order_and_passes_over_hidden(tmp_path):
    write(tmp_path / "b.md", "b")
    write(tmp_path / "a" / "c.py", "c = 1")
    write(tmp_path / ".git" / "config.txt", "x")
    write(tmp_path / ".hidden.md", "x")
    write(tmp_path / "node_modules" / "x.md", "x")
    write(tmp_path / "~$report.docx", b"\x05owner")  # Office's lock file beside an open one
    write(tmp_path / "b.md~", "backup")
    write(tmp_path / "old.bak" / "d.md", "a folder's name is not a temp file's")
    found = discover([str(tmp_path)])
    assert found.files == [
        str(tmp_path / "a" / "c.py"),
        str(tmp_path / "b.md"),
        str(tmp_path / "old.bak" / "d.md"),
    ]
    assert found.results == []


def test_unsupported_types_are_skipped_with_a_reason(tmp_path):
    write(tmp_path / "img.dwg", b"AC1032")
    write(tmp_path / "Makefile", "all:")
    found = discover([str(tmp_path)])
    reasons = {os.path.basename(r.path): (r.status, r.reason) for r in found.results}
    assert reasons == {
        "img.dwg": ("skipped", "unsupported file type '.dwg'"),
        "Makefile": ("skipped", "unsupported file type '(no extension)'"),
    }


def test_symlinks_followed_once_and_loops_reported(tmp_path):
    real = write(tmp_path / "notes" / "n.md", "n")
    os.symlink(real, tmp_path / "notes" / "alias.md")
    os.symlink(tmp_path / "notes", tmp_path / "notes" / "loop")
    os.symlink(tmp_path / "missing.md", tmp_path / "notes" / "dangling.md")
    os.symlink("self.md", tmp_path / "notes" / "self.md")
    found = discover([str(tmp_path / "notes")])
    assert found.files == [str(real)]  # the alias resolves to the same file
    reasons = {os.path.basename(r.path): r.reason for r in found.results}
    assert reasons["loop"].startswith("symlink loop")
    assert reasons["self.md"] == "symlink loop"
    assert reasons["dangling.md"] == "broken symlink"


def test_a_missing_path_is_reported(tmp_path):
    found = discover([str(tmp_path / "nope")])
    assert [(r.status, r.reason) for r in found.results] == [("failed", "no such file or folder")]


def test_same_file_named_twice_is_ingested_once(tmp_path):
    f = write(tmp_path / "a.md", "a")
    assert discover([str(f), str(tmp_path)]).files == [str(f)]
