"""Issue 11, point 8: QUIRE_HOME is private, and a full disk gives one clear line, exit code 2,
nothing half-written, and a library that the next run completes.

The full disk is real: a 3 MB tmpfs mounted over QUIRE_HOME in a user and mount namespace
(`unshare -rm`, no root needed), with real Chroma and `quire` processes."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from quire.engine import build_engine
from rag.home import private_home
from rag.settings import Settings
from tests.integration.test_faults import env_for, notes

ROOT = Path(__file__).resolve().parents[2]


def test_a_new_home_is_private_and_an_old_open_one_is_tightened(tmp_path):
    home = tmp_path / "home"
    engine = build_engine(Settings(home=home, embedder="fake"))
    engine.close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    old = tmp_path / "old"
    (old / "uploads").mkdir(parents=True)
    (old / "uploads" / "n.md").write_text("x")
    old.chmod(0o755)
    (old / "uploads" / "n.md").chmod(0o644)
    private_home(old)
    assert stat.S_IMODE(old.stat().st_mode) == 0o700
    assert stat.S_IMODE((old / "uploads" / "n.md").stat().st_mode) == 0o600


def test_files_the_cli_writes_are_for_its_user_only(tmp_path):
    home = tmp_path / "home"
    note = tmp_path / "n.md"
    note.write_text("# N\n\nA note.\n")
    run = subprocess.run(
        [sys.executable, "-m", "quire.cli", "ingest", str(note)],
        env=env_for(home),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in home.rglob("*") if p.is_file()}
    assert modes and all(m & 0o077 == 0 for m in modes.values()), modes


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


SCRIPT = """
set -u
mount -t tmpfs -o size=3m,mode=700 tmpfs "$QUIRE_HOME" || exit 99
"$PY" -m quire.cli ingest "$DOCS" > "$OUT/out1" 2> "$OUT/err1"; echo $? > "$OUT/rc1"
ls -A "$QUIRE_HOME" > "$OUT/ls1"
mount -o remount,size=200m "$QUIRE_HOME"
"$PY" -m quire.cli ingest "$DOCS" --json > "$OUT/out2" 2> "$OUT/err2"; echo $? > "$OUT/rc2"
"$PY" -c "import json, sys; from pathlib import Path
from tests.integration.test_faults import consistent
print(json.dumps(consistent(Path(sys.argv[1]))))" "$QUIRE_HOME" > "$OUT/consistent"
"""


@pytest.mark.skipif(not _unshare_works(), reason="needs user namespaces (unshare -rm)")
def test_a_full_disk_stops_ingest_with_one_line_and_exit_code_2(tmp_path):
    docs = notes(tmp_path / "docs", 400, words=300)  # about 3 MB of notes
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    out.mkdir()
    env = {**env_for(home), "PY": sys.executable, "DOCS": str(docs), "OUT": str(out)}
    run = subprocess.run(["unshare", "-rm", "sh", "-c", SCRIPT], env=env, cwd=ROOT, timeout=600)
    assert run.returncode == 0
    err = (out / "err1").read_text().strip()
    assert (out / "rc1").read_text().strip() == "2", err
    assert len(err.splitlines()) == 1 and err.startswith("quire: the disk holding"), err
    assert "Traceback" not in err
    left = (out / "ls1").read_text().split()
    assert not [name for name in left if name.startswith(".")], left  # no temp files
    assert (out / "rc2").read_text().strip() == "0", (out / "err2").read_text()
    report = json.loads((out / "out2").read_text())
    counts = report["counts"]
    assert counts["failed"] == 0 and counts["added"] + counts["unchanged"] == 400
    assert 0 < counts["unchanged"] < 400  # the first run had committed some, and kept them
    sizes = json.loads((out / "consistent").read_text())
    assert sizes["files"] == 400, sizes
