"""How the two lists' scores are normalised before the convex fusion, on the four corpora of
retrieval_choices.py (one ingest of each, kept in WORK; the candidate lists are kept too, in
WORK/<corpus>/lists.pkl, so a rerun embeds nothing):

    python benchmarks/fusion_normalisation.py WORK SCIFACT SQUAD/beir NOTES PAGES

Normalisations: `mm` min-max over the list (Quire's); `tm` the theoretical minimum (0) and the
list's maximum; `z` z-score; `dbsf` mean +- 3 standard deviations; `+fill` a chunk missing
from one list gets that list's minimum instead of 0. Each at dense weights 0.35-0.6. The
figure per corpus is the one its section in BENCHMARKS.md uses: nDCG@10 (SciFact, SQuAD),
MRR@10 (the notes), page hit@5 (the PDFs).
"""

from __future__ import annotations

import pickle
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import retrieval_choices as rc  # noqa: E402

from quire.engine import build_engine  # noqa: E402
from rag.retrieval.fusion import with_page_evidence  # noqa: E402
from rag.retrieval.lexical import WEIGHTS  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.types import Hit  # noqa: E402

VARIANTS = [
    ("mm", "mm", False), ("mm", "mm", True), ("tm", "tm", False), ("tm", "mm", False),
    ("mm", "tm", False), ("z", "z", False), ("dbsf", "dbsf", False), ("tm", "tm", True),
]  # fmt: skip
WEIGHTS_DENSE = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


def lists_for(folder: Path, work: Path):
    name = folder.name if folder.name != "beir" else folder.parent.name
    unit, queries, qrels, files = rc.load_corpus(folder, work / name, 1000, 0)
    cache = work / name / "lists.pkl"
    if cache.exists():
        return name, unit, qrels, pickle.loads(cache.read_bytes())
    engine = build_engine(replace(Settings.from_env(), home=work / name / "home"))
    try:
        engine.ingest([str(files)])
        lists = {}
        for qid, text in queries.items():
            vector = engine.embedder.embed_queries([text])[0]
            dense = [(h.chunk, h.score) for h in engine.store.query(vector, rc.DEPTH)]
            lists[qid] = (dense, engine.lexical.search(text, rc.DEPTH, weights=WEIGHTS))
    finally:
        engine.close()
    cache.write_bytes(pickle.dumps(lists))
    return name, unit, qrels, lists


def normaliser(scores, how):
    """(score -> normalised, what a chunk missing from the list gets)."""
    if not scores:
        return (lambda s: 0.0), 0.0
    lo, hi = min(scores), max(scores)
    if how == "mm":
        return ((lambda s: (s - lo) / (hi - lo)) if hi > lo else (lambda s: 1.0)), 0.0
    if how == "tm":
        return (lambda s: max(s, 0.0) / hi if hi > 0 else 0.0), 0.0
    mean, sd = statistics.fmean(scores), statistics.pstdev(scores) or 1.0
    if how == "z":
        return (lambda s: (s - mean) / sd), (lo - mean) / sd
    a, b = mean - 3 * sd, mean + 3 * sd  # dbsf
    return (lambda s: (s - a) / (b - a)), (lo - a) / (b - a)


def fuse(dense, keyword, weight, dense_how, keyword_how, fill):
    dn, dense_missing = normaliser([s for _, s in dense], dense_how)
    kn, keyword_missing = normaliser([s for _, s in keyword], keyword_how)
    if fill and dense:
        dense_missing = dn(min(s for _, s in dense))
    info = {c.id: [c, dn(s), keyword_missing] for c, s in dense}
    for c, s in keyword:
        info.setdefault(c.id, [c, dense_missing, 0.0])[2] = kn(s)
    hits = [Hit(chunk=c, score=weight * d + (1 - weight) * k) for c, d, k in info.values()]
    hits.sort(key=lambda h: (-h.score, h.chunk.id))
    return with_page_evidence(hits)


def main(argv: list[str]) -> int:
    work, folders = Path(argv[0]), [Path(p) for p in argv[1:]]
    data = [lists_for(f, work) for f in folders]
    print(f"{'variant':24}" + "".join(f"{n[:10]:>11}" for n, *_ in data) + f"{'mean':>9}")
    for dense_how, keyword_how, fill in VARIANTS:
        for weight in WEIGHTS_DENSE:
            values = []
            for name, unit, qrels, lists in data:
                runs = {q: rc.aggregate(fuse(d, k, weight, dense_how, keyword_how, fill), unit,
                                        "max") for q, (d, k) in lists.items()}  # fmt: skip
                m = rc.metrics(runs, qrels)
                values.append(m["mrr@10"] if "python" in name else
                              m["hit@5"] if "pages" in name else m["ndcg@10"])  # fmt: skip
            label = f"{dense_how}/{keyword_how}{'+fill' if fill else ''} {weight}"
            print(f"{label:24}" + "".join(f"{v:11.4f}" for v in values)
                  + f"{sum(values) / len(values):9.4f}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
