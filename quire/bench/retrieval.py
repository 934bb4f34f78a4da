"""`quire bench retrieval DIR`: index a BEIR folder through the normal ingest path, then score
dense, keyword and hybrid retrieval with the usual IR metrics and time the queries."""

from __future__ import annotations

import json
import math
import os
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rag.errors import QuireError
from rag.retrieval.fusion import diversify
from rag.retrieval.rerank import rerank
from rag.retrieval.retrieve import MODES
from rag.settings import Settings

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def read_beir(folder: Path) -> tuple[dict, dict, dict]:
    """(corpus {id: (title, text[, path])}, queries {id: text}, qrels {qid: {doc_id: grade}}).

    A document with a "path" (a relative file path, as in a known-item notes set) keeps it."""
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        if not (folder / name).is_file():
            raise QuireError(f"{folder} is not a BEIR folder: {name} is missing")
    corpus = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            doc = (d.get("title") or "", d.get("text") or "")
            corpus[str(d["_id"])] = (*doc, d["path"]) if d.get("path") else doc
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
            qid, did, grade = parts[0], parts[1], int(parts[2])
            if grade > 0:
                qrels.setdefault(qid, {})[did] = grade
    return corpus, queries, qrels


def write_corpus(corpus: dict, folder: Path) -> dict[str, str]:
    """One Markdown file per document ("# title" then the text), at the document's own relative
    path when it has one; returns each file's path relative to `folder` -> doc id."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for i, (did, (title, text, *path)) in enumerate(corpus.items()):
        if path:
            name = _relative(path[0])
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
        else:
            name = f"{i:07d}_{_SAFE.sub('_', did)[:80]}.md"
        body = f"# {title.strip()}\n\n{text.strip()}\n" if title.strip() else f"{text.strip()}\n"
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != body:  # keep mtimes
            path.write_text(body, encoding="utf-8")
        names[name] = did
    return names


def corpus_files(corpus: dict, folder: Path) -> dict[str, str]:
    """`write_corpus`, as the indexed source path of each file -> its document id."""
    names = write_corpus(corpus, folder)
    return {os.path.realpath(folder / name): did for name, did in names.items()}


def _relative(path: str) -> str:
    """A corpus's own file path, kept inside the folder (no root, no "..")."""
    parts = [_SAFE.sub("_", p)[:100] for p in path.replace("\\", "/").split("/")]
    parts = [p for p in parts if p not in ("", ".", "..")]
    if not parts:
        raise QuireError(f"document path {path!r} names no file")
    return "/".join(parts)


def ndcg_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rel: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(rel)) / len(rel) if rel else 0.0


def mrr_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if d in rel:
            return 1.0 / (i + 1)
    return 0.0


def score_runs(runs: dict[str, list[str]], qrels: dict) -> dict[str, float]:
    qids = list(runs)
    n = len(qids) or 1
    return {
        "ndcg@10": sum(ndcg_at(runs[q], qrels[q]) for q in qids) / n,
        "recall@10": sum(recall_at(runs[q], qrels[q], 10) for q in qids) / n,
        "recall@100": sum(recall_at(runs[q], qrels[q], 100) for q in qids) / n,
        "mrr@10": sum(mrr_at(runs[q], qrels[q]) for q in qids) / n,
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


def run_retrieval(
    folder: Path,
    settings: Settings,
    max_queries: int | None = 1000,
    seed: int = 0,
    depth: int = 300,
    workdir: Path | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> dict:
    """Index `folder` (BEIR layout) into a temporary home and evaluate every mode.

    With `workdir`, the documents and the home are kept there, so a second run re-ingests
    nothing (its ingest figures then time an unchanged re-ingest)."""
    from quire.engine import build_engine

    corpus, queries, qrels = read_beir(folder)
    qids = [q for q in queries if q in qrels]
    total_queries = len(qids)
    if max_queries and len(qids) > max_queries:
        qids = sorted(random.Random(seed).sample(qids, max_queries), key=qids.index)
    with tempfile.TemporaryDirectory(prefix="quire-bench-") as tmp:
        tmp = Path(workdir or tmp)
        log(f"writing {len(corpus)} documents as Markdown files")
        doc_of = corpus_files(corpus, tmp / "docs")
        engine = build_engine(replace(settings, home=tmp / "home"))
        try:
            log("ingesting through the normal pipeline")
            began = time.perf_counter()
            report = engine.ingest([str(tmp / "docs")])
            ingest_s = time.perf_counter() - began
            if report.counts["failed"]:
                log(f"{report.counts['failed']} documents failed to ingest")
            log(f"querying {len(qids)} of {total_queries} queries")
            result = _evaluate(engine, qids, queries, qrels, doc_of, depth)
            chunks = engine.store.count()
        finally:
            engine.close()
    result.update(
        dataset=folder.name if folder.name != "beir" else folder.parent.name,
        documents=len(corpus),
        chunks=chunks,
        chunks_embedded=report.chunks,
        queries_evaluated=len(qids),
        queries_total=total_queries,
        query_sample=(
            "all" if len(qids) == total_queries else f"{len(qids)} drawn at random, seed {seed}"
        ),
        ingest_seconds=round(ingest_s, 2),
        ingest_docs_per_second=round(len(corpus) / ingest_s, 2) if ingest_s else 0.0,
        embedder=engine.embedder.name,
        chunker=settings.chunker_version,
        default_fusion=settings.fusion,
        candidate_depth=depth,
    )
    return result


def _evaluate(engine, qids, queries, qrels, doc_of, depth) -> dict:
    """@10 metrics from the candidates `quire search` itself uses (the retriever's depth);
    Recall@100 from deeper lists (`depth` per list), since 100 documents need more."""
    retriever = engine.retriever
    for q in qids[:10]:  # warm-up: model threads, SQLite and HNSW caches
        retriever.search(queries[q], 10)
    other = "rrf" if engine.settings.fusion == "convex" else "convex"
    names = [*MODES, f"hybrid ({other})"]
    if retriever.reranker is not None:
        names.append("hybrid + rerank")
    top: dict[str, dict[str, list[str]]] = {n: {} for n in names}
    deep: dict[str, dict[str, list[str]]] = {n: {} for n in names}
    latency = {m: [] for m in MODES}
    for q in qids:
        text = queries[q]
        for mode in MODES:
            t = time.perf_counter()
            retriever.search(text, 10, mode=mode)  # what a user waits for: `quire search -k 10`
            latency[mode].append((time.perf_counter() - t) * 1000)
        for runs, n in ((top, retriever.depth), (deep, depth)):
            dense, keyword = retriever.candidates(text, n)
            lists = {
                "dense": retriever.fused(dense, keyword, "dense"),
                "keyword": retriever.fused(dense, keyword, "keyword"),
                "hybrid": retriever.fused(dense, keyword),
                f"hybrid ({other})": retriever.fused(dense, keyword, fusion=other),
            }
            if retriever.reranker is not None:
                lists["hybrid + rerank"] = rerank(
                    retriever.reranker, text, lists["hybrid"], retriever.rerank_top
                )
            for name, hits in lists.items():
                runs[name][q] = _doc_ranking(diversify(hits, 100, 1), doc_of)
    out = {"modes": {}, "search_depth": retriever.depth}
    for name in names:
        metrics = score_runs(top[name], qrels)
        metrics["recall@100"] = score_runs(deep[name], qrels)["recall@100"]
        metrics = {k: round(v, 4) for k, v in metrics.items()}
        if name in latency:
            metrics["latency_ms_p50"] = round(statistics.median(latency[name]), 1)
            metrics["latency_ms_p95"] = round(percentile(latency[name], 95), 1)
        out["modes"][name] = metrics
    return out


def _doc_ranking(hits, doc_of: dict[str, str]) -> list[str]:
    ranked, seen = [], set()
    for h in hits:
        did = doc_of.get(h.chunk.source)
        if did is not None and did not in seen:
            seen.add(did)
            ranked.append(did)
    return ranked


def format_report(r: dict) -> str:
    lines = [
        f"{r['dataset']}: {r['documents']} documents -> {r['chunks']} chunks; "
        f"ingest {r['ingest_seconds']} s ({r['ingest_docs_per_second']} docs/s, "
        f"{r['chunks_embedded']} chunks embedded)",
        f"queries: {r['queries_evaluated']} of {r['queries_total']} ({r['query_sample']}); "
        f"embedder {r['embedder']}, {r['chunker']}; candidates per list: {r['search_depth']} "
        f"(as `quire search`) for the @10 metrics, {r['candidate_depth']} for R@100",
        "",
        f"{'mode':18} {'nDCG@10':>8} {'R@10':>7} {'R@100':>7} {'MRR@10':>7} {'p50 ms':>7} "
        f"{'p95 ms':>7}",
    ]
    for mode, m in r["modes"].items():
        p50 = f"{m['latency_ms_p50']:7.1f}" if "latency_ms_p50" in m else f"{'-':>7}"
        p95 = f"{m['latency_ms_p95']:7.1f}" if "latency_ms_p95" in m else f"{'-':>7}"
        lines.append(
            f"{mode:18} {m['ndcg@10']:8.4f} {m['recall@10']:7.4f} {m['recall@100']:7.4f} "
            f"{m['mrr@10']:7.4f} {p50} {p95}"
        )
    lines.append("latency: `search -k 10` per query after 10 warm-up queries, embedding included")
    return "\n".join(lines)
