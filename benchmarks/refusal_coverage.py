"""Does keyword coverage tell a wrongly refused question from a rightly refused one?

    .venv/bin/python benchmarks/refusal_coverage.py WORK ../shared/eval/squad-v1.1-dev \
        ../shared/eval/scifact

The same answerable / unanswerable split as `quire bench refusal` (300 queries per corpus,
seed 0; WORK is its `--workdir`, reused). For each query: the best dense cosine of the top 6
hits (what `ask` refuses on, below 0.45) and the keyword coverage of those hits (the share of
the question's words, stop words aside and stemmed as the index stems them, that a hit holds
in its name, heading or text; the best hit's). Then each rule's false refusals (answerable
refused) and true refusals (unanswerable refused) on both corpora.
"""

from __future__ import annotations

import random
import sys
from dataclasses import replace
from pathlib import Path

from quire.bench.refusal import SEARCH_K, _write_only, corpus_folder, split_queries
from quire.bench.retrieval import read_beir
from quire.engine import build_engine, make_embedder
from rag.settings import Settings


def features(engine, question: str) -> tuple[float, int, float, float]:
    hits = engine.retriever.search(question, SEARCH_K)
    dense = max((h.dense or 0.0 for h in hits), default=0.0)
    ids = [h.chunk.id for h in hits]
    n, cov = engine.lexical.coverage(question, ids)
    _, titles = engine.lexical.coverage(question, ids, titles=True)
    return dense, n, max(cov.values(), default=0.0), max(titles.values(), default=0.0)


RULES = {
    "dense >= 0.45 (in use)": lambda d, n, c, t: d >= 0.45,
    "or all >= 2 words, dense >= 0.2": lambda d, n, c, t: (
        d >= 0.45 or (n >= 2 and c == 1 and d >= 0.2)
    ),
    "or all >= 3 words, dense >= 0.2": lambda d, n, c, t: (
        d >= 0.45 or (n >= 3 and c == 1 and d >= 0.2)
    ),
    "or all >= 2 in titles, dense >= 0.2": lambda d, n, c, t: (
        d >= 0.45 or (n >= 2 and t == 1 and d >= 0.2)
    ),
    "or both of the last two": lambda d, n, c, t: (
        d >= 0.45 or (d >= 0.2 and ((n >= 3 and c == 1) or (n >= 2 and t == 1)))
    ),
}  # noqa: E501


def main() -> None:
    work, folders = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    settings = Settings.from_env()
    embedder = make_embedder(settings)
    results = {}
    for folder in folders:
        beir, name, by_article = corpus_folder(folder)
        corpus, texts, qrels = read_beir(beir)
        qids = [q for q in texts if q in qrels]
        random.Random(0).shuffle(qids)

        def group(did: str, by_article=by_article) -> str:
            return did.split("_")[0] if by_article else did

        unans, ans, out = split_queries(qids, qrels, corpus, 150, group, 0.25)
        root = work / name
        _write_only({d: v for d, v in corpus.items() if d not in out}, root / "docs")
        engine = build_engine(replace(settings, home=root / "home"), embedder=embedder)
        engine.sync(str(root / "docs"))
        results[name] = (
            [features(engine, texts[q]) for q in ans],
            [features(engine, texts[q]) for q in unans],
        )
        engine.close()
    print(f"{'rule':40} " + " ".join(f"{n[:14] + ' false/true':>26}" for n in results))
    for rule, answers in RULES.items():
        cells = []
        for a, u in results.values():
            false = sum(not answers(*f) for f in a) / len(a)
            true = sum(not answers(*f) for f in u) / len(u)
            cells.append(f"{false:12.3f} / {true:.3f}")
        print(f"{rule:40} " + " ".join(f"{c:>26}" for c in cells))


if __name__ == "__main__":
    main()
