"""`quire watch` as a user runs it: a real watcher (inotify through watchdog) in a subprocess
with the real embedder, files changed the ways editors change them, and `quire search` in
other processes seeing each change within a bounded time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

QUIRE = str(Path(sys.executable).parent / "quire")
BOUND = 60.0  # seconds a change may take to show up (1-2 s measured; CI machines are shared)


def env(home: Path) -> dict:
    return {**os.environ, "QUIRE_HOME": str(home), "HF_HUB_OFFLINE": "1",
            "QUIRE_WATCH_QUIET": "0.3"}  # fmt: skip


def quire(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [QUIRE, *args], capture_output=True, text=True, env=env(home), timeout=300
    )


def sources(home: Path, query: str) -> set[str]:
    """The files `quire search` finds for `query` (keyword matches: exact words)."""
    out = quire(home, "search", query, "--mode", "keyword", "--json")
    assert out.returncode == 0, out.stderr
    return {os.path.basename(h["source"]) for h in json.loads(out.stdout)}


def _paths(home: Path, query: str) -> set[str]:
    out = quire(home, "search", query, "--mode", "keyword", "--json")
    return {"/".join(Path(h["source"]).parts[-2:]) for h in json.loads(out.stdout)}


def until(check, what: str) -> float:
    """Seconds until `check()` holds; else fail saying what was awaited and what the running
    watcher printed meanwhile."""
    began = time.monotonic()
    while time.monotonic() - began < BOUND:
        if check():
            return time.monotonic() - began
        time.sleep(0.2)
    printed = Watch.current.output()[-3000:] if Watch.current else "(no watcher running)"
    raise AssertionError(f"waited {BOUND:g} s for {what}; the watcher printed:\n{printed}")


class Watch:
    """`quire watch` in the background, its output in a file."""

    current: Watch | None = None  # the one running, whose output a failed wait shows

    def __init__(self, home: Path, log: Path) -> None:
        self.log = log
        Watch.current = self
        self.proc = subprocess.Popen(
            [QUIRE, "watch"], stdout=log.open("w"), stderr=subprocess.STDOUT, env=env(home)
        )
        until(lambda: "Watching" in self.output(), "the watcher started")
        until(lambda: json.loads(quire(home, "watch", "list", "--json").stdout)["watcher"],
              "the watcher said it is alive")  # fmt: skip

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> str:
        Watch.current = None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(60) == 0, self.output()[-3000:]
        return self.output()


@pytest.fixture
def notes(tmp_path) -> Path:
    folder = tmp_path / "notes"
    (folder / "garden").mkdir(parents=True)
    (folder / "heron.md").write_text("# Herons\n\nThe heron waits by the ferry at dawn.\n")
    (folder / "garden" / "soil.md").write_text("# Soil\n\nCompost and loam for the beds.\n")
    return folder


def test_watch_follows_edits_renames_deletes_and_editors_odd_saves(tmp_path, notes):
    home = tmp_path / "home"
    added = quire(home, "watch", "add", str(notes))
    assert added.returncode == 0 and "2 added" in added.stdout, added.stdout + added.stderr
    watch = Watch(home, tmp_path / "watch.log")
    # While it runs, `quire search` is answered by it (quire/warm.py): every check below also
    # shows that its searches see its own writes.
    assert (home / "search.sock").exists()
    try:
        # A new note.
        (notes / "kiln.md").write_text("# Kiln\n\nThe kiln fires stoneware overnight.\n")
        until(lambda: sources(home, "stoneware") == {"kiln.md"}, "a new note")
        # Edited in place (VS Code's default save), several times within a second.
        for i in range(10):
            (notes / "kiln.md").write_text(f"# Kiln\n\nDraft {i} about porcelain glazes.\n")
            time.sleep(0.08)
        until(lambda: sources(home, "porcelain") == {"kiln.md"}, "an edit")
        assert sources(home, "stoneware") == set()
        # vim: a probe file, the note renamed to a backup, a new file written, backup deleted.
        probe = notes / "4913"
        probe.write_text("")
        probe.unlink()
        os.rename(notes / "heron.md", notes / "heron.md~")
        (notes / "heron.md").write_text("# Herons\n\nThe heron fishes in the millpond.\n")
        (notes / "heron.md~").unlink()
        (notes / ".heron.md.swp").write_bytes(b"b0VIM 9.0 millpond")
        until(lambda: sources(home, "millpond") == {"heron.md"}, "a vim save")
        # A temp file renamed over the note (atomic saves: VS Code, JetBrains, Obsidian).
        tmp = notes / "garden" / "soil.md.tmp"
        tmp.write_text("# Soil\n\nMulch of bracken keeps the beds moist.\n")
        os.replace(tmp, notes / "garden" / "soil.md")
        until(lambda: sources(home, "bracken") == {"soil.md"}, "an atomic save")
        # Renamed and moved to a new folder; then deleted.
        (notes / "pottery").mkdir()
        os.rename(notes / "kiln.md", notes / "pottery" / "kiln-log.md")
        until(lambda: sources(home, "porcelain") == {"kiln-log.md"}, "a rename")
        (notes / "pottery" / "kiln-log.md").unlink()
        until(lambda: sources(home, "porcelain") == set(), "a delete")
        # A folder renamed: its notes move with it.
        os.rename(notes / "garden", notes / "allotment")
        until(lambda: _paths(home, "bracken") == {"allotment/soil.md"}, "a folder rename")
        # Office's owner file and hidden app folders are never indexed.
        (notes / "~$report.docx").write_bytes(b"\x05owner")
        (notes / ".obsidian").mkdir()
        (notes / ".obsidian" / "workspace.md").write_text("secret millpond layout")
        time.sleep(1.5)
        docs = {
            os.path.basename(d["path"]) for d in json.loads(quire(home, "docs", "--json").stdout)
        }
        assert docs == {"heron.md", "soil.md"}
        # A folder that disappears (an unplugged drive): reported, nothing removed.
        os.rename(notes, tmp_path / "unplugged")
        until(lambda: "missing" in quire(home, "watch", "list").stdout, "missing reported")
        assert sources(home, "millpond") == {"heron.md"}
        os.rename(tmp_path / "unplugged", notes)
        until(lambda: "watching" in quire(home, "watch", "list").stdout, "folder back")
    finally:
        log = watch.stop()
    assert log.count("kiln.md (") <= 3, log  # ten saves a second did not make ten updates
    assert "4913" not in log and "swp" not in log and "~$" not in log
    assert "Stopped watching." in log
    assert not (home / "search.sock").exists()

    # Offline edits are picked up by the next start, before it watches.
    (notes / "heron.md").write_text("# Herons\n\nThe heron left for the estuary.\n")
    (notes / "allotment" / "soil.md").unlink()
    (notes / "allotment" / "seeds.md").write_text("# Seeds\n\nSow the marigold seeds in May.\n")
    watch = Watch(home, tmp_path / "watch2.log")
    try:
        until(lambda: sources(home, "estuary marigold bracken") == {"heron.md", "seeds.md"},
              "offline edits after a restart")  # fmt: skip
    finally:
        watch.stop()
