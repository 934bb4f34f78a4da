"""The retrieval benchmark: metrics by hand, and a run on a tiny BEIR folder made here."""

from __future__ import annotations

import json
import math

import pytest

from quire.bench.retrieval import (
    format_report,
    mrr_at,
    ndcg_at,
    read_beir,
    recall_at,
    run_retrieval,
)
from rag.errors import QuireError
from tests.helpers import write


def test_metrics_match_hand_computation():
    rel = {"d1": 1, "d3": 1}
    ranked = ["d2", "d1", "d4", "d3"]
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at(ranked, rel) == pytest.approx(dcg / idcg)
    assert recall_at(ranked, rel, 2) == 0.5 and recall_at(ranked, rel, 10) == 1.0
    assert mrr_at(ranked, rel) == 0.5
    assert ndcg_at(["d1", "d3"], rel) == pytest.approx(1.0)
    assert mrr_at(["x"] * 10 + ["d1"], rel) == 0.0  # past the cut-off


def tiny_beir(root):
    topics = {
        "owl": "Owls are nocturnal birds of prey that hunt small mammals.",
        "bee": "Bees pollinate flowers and make honey in hives.",
        "oak": "Oak trees grow acorns and live for centuries.",
        "salmon": "Salmon swim upstream to spawn in rivers.",
        "comet": "Comets are icy bodies that grow tails near the sun.",
    }
    with open(root / "corpus.jsonl", "w") as f:
        for i, (name, text) in enumerate(topics.items()):
            f.write(json.dumps({"_id": f"doc/{i}", "title": name.title(), "text": text}) + "\n")
    questions = {
        "q1": "which birds hunt at night",
        "q2": "who makes honey",
        "q3": "trees with acorns",
        "q4": "fish that spawn in rivers",
    }
    with open(root / "queries.jsonl", "w") as f:
        for qid, text in questions.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    write(
        root / "qrels" / "test.tsv",
        "query-id\tcorpus-id\tscore\nq1\tdoc/0\t1\nq2\tdoc/1\t1\nq3\tdoc/2\t1\nq4\tdoc/3\t1\n",
    )
    return root


def test_run_on_tiny_beir_with_fakes(tmp_path, settings):
    folder = tiny_beir(tmp_path)
    corpus, queries, qrels = read_beir(folder)
    assert len(corpus) == 5 and len(queries) == 4 and qrels["q1"] == {"doc/0": 1}
    r = run_retrieval(folder, settings, max_queries=3, seed=1)
    assert r["documents"] == 5 and r["queries_evaluated"] == 3 and r["queries_total"] == 4
    assert "seed 1" in r["query_sample"]
    assert set(r["modes"]) == {"dense", "keyword", "hybrid", "hybrid (rrf)"}
    kw = r["modes"]["keyword"]
    assert kw["recall@100"] == 1.0 and kw["ndcg@10"] > 0.5  # word overlap is enough here
    assert r["modes"]["hybrid"]["latency_ms_p50"] > 0
    text = format_report(r)
    assert "nDCG@10" in text and "hybrid" in text


def test_not_a_beir_folder(tmp_path, settings):
    with pytest.raises(QuireError, match="not a BEIR folder"):
        run_retrieval(tmp_path, settings)


def test_bench_ingest_pieces(tmp_path):
    from quire.bench.ingest import ingest_process, pdf_extraction
    from tests.helpers import write
    from tests.pdfs import make_pdf

    pdf = write(tmp_path / "docs" / "a.pdf", make_pdf(["Frogs sing.", "Toads dig holes."]))
    write(tmp_path / "docs" / "b.md", "# B\n\nSome note.\n")
    ext = pdf_extraction([pdf])
    assert ext["pages"] == 2 and ext["pypdf_words_also_found_by_pdfium"] == 1.0
    run = ingest_process(
        tmp_path / "docs", tmp_path / "home", {"QUIRE_EMBEDDER": "fake", "QUIRE_LLM": "fake"}
    )
    assert run["counts"]["added"] == 2 and run["pages"] == 3 and run["chunks"] == 3
    assert 20 < run["peak_rss_mb"] < 2000
    again = ingest_process(tmp_path / "docs", tmp_path / "home", {"QUIRE_EMBEDDER": "fake"})
    assert again["counts"]["unchanged"] == 2 and again["chunks"] == 0
