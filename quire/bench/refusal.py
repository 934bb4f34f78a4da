"""`quire bench refusal DIR [DIR ...]`: calibrate the refusal threshold (the best dense cosine
of the retrieved hits) on several corpora at once.

For each BEIR folder (SQuAD's `beir/` when given the SQuAD folder), test queries are drawn in a
seeded order. The first ones become unanswerable: all their relevant documents are left out of
the index (for SQuAD, every paragraph of their article, since neighbouring paragraphs often hold
the answer too). Leaving out a document is allowed while at most `held_out_share` of the corpus
is out; after that, only queries whose documents are out already can be unanswerable. (Without
that cap, SQuAD's 48 articles would all be left out by a few hundred random questions.) The
next queries that still have a relevant document in the index are answerable. Relevance is the
best dense cosine over `retriever.search(q, 6)`, as `Answerer` computes it.

Each side of each corpus is split into a calibration and a test half. ONE threshold is chosen
from the calibration relevances to maximise the mean over corpora of balanced accuracy (the mean
of answered-when-answerable and refused-when-unanswerable); the test halves report it beside
each corpus's own best threshold and the threshold in use.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from quire.bench.retrieval import read_beir, write_corpus
from rag.answer.answerer import AnswerSettings
from rag.errors import QuireError
from rag.settings import Settings

SEARCH_K = 6  # hits `ask` retrieves with the bundled model; relevance is the best of them


def corpus_folder(folder: Path) -> tuple[Path, str, bool]:
    """(BEIR folder, corpus name, grouped by SQuAD article?) for a folder given on the CLI."""
    if (folder / "answers.jsonl").is_file() and (folder / "beir").is_dir():
        return folder / "beir", folder.name, True
    if folder.name == "beir" and (folder.parent / "answers.jsonl").is_file():
        return folder, folder.parent.name, True
    return folder, folder.name, False


def split_queries(
    qids: Sequence[str],
    qrels: dict,
    corpus: dict,
    per_side: int,
    group: Callable[[str], str],
    held_out_share: float,
) -> tuple[list[str], list[str], set[str]]:
    """(unanswerable, answerable, documents left out), taking queries in the order given.

    A query is unanswerable when every group (article, or document) of its relevant documents
    is left out; groups are left out while the left-out documents stay within the budget."""
    members: dict[str, list[str]] = {}
    for did in corpus:
        members.setdefault(group(did), []).append(did)
    budget = int(held_out_share * len(corpus))
    held: set[str] = set()
    out_docs: set[str] = set()
    unanswerable: list[str] = []
    for q in qids:
        if len(unanswerable) == per_side:
            break
        groups = {group(d) for d in qrels[q] if d in corpus}
        if not groups:
            continue
        new = groups - held
        cost = sum(len(members[g]) for g in new)
        if new and len(out_docs) + cost > budget:
            continue
        held |= new
        for g in new:
            out_docs.update(members[g])
        unanswerable.append(q)
    chosen = set(unanswerable)
    answerable = [
        q
        for q in qids
        if q not in chosen and any(d in corpus and d not in out_docs for d in qrels[q])
    ][:per_side]
    return unanswerable, answerable, out_docs


def balanced_accuracy(
    answerable: Sequence[float], unanswerable: Sequence[float], t: float
) -> float:
    """Mean of answered-when-answerable (relevance >= t) and refused-when-unanswerable (< t)."""
    answered = sum(r >= t for r in answerable) / len(answerable) if answerable else 0.0
    refused = sum(r < t for r in unanswerable) / len(unanswerable) if unanswerable else 0.0
    return (answered + refused) / 2


def choose_threshold(sides: Sequence[tuple[Sequence[float], Sequence[float]]]) -> float:
    """The observed relevance that, as the threshold, maximises the mean balanced accuracy over
    the corpora given as (answerable, unanswerable) relevances; ties go to the lowest."""
    candidates = sorted({r for a, u in sides for r in (*a, *u)})
    best, best_score = 0.0, -1.0
    for t in candidates:
        score = statistics.fmean(balanced_accuracy(a, u, t) for a, u in sides)
        if score > best_score:
            best, best_score = t, score
    return best


def run_refusal(
    folders: list[Path],
    settings: Settings,
    queries: int = 300,
    seed: int = 0,
    workdir: Path | None = None,
    log: Callable[[str], None] = lambda s: None,
    held_out_share: float = 0.25,
) -> dict:
    """Measure relevances on each corpus, choose one threshold, report it on held-out halves.

    With `workdir`, each corpus's documents and index are kept in a folder named after the
    corpus, so a rerun with the same arguments embeds nothing (other arguments re-embed only
    the documents that changed)."""
    from quire.engine import build_engine, make_embedder

    began = time.perf_counter()
    embedder = make_embedder(settings)  # loaded once, shared by every corpus's engine
    per_side = queries // 2
    corpora = []
    with tempfile.TemporaryDirectory(prefix="quire-refusal-") as tmp:
        for folder in folders:
            beir, name, by_article = corpus_folder(folder)
            corpus, texts, qrels = read_beir(beir)
            qids = [q for q in texts if q in qrels]
            random.Random(seed).shuffle(qids)

            def group(did: str, by_article=by_article) -> str:
                return did.split("_")[0] if by_article else did

            unans, ans, out = split_queries(qids, qrels, corpus, per_side, group, held_out_share)
            if not unans or not ans:
                raise QuireError(
                    f"{folder}: could not make both answerable and unanswerable queries"
                )
            kept = {d: v for d, v in corpus.items() if d not in out}
            root = Path(workdir or tmp) / name
            log(f"{name}: indexing {len(kept)} of {len(corpus)} documents")
            _write_only(kept, root / "docs")
            engine = build_engine(replace(settings, home=root / "home"), embedder=embedder)
            try:
                t = time.perf_counter()
                engine.sync(str(root / "docs"))  # drops what an earlier run left out differently
                ingest_s = time.perf_counter() - t
                log(f"{name}: relevance of {len(ans)} answerable, {len(unans)} unanswerable")
                t = time.perf_counter()
                rel_ans = [_relevance(engine, texts[q]) for q in ans]
                rel_un = [_relevance(engine, texts[q]) for q in unans]
                query_s = time.perf_counter() - t
                chunks = engine.store.count()
            finally:
                engine.close()
            corpora.append(
                {
                    "corpus": name,
                    "documents": len(corpus),
                    "documents_indexed": len(kept),
                    "documents_left_out": len(out),
                    "grouped_by": "article" if by_article else "document",
                    "chunks": chunks,
                    "answerable": len(ans),
                    "unanswerable": len(unans),
                    "relevance": {"answerable": rel_ans, "unanswerable": rel_un},
                    "seconds": {"ingest": round(ingest_s, 1), "queries": round(query_s, 1)},
                }
            )
    return _calibrate(corpora, settings, embedder.name, queries, seed, held_out_share, began)


def _write_only(corpus: dict, folder: Path) -> None:
    """`write_corpus`, and delete the files of an earlier run that are not in `corpus`."""
    names = write_corpus(corpus, folder)
    for path in folder.glob("*.md"):
        if path.name not in names:
            path.unlink()


def _relevance(engine, question: str) -> float:
    hits = engine.retriever.search(question, SEARCH_K)
    return round(max((h.dense or 0.0 for h in hits), default=0.0), 4)


def _halves(values: list[float]) -> tuple[list[float], list[float]]:
    return values[: len(values) // 2], values[len(values) // 2 :]


MAX_FALSE_REFUSAL = 0.05  # a refusal hides an answer that is there: keep that rare


def capped_threshold(
    sides: Sequence[tuple[Sequence[float], Sequence[float]]], cap: float = MAX_FALSE_REFUSAL
) -> float:
    """The highest observed relevance that, as the threshold, refuses at most `cap` of the
    answerable queries of every corpus (the most refusals of unanswerable ones at that cost)."""
    candidates = sorted({r for a, u in sides for r in (*a, *u)})
    best = 0.0
    for t in candidates:
        if all(not a or sum(r < t for r in a) / len(a) <= cap for a, _ in sides):
            best = t
    return best


def _calibrate(corpora, settings, embedder, queries, seed, held_out_share, began) -> dict:
    cal, test = [], []
    for c in corpora:
        a_cal, a_test = _halves(c["relevance"]["answerable"])
        u_cal, u_test = _halves(c["relevance"]["unanswerable"])
        cal.append((a_cal, u_cal))
        test.append((a_test, u_test))
    joint = choose_threshold(cal)
    capped = capped_threshold(cal)
    in_use = AnswerSettings().min_relevance
    for c, (a_cal, u_cal), (a_test, u_test) in zip(corpora, cal, test):
        own = choose_threshold([(a_cal, u_cal)])
        c["own_threshold"] = own
        c["calibration_queries"] = len(a_cal) + len(u_cal)
        c["test_queries"] = len(a_test) + len(u_test)
        c["test"] = {
            kind: _rates(a_test, u_test, t)
            for kind, t in (("joint", joint), ("capped", capped), ("own", own), ("in_use", in_use))
        }
        c["median_relevance"] = {
            "answerable": round(statistics.median(c["relevance"]["answerable"]), 4),
            "unanswerable": round(statistics.median(c["relevance"]["unanswerable"]), 4),
        }

    def mean_ba(kind: str) -> float:
        return round(statistics.fmean(c["test"][kind]["balanced_accuracy"] for c in corpora), 4)

    return {
        "benchmark": "refusal",
        "embedder": embedder,
        "relevance": f"best dense cosine over search(q, {SEARCH_K})",
        "queries_per_corpus": queries,
        "seed": seed,
        "held_out_share": held_out_share,
        "threshold": {
            "joint": joint,
            "capped": capped,
            "max_false_refusal": MAX_FALSE_REFUSAL,
            "in_use": in_use,
            "joint_calibration_balanced_accuracy": round(
                statistics.fmean(balanced_accuracy(a, u, joint) for a, u in cal), 4
            ),
        },
        "test_mean_balanced_accuracy": {
            k: mean_ba(k) for k in ("joint", "capped", "own", "in_use")
        },
        "corpora": corpora,
        "seconds": round(time.perf_counter() - began, 1),
    }


def _rates(answerable: list[float], unanswerable: list[float], t: float) -> dict:
    return {
        "threshold": t,
        "false_refusal": round(sum(r < t for r in answerable) / len(answerable), 4),
        "true_refusal": round(sum(r < t for r in unanswerable) / len(unanswerable), 4),
        "balanced_accuracy": round(balanced_accuracy(answerable, unanswerable, t), 4),
    }


def format_refusal(r: dict) -> str:
    """The result as a table: per corpus, the test-half rates at each threshold."""
    th = r["threshold"]
    lines = [
        f"refusal threshold on {len(r['corpora'])} corpora ({r['relevance']}; embedder "
        f"{r['embedder']}; {r['queries_per_corpus']} queries per corpus, seed {r['seed']})",
        f"jointly calibrated: {th['joint']:.4f} (mean balanced accuracy on the calibration "
        f"halves {th['joint_calibration_balanced_accuracy']:.3f}); capped (false refusals <= "
        f"{th['max_false_refusal']:.0%} on every calibration half): {th['capped']:.4f}; "
        f"in use: {th['in_use']}",
        "",
        f"{'corpus':16} {'indexed':>13} {'ans/unans':>9} {'median rel ans/unans':>21} "
        f"{'threshold':>16} {'false refusal':>13} {'true refusal':>12} {'bal acc':>7}",
    ]
    for c in r["corpora"]:
        med = c["median_relevance"]
        head = [
            c["corpus"][:16],
            f"{c['documents_indexed']}/{c['documents']}",
            f"{c['answerable']}/{c['unanswerable']}",
            f"{med['answerable']:.3f}/{med['unanswerable']:.3f}",
        ]
        for i, kind in enumerate(("joint", "capped", "own", "in_use")):
            m = c["test"][kind]
            cells = head if i == 0 else ["", "", "", ""]
            label = f"{kind.replace('_', ' ')} {m['threshold']:.4f}"
            lines.append(
                f"{cells[0]:16} {cells[1]:>13} {cells[2]:>9} {cells[3]:>21} {label:>16} "
                f"{m['false_refusal']:13.3f} {m['true_refusal']:12.3f} "
                f"{m['balanced_accuracy']:7.3f}"
            )
    mean = r["test_mean_balanced_accuracy"]
    lines += [
        f"mean balanced accuracy on the test halves: joint {mean['joint']:.3f}, capped "
        f"{mean['capped']:.3f}, own {mean['own']:.3f}, in use {mean['in_use']:.3f}",
        "false refusal: answerable queries refused; true refusal: unanswerable queries refused "
        "(their documents are not indexed); rates on the test halves",
        f"seconds: {r['seconds']}",
    ]
    return "\n".join(lines)
