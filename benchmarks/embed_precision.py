"""Embedding speed of the bundled model in fp32, bf16 and int8 (dynamic quantization), CPU.

    .venv/bin/python benchmarks/embed_precision.py ../shared/eval/scifact

600 SciFact abstracts (title and text, cut at 1,100 characters, about a chunk's length), batch
32, 2 threads, each variant timed twice after a warm-up.
"""

import json
import sys
import time
import warnings
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer

from rag.retrieval.embed import bundled_embedder_path, prepare_torch


def main() -> None:
    warnings.filterwarnings("ignore")
    prepare_torch(2)
    with open(Path(sys.argv[1]) / "corpus.jsonl", encoding="utf-8") as f:
        docs = [json.loads(line) for _, line in zip(range(600), f)]
    texts = [(d["title"] + ". " + d["text"])[:1100] for d in docs]
    path = str(bundled_embedder_path())
    fp32 = SentenceTransformer(path, device="cpu")
    bf16 = SentenceTransformer(path, device="cpu").to(torch.bfloat16)
    int8 = torch.ao.quantization.quantize_dynamic(
        SentenceTransformer(path, device="cpu"), {torch.nn.Linear}, dtype=torch.qint8
    )
    models = {"fp32": fp32, "bf16": bf16, "int8 (dynamic)": int8}
    for m in models.values():
        m.encode(texts[:32])
    for rep in (1, 2):
        for name, m in models.items():
            t = time.perf_counter()
            m.encode(texts, batch_size=32)
            print(f"run {rep}: {name:15} {len(texts) / (time.perf_counter() - t):7.1f} texts/s")


if __name__ == "__main__":
    main()
