"""`quire` as a user runs it: a subprocess, the real embedder, a home on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import bump_mtime, write
from tests.pdfs import make_pdf

QUIRE = str(Path(sys.executable).parent / "quire")


def quire(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QUIRE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([QUIRE, *args], capture_output=True, text=True, env=env, timeout=600)


def test_ingest_twice_edit_sync(tmp_path):
    notes = tmp_path / "notes"
    for i in range(30):
        write(notes / f"n{i:02}.md", f"# Note {i}\n\n## Body\n\nThought {i}: " + "words " * 40)
    write(notes / "paper.pdf", make_pdf([f"Page {p} of the paper." for p in range(1, 6)]))
    home = tmp_path / "home"
    first = quire(home, "ingest", str(notes), "--json")
    assert first.returncode == 0, first.stderr
    r1 = json.loads(first.stdout)
    assert r1["counts"]["added"] == 31 and r1["chunks"] >= 31
    second = quire(home, "ingest", str(notes), "--json")
    r2 = json.loads(second.stdout)
    assert r2["counts"]["unchanged"] == 31 and r2["chunks"] == 0
    assert r2["seconds"] < r1["seconds"] / 3  # ratio in one run: no model, no embedding
    write(notes / "n05.md", "# Note 5\n\nEdited.\n")
    bump_mtime(notes / "n05.md")
    (notes / "n07.md").unlink()
    third = json.loads(quire(home, "sync", str(notes), "--json").stdout)
    assert (third["counts"]["updated"], third["counts"]["removed"]) == (1, 1)
    assert third["counts"]["unchanged"] == 29
    docs = json.loads(quire(home, "docs", "--json").stdout)
    assert len(docs) == 30
    pdf = next(d for d in docs if d["path"].endswith("paper.pdf"))
    assert pdf["pages"] == 5 and pdf["status"] == "indexed"


def test_unreadable_file_is_reported_and_the_rest_indexed(tmp_path):
    notes = tmp_path / "notes"
    write(notes / "open.md", "# Open\n\nanyone may read this\n")
    write(notes / "closed.md", "# Closed\n\nsecret\n").chmod(0o000)
    # Root reads any file whatever its mode: drop the capabilities that let it, for a real EACCES.
    prefix = []
    if os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}"]
    env = {**os.environ, "QUIRE_HOME": str(tmp_path / "home"), "QUIRE_EMBEDDER": "fake"}
    out = subprocess.run(
        [*prefix, QUIRE, "ingest", str(notes), "--json"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 1, out.stderr
    files = json.loads(out.stdout)["files"]
    got = {Path(f["path"]).name: (f["status"], f["reason"]) for f in files}
    assert got == {"closed.md": ("failed", "permission denied"), "open.md": ("added", "")}
