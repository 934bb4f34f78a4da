"""Watched folders: time from a file save to searchable, and what an idle watcher costs.

    .venv/bin/python benchmarks/watch_latency.py WORK [--notes 10000] [--saves 40] [--idle 60]

In WORK (kept, so a second run reuses the library): a folder of `--notes` small Markdown notes
(100 per subfolder) is indexed with `quire ingest`, then `quire watch` (the real embedder, the
default settings) is started on it as a user would, in its own process.

- Save to searchable: `--saves` times, one note is rewritten with a new unique word (in turns
  a new note and an edit of an existing one), and the clock runs until the manifest records
  the file's new size and time, which Quire writes after the chunk is in both the vector and
  the keyword index. At the end each word is looked up with a hybrid search in this process.
- Idle: the watcher's CPU time (user + system, from /proc) over `--idle` seconds with nothing
  changing, as a share of one core, and its resident memory; and the CPU time of its start-up
  sync of the unchanged folder.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from quire.bench.retrieval import percentile

QUIRE = str(Path(sys.executable).parent / "quire")
TICKS = os.sysconf("SC_CLK_TCK")


def make_notes(folder: Path, n: int) -> None:
    for i in range(n):
        path = folder / f"topic{i // 100:03d}" / f"note{i:05d}.md"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# Note {i}\n\nA note about subject {i % 97} and thing {i % 89}.\n")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def recorded(db: sqlite3.Connection, path: Path, size: int, mtime_ns: int) -> bool:
    row = db.execute("SELECT size, mtime_ns FROM files WHERE path = ?", (str(path),)).fetchone()
    return row is not None and tuple(row) == (size, mtime_ns)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--saves", type=int, default=40)
    ap.add_argument("--idle", type=float, default=60.0)
    args = ap.parse_args()
    folder, home = args.work / "notes", args.work / "home"
    env = {**os.environ, "QUIRE_HOME": str(home)}
    make_notes(folder, args.notes)
    t = time.perf_counter()
    subprocess.run([QUIRE, "ingest", str(folder)], env=env, check=False, capture_output=True)
    print(f"ingest of {args.notes} notes (or check, if indexed): {time.perf_counter() - t:.1f} s")
    subprocess.run([QUIRE, "watch", "add", str(folder), "--no-sync"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    log = (args.work / "watch.log").open("w")
    watch = subprocess.Popen([QUIRE, "watch"], stdout=log, stderr=subprocess.STDOUT, env=env)
    db = sqlite3.connect(home / "manifest.sqlite3")
    try:
        began = time.perf_counter()
        while (
            "watching; last synced"
            not in subprocess.run(
                [QUIRE, "watch", "list"], env=env, capture_output=True, text=True
            ).stdout
        ):
            time.sleep(0.5)
        startup = time.perf_counter() - began
        start_cpu = cpu_seconds(watch.pid)
        print(f"start-up (model load, sync of {args.notes} unchanged notes): {startup:.1f} s "
              f"wall, {start_cpu:.1f} s CPU, {rss_mb(watch.pid):.0f} MB resident")  # fmt: skip

        time.sleep(5)
        c0, t0 = cpu_seconds(watch.pid), time.perf_counter()
        time.sleep(args.idle)
        idle = (cpu_seconds(watch.pid) - c0) / (time.perf_counter() - t0)
        print(f"idle for {args.idle:.0f} s: {100 * idle:.2f}% of one core, "
              f"{rss_mb(watch.pid):.0f} MB resident")  # fmt: skip

        latencies, words, run = [], {}, int(time.time()) % 100_000  # words new to this run
        for i in range(args.saves):
            word = f"zebrawood{run}x{i:03d}"
            if i % 2 == 0:
                path = folder / "inbox" / f"new{i:03d}.md"
                path.parent.mkdir(exist_ok=True)
            else:
                j = (i * 37) % args.notes
                path = folder / f"topic{j // 100:03d}" / f"note{j:05d}.md"
            t = time.perf_counter()
            path.write_text(f"# Saved {i}\n\nA small note that mentions {word} once.\n")
            st = os.stat(path)
            while not recorded(db, path, st.st_size, st.st_mtime_ns):
                time.sleep(0.005)
                if time.perf_counter() - t > 120:
                    raise SystemExit(f"save {i} not indexed within 120 s")
            latencies.append(time.perf_counter() - t)
            words[word] = path
            time.sleep(0.5)
        p50, p95 = statistics.median(latencies), percentile(latencies, 95)
        print(f"save -> searchable, {len(latencies)} saves: p50 {p50:.2f} s, p95 {p95:.2f} s, "
              f"max {max(latencies):.2f} s")  # fmt: skip
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.wait(60)
        db.close()

    os.environ["QUIRE_HOME"] = str(home)
    from quire.engine import build_engine

    engine = build_engine()
    found = sum(
        bool(hits) and hits[0].chunk.source == str(path)
        for word, path in words.items()
        for hits in [engine.search(f"note that mentions {word}", k=1)]
    )
    print(f"hybrid search finds each saved note first: {found} of {len(words)}")


if __name__ == "__main__":
    main()
