"""Cold `quire search` and `quire ask --mode quotes`: a new process each time, as from a shell.

    .venv/bin/python benchmarks/cold_start.py WORK [--sizes 1000,10000,100000] [--runs 10]

For each size, a library of synthetic chunks (benchmarks/scale_latency.py's generator: real
Chroma and FTS5 index, random vectors) is built once under WORK/<size>; then, interleaved so
that machine load falls on all alike, RUNS times each: `quire search`, `quire search` with
the store opened in this process (`QUIRE_CLI_FORK=0`, no child opening Chroma meanwhile),
`quire ask --mode quotes`, `quire docs`, `quire --help`, and
`python -c "import sentence_transformers"` (what every search paid before queries ran on ONNX
Runtime). With `--warm`, a `quire watch` runs on each library meanwhile (it answers searches on
QUIRE_HOME/search.sock, quire/warm.py), and the commands are `quire search` (answered by it),
`quire search` with `QUIRE_WARM_SEARCH=off` (as without a watcher) and the import, interleaved
the same way. Bytecode is written as on a user's
machine (PYTHONDONTWRITEBYTECODE unset), after one untimed run of each. The ONNX embedder
must already be in the cache (any `quire search` makes it once).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scale_latency import WORDS, add  # noqa: E402

from rag.retrieval.lexical import LexicalIndex  # noqa: E402
from rag.retrieval.store import ChromaStore  # noqa: E402

BIN = Path(sys.executable).parent


def build(home: Path, size: int) -> None:
    if (home / "built").is_file():
        return
    store = ChromaStore(home / "chroma")
    lexical = LexicalIndex(home / "lexical.sqlite3")
    add(store, lexical, random.Random(0), np.random.default_rng(0), 0, size)
    lexical.close()
    (home / "built").write_text(str(size))


def timed(argv: list[str], env: dict) -> float:
    t = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed: {done.stderr[-2000:]}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warm", action="store_true", help="with a `quire watch` running")
    args = ap.parse_args()
    rnd = random.Random(1)
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; p50 / p95 of {args.runs}")
    print(f"{'chunks':>8} {'command':34} {'p50 s':>7} {'p95 s':>7}")
    for size in [int(s) for s in args.sizes.split(",")]:
        home = args.work / str(size)
        build(home, size)
        env = {**base, "QUIRE_HOME": str(home), "QUIRE_LLM": "fake"}

        def query():
            return " ".join(rnd.sample(WORDS, rnd.randint(3, 6)))

        commands = {
            "quire search": lambda: [str(BIN / "quire"), "search", query()],
            "quire search, QUIRE_CLI_FORK=0": lambda: ["env", "QUIRE_CLI_FORK=0",
                                                       str(BIN / "quire"), "search", query()],
            "quire ask --mode quotes": lambda: [str(BIN / "quire"), "ask", query(), "--mode",
                                                "quotes"],
            "quire docs": lambda: [str(BIN / "quire"), "docs"],
            "quire --help": lambda: [str(BIN / "quire"), "--help"],
            "import sentence_transformers": lambda: [sys.executable, "-c",
                                                     "import sentence_transformers"],
        }  # fmt: skip
        watcher = None
        if args.warm:
            commands = {
                "quire search, a watcher answering": commands["quire search"],
                "quire search, QUIRE_WARM_SEARCH=off": lambda: [
                    "env", "QUIRE_WARM_SEARCH=off", str(BIN / "quire"), "search", query()],
                "import sentence_transformers": commands["import sentence_transformers"],
            }  # fmt: skip
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            watcher = subprocess.Popen([str(BIN / "quire"), "watch"], env=env, **quiet)
            while not (home / "search.sock").exists():
                time.sleep(0.2)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for make in commands.values():
            timed(make(), env)  # bytecode written, files in the page cache
        for _ in range(args.runs):
            for name, make in commands.items():
                times[name].append(timed(make(), env))
        for name, got in times.items():
            got.sort()
            p95 = got[min(len(got) - 1, round(0.95 * (len(got) - 1)))]
            print(f"{size:8} {name:34} {statistics.median(got):7.2f} {p95:7.2f}", flush=True)
        if watcher is not None:
            watcher.terminate()
            watcher.wait(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
