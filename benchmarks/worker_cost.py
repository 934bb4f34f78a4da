"""The parse worker's cost on a whole ingest: the same folder ingested with QUIRE_PARSE_WORKER
=inline and with the worker, interleaved (inline, worker, inline, worker), each in a fresh
process on a fresh home, so both ways see the same machine.

    .venv/bin/python benchmarks/worker_cost.py /tmp/mixed
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quire.bench.ingest import ingest_process  # noqa: E402


def main() -> int:
    docs = Path(sys.argv[1])
    work = Path(tempfile.mkdtemp(prefix="quire-worker-cost-"))
    runs = [("in-process", {"QUIRE_PARSE_WORKER": "inline"}), ("worker", {})] * 2
    print(f"{'parsing':12} {'seconds':>8} {'chunks':>7} {'peak RSS':>9} {'children':>9}")
    for i, (name, env) in enumerate(runs):
        r = ingest_process(docs, work / f"home-{i}", env)
        print(
            f"{name:12} {r['ingest_seconds']:8.1f} {r['chunks']:7} {r['peak_rss_mb']:6.0f} MB "
            f"{r['parse_worker_peak_rss_mb']:6.0f} MB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
