"""How far can quotes mode's sentence choice go? An experiment on SQuAD v1.1 dev.

    .venv/bin/python benchmarks/quote_selection.py ../shared/eval/squad-v1.1-dev

Indexes the articles `quire bench answers` keeps, retrieves the top 5 excerpts for the 200 bench
questions (seed 0) and 400 other answerable questions (seed 1, "dev"), and scores every sentence
of those excerpts with several features. Then it reports, for answered questions (best cosine >=
0.45), the citation precision (the cited chunk is the gold paragraph or holds a gold answer) of:
the rule Quire uses, an oracle (some top-5 excerpt is gold), and the best of a grid of weightings
chosen on the dev questions and then measured on the bench questions.
"""

import itertools
import json
import math
import random
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from quire.bench.answers import HELD_OUT_EVERY, contains
from quire.bench.retrieval import corpus_files, read_beir
from quire.engine import build_engine
from rag.answer.citations import overlap, sentences
from rag.retrieval.lexical import query_terms
from rag.settings import Settings


def collect(folder: Path, tmp: Path) -> list[dict]:
    corpus, queries, _ = read_beir(folder / "beir")
    answers = [json.loads(line) for line in open(folder / "answers.jsonl", encoding="utf-8")]
    held = {d for d in corpus if int(d.split("_")[0]) % HELD_OUT_EVERY == 0}
    kept = {d: corpus[d] for d in corpus if d not in held}
    doc_of = corpus_files(kept, tmp / "docs")
    engine = build_engine(replace(Settings.from_env(), home=tmp / "home"))
    engine.ingest([str(tmp / "docs")])
    pool = [a for a in answers if a["corpus-id"] not in held]
    bench = random.Random(0).sample(pool, 200)  # the questions `quire bench answers` uses
    rest = [a for a in pool if a not in bench]
    df: dict[str, int] = {}
    for _, text in kept.values():
        for w in set(query_terms(text)):
            df[w] = df.get(w, 0) + 1
    n_docs = len(kept)

    def idf(w: str) -> float:
        return math.log(1 + (n_docs - df.get(w, 0) + 0.5) / (df.get(w, 0) + 0.5))

    out = []
    for split, sample in (("bench", bench), ("dev", random.Random(1).sample(rest, 400))):
        for a in sample:
            q = queries[a["_id"]]
            hits = engine.retriever.search(q, 6)
            qw = query_terms(q)
            total_idf = sum(idf(w) for w in qw) or 1.0
            rows = []
            for h in hits[:5]:
                c = h.chunk
                texts = [c.text[x:y] for x, y in sentences(c.text)]
                vecs = engine.embedder.embed([q, *texts])
                sents = []
                for t, v in zip(texts, vecs[1:]):
                    have = set(query_terms(t))
                    sents.append(
                        dict(
                            overlap=overlap(q, t),
                            idf_overlap=sum(idf(w) for w in qw if w in have) / total_idf,
                            cos=sum(x * y for x, y in zip(vecs[0], v)),
                        )
                    )
                gold = doc_of.get(c.source) == a["corpus-id"] or contains(c.text, a["answers"])
                rows.append(dict(score=h.score, gold=gold, sents=sents))
            rel = max((h.dense or 0.0 for h in hits), default=0.0)
            out.append(dict(split=split, rel=rel, hits=rows))
    engine.close()
    return out


def precision(data, split, weights) -> tuple[float, int]:
    wo, wi, wc, wp = weights
    good = cites = 0
    for d in data:
        if d["split"] != split or d["rel"] < 0.45 or not d["hits"]:
            continue
        best = max(
            (
                (wo * s["overlap"] + wi * s["idf_overlap"] + wc * s["cos"] + wp * h["score"], -i)
                for i, h in enumerate(d["hits"])
                for s in h["sents"]
            ),
            default=None,
        )
        if best is None:
            continue
        cites += 1
        good += d["hits"][-best[1]]["gold"]
    return good / cites, cites


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="quire-quotes-") as tmp:
        data = collect(Path(sys.argv[1]), Path(tmp))
    quire = (1, 0, 1, 0.5)  # rag/answer/quotes.py: overlap + cosine + 0.5 * retrieval score
    for split in ("bench", "dev"):
        answered = [d for d in data if d["split"] == split and d["rel"] >= 0.45 and d["hits"]]
        oracle = sum(any(h["gold"] for h in d["hits"]) for d in answered) / len(answered)
        p, n = precision(data, split, quire)
        print(
            f"{split}: {n} answered; Quire's rule {p:.3f}; oracle (a top-5 excerpt is gold) "
            f"{oracle:.3f}"
        )
    grid = itertools.product([0, 0.5, 1], [0, 1, 2, 3], [0, 0.5, 1, 1.5], [0, 0.5, 1, 2, 3])
    ranked = sorted(((precision(data, "dev", w)[0], w) for w in grid), reverse=True)
    for p, w in ranked[:3]:
        print(
            f"weights (overlap, idf overlap, cosine, retrieval) {w}: dev {p:.3f}, "
            f"bench {precision(data, 'bench', w)[0]:.3f}"
        )


if __name__ == "__main__":
    main()
