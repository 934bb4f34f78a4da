"""`quire ingest`, `sync`, `remove`, `reindex`, `docs` and `prepare`: what is in the library."""

from __future__ import annotations

import argparse
import json

from quire.cli import session
from quire.cli.output import Bar, finish, say
from rag.errors import QuireError
from rag.types import IngestReport

FOLLOW_HELP = (
    "follow links inside a folder that lead out of it (as QUIRE_FOLLOW_LINKS=on); links into "
    "hidden folders such as ~/.ssh are never followed"
)


def add(sub) -> None:
    c = sub.add_parser("ingest", help="index files and folders (recursive, incremental)")
    c.add_argument("paths", nargs="+", metavar="PATH")
    _json(c, "the report")
    c.add_argument("--follow-links", action="store_true", help=FOLLOW_HELP)
    c.set_defaults(func=ingest)

    c = sub.add_parser(
        "sync",
        help="ingest a folder and drop files that no longer exist (no FOLDER: every "
        "watched folder)",
    )
    c.add_argument("folder", metavar="FOLDER", nargs="?")
    _json(c, "the report")
    c.add_argument("--follow-links", action="store_true", help=FOLLOW_HELP)
    c.set_defaults(func=sync)

    c = sub.add_parser("docs", help="list every document in the index")
    _json(c, "the list")
    c.set_defaults(func=docs)

    c = sub.add_parser("remove", help="drop a file or a folder's files from the index")
    c.add_argument("path", metavar="PATH")
    _json(c, "the report")
    c.set_defaults(func=remove)

    c = sub.add_parser("reindex", help="rebuild the whole index with the current settings")
    _json(c, "the report")
    c.set_defaults(func=reindex)

    c = sub.add_parser(
        "prepare",
        help="make what Quire otherwise makes on first use (the ONNX embedder; `make "
        "install` runs this)",
    )
    c.add_argument("precisions", nargs="*", metavar="PRECISION", help="fp32, int8 (default: both)")
    c.set_defaults(func=prepare)


def _json(c: argparse.ArgumentParser, what: str) -> None:
    c.add_argument("--json", action="store_true", help=f"print {what} as JSON on stdout")


def ingest(args) -> int:
    engine = session.engine(args.follow_links)
    with Bar("ingest") as bar:
        report = engine.ingest(args.paths, bar)
    return finish(report, args.json, "Ingested")


def sync(args) -> int:
    engine = session.engine(args.follow_links)
    folders = [args.folder] if args.folder else engine.watch_list().paths()
    if not folders:
        raise QuireError("no folder given and none watched (`quire watch add FOLDER`)")
    report = IngestReport()
    for folder in folders:
        with Bar("sync") as bar:
            part = engine.sync(folder, bar)
        report.files += part.files
        report.links += part.links
        report.seconds += part.seconds
    return finish(report, args.json, "Synced")


def remove(args) -> int:
    report = session.engine().remove(args.path)
    if not report.files and not args.json:
        say(f"nothing in the index under {args.path}")
        return 0
    return finish(report, args.json, "Removed")


def reindex(args) -> int:
    engine = session.engine()
    with Bar("reindex") as bar:
        report = engine.reindex(bar)
    return finish(report, args.json, "Reindexed")


def docs(args) -> int:
    found = session.engine().documents()
    if args.json:
        say(json.dumps([d.__dict__ for d in found], indent=2))
        return 0
    if not found:
        say("The index is empty: add files with `quire ingest PATH`.")
        return 0
    say(f"{'status':8} {'kind':8} {'pages':>5} {'chunks':>6}  path")
    for d in found:
        pages = str(d.pages) if d.pages else "-"
        say(f"{d.status:8} {d.kind:8} {pages:>5} {d.chunks:>6}  {d.path}")
        if d.error:
            say(f"{'':32}{d.error}")
    indexed = sum(d.status == "indexed" for d in found)
    say(f"{len(found)} documents: {indexed} indexed, {len(found) - indexed} failed")
    return 0


def prepare(args) -> int:
    from quire.engine import prepare as make

    unknown = [p for p in args.precisions if p not in ("fp32", "int8")]
    if unknown:
        raise QuireError(f"unknown precision {unknown[0]!r}: fp32 or int8")
    for path in make(session.settings(), args.precisions, log=lambda m: say(m, flush=True)):
        say(f"ONNX embedder ready: {path}")
    return 0
