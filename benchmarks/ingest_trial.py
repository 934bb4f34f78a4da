"""A new user's first day, timed: `quire` on a folder of notes and PDFs, as a subprocess.

Builds a library from ../shared/eval (SciFact abstracts as 300 Markdown notes with headings,
SQuAD paragraphs as 8 PDFs of 12 pages), then times: the first ingest, a second ingest
(everything unchanged), an edit of one note, and `quire sync` after deleting one note.

    .venv/bin/python benchmarks/ingest_trial.py [--notes 300] [--pdfs 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
sys.path.insert(0, str(ROOT))


def build_library(root: Path, n_notes: int, n_pdfs: int) -> None:
    from tests.pdfs import make_pdf

    docs = [json.loads(line) for line in open(EVAL / "scifact" / "corpus.jsonl")]
    for i in range(n_notes):
        a, b, c = docs[3 * i : 3 * i + 3]
        folder = root / "notes" / ("work", "reading", "ideas", "journal")[i % 4]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"note{i:03}.md").write_text(
            f"# {a['title']}\n\n{a['text']}\n\n## Related: {b['title']}\n\n{b['text']}\n\n"
            f"### Aside\n\n{c['text']}\n"
        )
    paras = [json.loads(line)["text"] for line in open(EVAL / "squad-v1.1-dev/beir/corpus.jsonl")]
    (root / "papers").mkdir(parents=True, exist_ok=True)
    for p in range(n_pdfs):
        pages = [" ".join(paras[p * 40 + k * 3 : p * 40 + k * 3 + 3]) for k in range(12)]
        pages = [t.encode("latin-1", "replace").decode("latin-1") for t in pages]
        (root / "papers" / f"paper{p}.pdf").write_bytes(make_pdf(pages))


def quire(home: Path, *args: str) -> tuple[dict, float]:
    env = {**os.environ, "QUIRE_HOME": str(home)}
    began = time.perf_counter()
    out = subprocess.run(
        [str(Path(sys.executable).parent / "quire"), *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - began
    if out.returncode not in (0, 1):
        raise SystemExit(out.stderr)
    return json.loads(out.stdout), wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=300)
    ap.add_argument("--pdfs", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lib, home = Path(tmp) / "lib", Path(tmp) / "home"
        build_library(lib, args.notes, args.pdfs)
        rows = []
        report, wall = quire(home, "ingest", str(lib))
        rows.append(("first ingest", report, wall))
        report, wall = quire(home, "ingest", str(lib))
        rows.append(("second ingest (unchanged)", report, wall))
        note = lib / "notes" / "work" / "note000.md"
        note.write_text(note.read_text() + "\n## Update\n\nGlacier retreat measured in 2026.\n")
        report, wall = quire(home, "ingest", str(lib))
        rows.append(("after editing one note", report, wall))
        (lib / "notes" / "reading" / "note001.md").unlink()
        report, wall = quire(home, "sync", str(lib))
        rows.append(("sync after deleting one note", report, wall))
    if args.json:
        print(json.dumps([{"step": s, "wall_s": w, **r} for s, r, w in rows], indent=2))
        return
    print(
        f"{'step':30} {'wall s':>7} {'added':>6} {'upd':>4} {'same':>5} {'rm':>3} {'fail':>4} "
        f"{'chunks':>6} {'chunks/s':>8}"
    )
    for step, r, wall in rows:
        c = r["counts"]
        print(
            f"{step:30} {wall:7.2f} {c['added']:6} {c['updated']:4} {c['unchanged']:5} "
            f"{c['removed']:3} {c['failed']:4} {r['chunks']:6} {r['chunks_per_second']:8.1f}"
        )


if __name__ == "__main__":
    main()
