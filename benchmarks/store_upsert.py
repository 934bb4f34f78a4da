"""Chroma write cost per call: 300 small upserts against 9 large ones, same 2,400 chunks.

.venv/bin/python benchmarks/store_upsert.py
"""

import random
import tempfile
import time
from pathlib import Path

from rag.retrieval.store import ChromaStore
from rag.types import Chunk

rnd = random.Random(0)


def vecs(n):
    return [[rnd.random() for _ in range(384)] for _ in range(n)]


for per_call in (8, 256):
    with tempfile.TemporaryDirectory() as d:
        s = ChromaStore(Path(d))
        s.count()
        chunks = [
            Chunk(source=f"/f{i // 8}", text=f"text {i}", start=i, end=i + 6) for i in range(2400)
        ]
        v = vecs(2400)
        t = time.perf_counter()
        for i in range(0, 2400, per_call):
            s.upsert(chunks[i : i + per_call], v[i : i + per_call])
        took = time.perf_counter() - t
        print(
            f"{per_call} chunks per upsert: {took:.2f} s for 2400 chunks ({2400 // per_call} calls)"
        )
