"""Every retrieval setting on every corpus, from one ingest of each: the table issue 13 asks for.

Each corpus is ingested once into WORK/<name> through the normal pipeline (kept, so a second
run embeds nothing); then, per query, the dense list and the keyword lists (one per column
weighting) are read once and every fusion / aggregation setting is scored from them.

    python benchmarks/retrieval_choices.py WORK CORPUS [CORPUS ...] [--json OUT]

A CORPUS is a BEIR folder (documents are the unit) or a page set made by
benchmarks/pages/fetch.py (a folder with pdfs/ and questions.jsonl: pages are the unit).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quire.bench.retrieval import corpus_files, mrr_at, ndcg_at, read_beir, recall_at  # noqa: E402
from quire.engine import build_engine  # noqa: E402
from rag.retrieval.fusion import diversify, fuse  # noqa: E402
from rag.settings import Settings  # noqa: E402

DEPTH = 100  # candidates per list, as `quire search`
WEIGHTINGS = {  # (name, heading, text) column weights
    "text only": (0.0, 1.0, 1.0),
    "heading 2": (0.0, 2.0, 1.0),
    "name 1, heading 2": (1.0, 2.0, 1.0),
    "name 2, heading 2": (2.0, 2.0, 1.0),
    "name 4, heading 2": (4.0, 2.0, 1.0),
    "name 4, heading 1": (4.0, 1.0, 1.0),
    "name 8, heading 2": (8.0, 2.0, 1.0),
}
FUSIONS = [("convex", w) for w in (0.3, 0.4, 0.5, 0.6, 0.7)] + [("rrf", 0.5)]


PRF_BASE = "name 8, heading 2"  # the keyword list the feedback trial starts from
PRF_TOP, PRF_BETA = 3, 0.5


def feedback(engine, vector, dense, keyword):
    """Trial (Rocchio on vectors): the dense list again, for the query's vector plus PRF_BETA
    times the mean vector of the PRF_TOP best fused chunks."""
    import numpy as np

    top = [h.chunk.id for h in fuse(dense, keyword, "convex", 0.5)[:PRF_TOP]]
    got = np.array(engine.store.vectors(top))
    if not len(got):
        return dense
    v = np.array(vector) + PRF_BETA * got.mean(axis=0)
    v /= np.linalg.norm(v) or 1.0
    return [(h.chunk, h.score) for h in engine.store.query(v.tolist(), DEPTH)]


def load_corpus(folder: Path, work: Path, max_queries: int, seed: int):
    """(source path -> unit getter, queries {id: text}, qrels {qid: {unit: grade}}, files dir)."""
    if (folder / "questions.jsonl").is_file():
        questions = [json.loads(line) for line in open(folder / "questions.jsonl")]
        queries = {q["id"]: q["question"] for q in questions}
        qrels = {q["id"]: {f"{q['doc']}#{p}": 1 for p in q["pages"]} for q in questions}
        files = folder / "pdfs"

        def unit(chunk):
            return f"{Path(chunk.source).stem}#{chunk.page}"

    else:
        corpus, queries, qrels = read_beir(folder)
        doc_of = corpus_files(corpus, work / "docs")
        files = work / "docs"

        def unit(chunk):
            return doc_of.get(chunk.source)

    qids = [q for q in queries if q in qrels]
    if max_queries and len(qids) > max_queries:
        qids = sorted(random.Random(seed).sample(qids, max_queries), key=qids.index)
    return unit, {q: queries[q] for q in qids}, qrels, files


def aggregate(hits, unit, how: str) -> list[str]:
    """Units (documents or pages) ranked from chunk hits: by the best chunk (`max`), or by the
    best chunk plus half the second and a quarter of the third (`decay`)."""
    if how == "max":
        hits = diversify(hits, 100, 1)
    scores: dict[str, list[float]] = {}
    for h in hits:
        u = unit(h.chunk)
        if u is not None:
            scores.setdefault(u, []).append(h.score)
    if how == "max":
        return list(scores)
    total = {u: sum(s * 0.5**i for i, s in enumerate(sorted(v, reverse=True)[:3]))
             for u, v in scores.items()}  # fmt: skip
    return sorted(total, key=lambda u: -total[u])


def metrics(runs: dict[str, list[str]], qrels: dict) -> dict[str, float]:
    n = len(runs) or 1
    return {
        "ndcg@10": sum(ndcg_at(r, qrels[q]) for q, r in runs.items()) / n,
        "r@1": sum(recall_at(r, qrels[q], 1) > 0 for q, r in runs.items()) / n,
        "hit@5": sum(recall_at(r, qrels[q], 5) > 0 for q, r in runs.items()) / n,
        "r@10": sum(recall_at(r, qrels[q], 10) for q, r in runs.items()) / n,
        "mrr@10": sum(mrr_at(r, qrels[q]) for q, r in runs.items()) / n,
    }


def page_vectors(engine, files: Path, queries: dict, qrels: dict) -> dict[str, float]:
    """The baseline: each page's text embedded whole (the model reads its first 256 word
    pieces), pages ranked by cosine to the question."""
    import numpy as np

    from ingest.load import load

    names, texts = [], []
    for pdf in sorted(files.glob("*.pdf")):
        doc = load(pdf.name, pdf.read_bytes())
        for number, text in enumerate(doc.pages, start=1):
            names.append(f"{pdf.stem}#{number}")
            texts.append(text)
    pages = np.array(engine.embedder.embed(texts))
    asked = np.array(engine.embedder.embed(list(queries.values())))
    runs = {}
    for qid, vector in zip(queries, asked):
        order = np.argsort(-(pages @ vector))[:100]
        runs[qid] = [names[i] for i in order]
    return metrics(runs, qrels)


def related_rows(engine, folder: Path, work: Path) -> dict[str, dict[str, float]]:
    """`related` against the pages each note's "see also" boxes name: the engine's (a document
    search with the note as the query) and the earlier one (the note's mean vector against
    every chunk, best chunk per file)."""
    from rag.retrieval.documents import document_vector

    docs = work / "docs"
    links: dict[str, dict[str, int]] = {}
    for line in list(open(folder / "qrels" / "related.tsv"))[1:]:
        a, b = line.rstrip("\n").split("\t")
        links.setdefault(str((docs / a).resolve()), {})[str((docs / b).resolve())] = 1
    new, old = {}, {}
    for source in links:
        new[source] = [d.source for d in engine.related(source, k=10)]
        rec = engine.manifest.get(source)
        vector = document_vector(engine.store, rec.chunk_ids)
        ranked = []
        for hit in engine.store.query(vector, 100 + len(rec.chunk_ids)):
            if hit.chunk.source != source and hit.chunk.source not in ranked:
                ranked.append(hit.chunk.source)
        old[source] = ranked[:10]
    return {
        "related: document search (now)": metrics(new, links),
        "related: mean vector only (before)": metrics(old, links),
    }


def embed_names() -> None:
    """Trial: the embedder sees the file's name (its stem's words) before the heading path."""
    import ingest.commit
    from ingest.chunk import _with_context
    from rag.retrieval.lexical import name_words

    def embedding_text(chunk):
        return _with_context((name_words(Path(chunk.source).stem), *chunk.heading), chunk.text)

    ingest.commit.embedding_text = embedding_text


def run_corpus(folder: Path, work: Path, max_queries: int, seed: int, log) -> dict:
    name = folder.name if folder.name != "beir" else folder.parent.name
    work = work / name
    unit, queries, qrels, files = load_corpus(folder, work, max_queries, seed)
    settings = replace(Settings.from_env(), home=work / "home")
    engine = build_engine(settings)
    try:
        began = time.perf_counter()
        report = engine.ingest([str(files)])
        log(f"{name}: ingest {time.perf_counter() - began:.1f} s, {report.counts}")
        lists = {}
        for qid, text in queries.items():
            vector = engine.embedder.embed([text])[0]
            dense = [(h.chunk, h.score) for h in engine.store.query(vector, DEPTH)]
            keyword = {w: engine.lexical.search(text, DEPTH, weights=WEIGHTINGS[w])
                       for w in WEIGHTINGS}  # fmt: skip
            base = keyword.get(PRF_BASE)
            lists[qid] = (dense, keyword, base and feedback(engine, vector, dense, base))
        chunks = engine.store.count()
        rows = {}
        if (folder / "questions.jsonl").is_file():
            rows["dense, one vector per page"] = page_vectors(engine, files, queries, qrels)
        if (folder / "qrels" / "related.tsv").is_file():
            rows.update(related_rows(engine, folder, work))
    finally:
        engine.close()
    for how in ("max", "decay"):
        runs = {q: aggregate(fuse(d, [], "rrf"), unit, how) for q, (d, _, _) in lists.items()}
        rows[f"dense, {how}"] = metrics(runs, qrels)
        for w in WEIGHTINGS:
            runs = {
                q: aggregate(fuse([], k[w], "rrf"), unit, how) for q, (_, k, _) in lists.items()
            }
            rows[f"keyword [{w}], {how}"] = metrics(runs, qrels)
            for method, weight in FUSIONS:
                runs = {q: aggregate(fuse(d, k[w], method, weight), unit, how)
                        for q, (d, k, _) in lists.items()}  # fmt: skip
                label = f"convex {weight}" if method == "convex" else "rrf"
                rows[f"{label} [{w}], {how}"] = metrics(runs, qrels)
                if method == "convex" and weight in (0.4, 0.5) and w == PRF_BASE:
                    runs = {q: aggregate(fuse(p, k[w], method, weight), unit, how)
                            for q, (_, k, p) in lists.items()}  # fmt: skip
                    rows[f"prf {label} [{w}], {how}"] = metrics(runs, qrels)
    return {"corpus": name, "queries": len(queries), "chunks": chunks, "rows": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("work", type=Path)
    p.add_argument("corpora", type=Path, nargs="+")
    p.add_argument("--max-queries", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path)
    p.add_argument("--embed-names", action="store_true", help="trial: file names embedded too")
    p.add_argument("--no-outline", action="store_true", help="trial: PDF bookmarks unused")
    p.add_argument("--weightings", help="only these WEIGHTINGS, by name, separated by ';'")
    p.add_argument("--convex", help="only these convex weights, e.g. 0.4,0.45,0.5 (and rrf)")
    args = p.parse_args(argv)
    if args.weightings:
        for name in set(WEIGHTINGS) - set(args.weightings.split(";")):
            del WEIGHTINGS[name]
    if args.convex:
        FUSIONS[:] = [("convex", float(w)) for w in args.convex.split(",")] + [("rrf", 0.5)]
    if args.embed_names:
        embed_names()
    if args.no_outline:  # parse in this process, so the loader can be changed here
        import ingest.formats.pdf

        os.environ["QUIRE_PARSE_WORKER"] = "inline"
        ingest.formats.pdf._outline = lambda data: []
    results = []
    for folder in args.corpora:
        r = run_corpus(folder, args.work, args.max_queries, args.seed, print)
        results.append(r)
        print(f"\n{r['corpus']}: {r['queries']} queries, {r['chunks']} chunks")
        for label, m in sorted(r["rows"].items(), key=lambda t: -t[1]["ndcg@10"])[:12]:
            print(f"  {label:42} " + " ".join(f"{k} {v:.4f}" for k, v in m.items()))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
