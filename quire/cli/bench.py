"""`quire bench WHAT`: one table of the benchmarks, each a `quire.bench` module's run and
report functions, its arguments, and how they become the run's options."""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from quire.cli.output import say


@dataclass(frozen=True)
class Bench:
    """One `quire bench` subcommand."""

    name: str
    help: str
    module: str  # in quire.bench
    run: str  # run(where, settings, log=..., **options) -> dict
    report: str  # report(result) -> str
    arguments: Callable[[argparse.ArgumentParser], None]
    options: Callable[[argparse.Namespace], dict]
    where: Callable[[argparse.Namespace], object] = lambda a: Path(a.folder)


def _folder(help_text: str) -> Callable[[argparse.ArgumentParser], None]:
    return lambda b: b.add_argument("folder", metavar="DIR", help=help_text)


def _workdir(b: argparse.ArgumentParser) -> None:
    b.add_argument("--workdir", help="keep documents and index here; a rerun re-ingests nothing")


def _seed(b: argparse.ArgumentParser) -> None:
    b.add_argument("--seed", type=int, default=0)


def _retrieval(b: argparse.ArgumentParser) -> None:
    _folder("corpus.jsonl, queries.jsonl, qrels/test.tsv")(b)
    b.add_argument(
        "--queries",
        type=int,
        default=1000,
        help="evaluate at most this many queries, drawn at random (default 1000; 0: all)",
    )
    _seed(b)
    _workdir(b)


def _answers(b: argparse.ArgumentParser) -> None:
    _folder("the SQuAD v1.1 dev folder (beir/, answers.jsonl)")(b)
    b.add_argument(
        "--questions", type=int, default=200,
        help="answerable and unanswerable questions each (default 200)",
    )  # fmt: skip
    b.add_argument(
        "--llm-questions", type=int, default=60,
        help="of those, how many llm mode answers (default 60)",
    )  # fmt: skip
    b.add_argument(
        "--budgets", default="", metavar="N,N",
        help="also run llm mode with these prompt budgets in tokens, e.g. 560,1000,1500",
    )  # fmt: skip
    _seed(b)


def _conversation(b: argparse.ArgumentParser) -> None:
    _folder("the SQuAD dev folder, or a BEIR folder")(b)
    b.add_argument("--chats", type=int, default=100, help="chats of 4 questions (default 100)")
    b.add_argument(
        "--rewrites", type=int, default=60, help="follow-ups the model is asked to rewrite"
    )
    _seed(b)
    _workdir(b)


def _refusal(b: argparse.ArgumentParser) -> None:
    b.add_argument("folders", nargs="+", metavar="DIR", help="SQuAD dev and/or BEIR folders")
    b.add_argument("--queries", type=int, default=300, help="queries per corpus (default 300)")
    _seed(b)
    b.add_argument("--workdir", help="keep documents and indexes here")


def _ingest(b: argparse.ArgumentParser) -> None:
    _folder("a folder of documents, or a BEIR folder")(b)
    b.add_argument("--workdir", help="keep the written documents and the indexes here")
    b.add_argument("--no-plain", action="store_true", help="skip the slower comparison ingests")
    b.add_argument(
        "--embedding-only", action="store_true", help="only the embedders, on the same chunks"
    )


def _dir(a: argparse.Namespace) -> Path | None:
    return Path(a.workdir) if a.workdir else None


BENCHES = (
    Bench(
        "retrieval", "nDCG, recall, MRR and latency on a BEIR folder",
        "retrieval", "run_retrieval", "format_report", _retrieval,
        lambda a: {"max_queries": a.queries or None, "seed": a.seed, "workdir": _dir(a)},
    ),
    Bench(
        "answers", "answers, citations, refusals and speed on SQuAD",
        "answers", "run_answers", "format_answers", _answers,
        lambda a: {
            "questions": a.questions, "llm_questions": a.llm_questions, "seed": a.seed,
            "budgets": tuple(int(b) for b in a.budgets.split(",") if b.strip()),
        },
    ),
    Bench(
        "conversation", "retrieval inside a chat against asked alone",
        "conversation", "run_conversation", "format_conversation", _conversation,
        lambda a: {"chats": a.chats, "seed": a.seed, "rewrite_questions": a.rewrites,
                   "workdir": _dir(a)},
    ),
    Bench(
        "refusal", "calibrate the refusal threshold on several corpora",
        "refusal", "run_refusal", "format_refusal", _refusal,
        lambda a: {"queries": a.queries, "seed": a.seed, "workdir": _dir(a)},
        where=lambda a: [Path(f) for f in a.folders],
    ),
    Bench(
        "ingest", "files/s, pages/s, chunks/s and peak RSS of an ingest",
        "ingest", "run_ingest_bench", "format_ingest", _ingest,
        lambda a: {"workdir": _dir(a), "plain": not a.no_plain,
                   "embedding_only": a.embedding_only},
    ),
)  # fmt: skip


def add(sub) -> None:
    c = sub.add_parser("bench", help="measure Quire on evaluation data")
    benches = c.add_subparsers(dest="bench", required=True, metavar="WHAT")
    for bench in BENCHES:
        b = benches.add_parser(bench.name, help=bench.help)
        bench.arguments(b)
        b.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
        b.set_defaults(func=lambda args, bench=bench: run(bench, args))


def run(bench: Bench, args: argparse.Namespace) -> int:
    """Run `bench` with the command's arguments and print its report."""
    from rag.settings import Settings

    module = importlib.import_module(f"quire.bench.{bench.module}")
    result = getattr(module, bench.run)(
        bench.where(args),
        Settings.from_env(),
        log=lambda msg: say(f"bench: {msg}", err=True),
        **bench.options(args),
    )
    say(json.dumps(result, indent=2) if args.json else getattr(module, bench.report)(result))
    return 0
