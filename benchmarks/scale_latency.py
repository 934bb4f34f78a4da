"""Query latency as the index grows from 1,000 to 100,000 chunks (synthetic).

    .venv/bin/python benchmarks/scale_latency.py [--sizes 1000,10000,30000,100000]

Chunks of ~150 words drawn from a Zipf vocabulary of real English words, 2,000 files of many
chunks each, written straight into the Chroma store and the FTS5 keyword index (the same
classes Quire uses; random 384-d unit vectors stand in for embeddings, which does not change
the work a query does). At each size, 200 queries of 3-6 words, each embedded by the real
bundled model as `quire search` does (ONNX Runtime), through `Retriever.search(k=10)`: hybrid,
dense and keyword, after warm-up; and hybrid with its two searches one after the other (as
before they ran side by side), in turns with the hybrid runs.

`--home DIR` keeps the library in DIR (built once, grown to each size in turn).
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from quire.bench.retrieval import percentile
from rag.retrieval import retrieve
from rag.retrieval.embed import LocalEmbedder
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.retrieve import Retriever
from rag.retrieval.store import ChromaStore
from rag.types import Chunk

WORDS = (
    "time year people way day man thing woman life child world school state family student "
    "group country problem hand part place case week company system program question work "
    "government number night point home water room mother area money story fact month lot "
    "right study book eye job word business issue side kind head house service friend father "
    "power hour game line end member law car city community name president team minute idea "
    "kid body information back parent face others level office door health person art war "
    "history party result change morning reason research girl guy moment air teacher force "
    "education foot boy age policy process music market sense nation plan college interest "
    "death experience effect use class control care field development role effort rate heart "
    "drug show leader light voice wife police mind price report decision son view relationship "
    "town road arm difference value building action model season society tax director "
    "position player record paper space ground form event official matter center couple site "
    "project activity star table need court oil situation cost industry figure street image "
    "phone data picture practice piece land product doctor wall patient worker news test movie "
    "north love support technology step baby computer type attention film tree source "
    "organization hair window evidence population site protein cell gene enzyme frog garden "
    "sourdough starter kiln ferry heron violin ledger tokenizer compiler kernel thread memory"
).split()


def text(rnd: random.Random, n: int) -> str:
    return " ".join(WORDS[min(int(rnd.paretovariate(1.05)) - 1, len(WORDS) - 1)] if
                    rnd.random() < 0.6 else rnd.choice(WORDS) for _ in range(n))  # fmt: skip


def add(store, lexical, rnd, np_rnd, start: int, end: int) -> None:
    for lo in range(start, end, 1000):
        hi = min(end, lo + 1000)
        chunks = [
            Chunk(source=f"/synthetic/file{i % 2000:04d}.md", text=text(rnd, 150),
                  start=(i // 2000) * 1000, end=(i // 2000) * 1000 + 900, kind="markdown")
            for i in range(lo, hi)
        ]  # fmt: skip
        vectors = np_rnd.standard_normal((len(chunks), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.upsert(chunks, vectors.tolist())
        lexical.upsert(chunks)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,30000,100000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--home", type=Path, help="keep (and reuse) the library here")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    rnd, np_rnd = random.Random(0), np.random.default_rng(0)
    embedder = LocalEmbedder()
    embedder.warm_up()
    with tempfile.TemporaryDirectory(prefix="quire-scale-") as tmp:
        home = args.home or Path(tmp)
        store = ChromaStore(home / "chroma")
        lexical = LexicalIndex(home / "lexical.sqlite3")
        retriever = Retriever(embedder, store, lexical, lambda: [])
        queries = [" ".join(rnd.sample(WORDS, rnd.randint(3, 6))) for _ in range(args.queries)]
        have = store.count()
        print(f"{'chunks':>8} {'mode':28} {'p50 ms':>8} {'p95 ms':>8}   (build s)")
        for size in sizes:
            t = time.perf_counter()
            if have < size:
                add(store, lexical, rnd, np_rnd, have, size)
            built = time.perf_counter() - t
            have = max(have, size)
            for q in queries[:20]:
                retriever.search(q, 10)  # warm-up
            times: dict[str, list[float]] = {}
            for q in queries:
                for mode in ("hybrid", "hybrid, one after the other", "dense", "keyword"):
                    retrieve.ALONGSIDE = mode == "hybrid"
                    t = time.perf_counter()
                    retriever.search(q, 10, mode=mode.split(",")[0])
                    times.setdefault(mode, []).append((time.perf_counter() - t) * 1000)
            retrieve.ALONGSIDE = True
            for mode, got in times.items():
                print(f"{size:8} {mode:28} {statistics.median(got):8.1f} "
                      f"{percentile(got, 95):8.1f}   ({built:.0f})", flush=True)  # fmt: skip
        lexical.close()


if __name__ == "__main__":
    main()
