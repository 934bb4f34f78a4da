"""The `quire` command line. The only module (with app.py) that talks to a terminal.

Exit codes: 0 done; 1 done, but some files failed (the report says which and why);
2 the command could not run (bad usage, bad settings, an index built with other settings).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from rag.errors import QuireError
from rag.types import FAILED, SKIPPED, FileResult, IngestReport


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except QuireError as exc:
        print(f"quire: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("quire: interrupted; run the same command again to finish", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="quire",
        description="Quire: ask questions of your own notes, PDFs and code, offline.",
        epilog="Data lives under $QUIRE_HOME (default ~/.local/share/quire).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("ingest", help="index files and folders (recursive, incremental)")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    c.set_defaults(func=_ingest)

    c = sub.add_parser("sync", help="ingest a folder and drop files that no longer exist")
    c.add_argument("folder", metavar="FOLDER")
    c.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    c.set_defaults(func=_sync)

    c = sub.add_parser("docs", help="list every document in the index")
    c.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    c.set_defaults(func=_docs)

    c = sub.add_parser("remove", help="drop a file or a folder's files from the index")
    c.add_argument("path", metavar="PATH")
    c.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    c.set_defaults(func=_remove)

    c = sub.add_parser("reindex", help="rebuild the whole index with the current settings")
    c.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    c.set_defaults(func=_reindex)
    return p


def _engine():
    from rag.engine import build_engine  # heavy imports wait until a command needs them

    return build_engine()


def _ingest(args) -> int:
    engine = _engine()
    with _Bar("ingest") as bar:
        report = engine.ingest(args.paths, bar)
    return _finish(report, args.json, "Ingested")


def _sync(args) -> int:
    engine = _engine()
    with _Bar("sync") as bar:
        report = engine.sync(args.folder, bar)
    return _finish(report, args.json, "Synced")


def _remove(args) -> int:
    report = _engine().remove(args.path)
    if not report.files and not args.json:
        print(f"nothing in the index under {args.path}")
        return 0
    return _finish(report, args.json, "Removed")


def _reindex(args) -> int:
    engine = _engine()
    with _Bar("reindex") as bar:
        report = engine.reindex(bar)
    return _finish(report, args.json, "Reindexed")


def _docs(args) -> int:
    docs = _engine().documents()
    if args.json:
        rows = [d.__dict__ for d in docs]
        print(json.dumps(rows, indent=2))
        return 0
    if not docs:
        print("The index is empty: add files with `quire ingest PATH`.")
        return 0
    print(f"{'status':8} {'kind':8} {'pages':>5} {'chunks':>6}  path")
    for d in docs:
        pages = str(d.pages) if d.pages else "-"
        print(f"{d.status:8} {d.kind:8} {pages:>5} {d.chunks:>6}  {d.path}")
        if d.error:
            print(f"{'':32}{d.error}")
    indexed = sum(d.status == "indexed" for d in docs)
    print(f"{len(docs)} documents: {indexed} indexed, {len(docs) - indexed} failed")
    return 0


def _finish(report: IngestReport, as_json: bool, verb: str) -> int:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(summary(report, verb))
    return 1 if report.count(FAILED) else 0


def summary(report: IngestReport, verb: str = "Ingested") -> str:
    """The human report: one count line, then every failure and note with its file."""
    c = report.counts
    lines = [
        f"{verb} {len(report.files)} files in {report.seconds:.1f} s: "
        f"{c['added']} added, {c['updated']} updated, {c['unchanged']} unchanged, "
        f"{c['removed']} removed, {c['failed']} failed, {c['skipped']} skipped; "
        f"{report.chunks} chunks embedded ({report.chunks_per_second:.1f} chunks/s)"
    ]
    failed = [f for f in report.files if f.status == FAILED]
    if failed:
        lines.append("Failed:")
        lines += [f"  {_rel(f.path)}: {f.reason}" for f in failed]
    skipped = [f for f in report.files if f.status == SKIPPED]
    if skipped:
        lines.append(
            f"Skipped {len(skipped)} file(s) of types Quire does not index, "
            f"e.g. {_rel(skipped[0].path)}"
        )
    noted = [f for f in report.files if f.notes]
    if noted:
        lines.append("Notes:")
        lines += [f"  {_rel(f.path)}: {'; '.join(f.notes)}" for f in noted]
    return "\n".join(lines)


def _rel(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


class _Bar:
    """A tqdm progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.bar = None
        self.began = time.perf_counter()

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def start(self, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=self.what, unit="file", file=sys.stderr, disable=None)

    def advance(self, result: FileResult) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(os.path.basename(result.path)[:30], refresh=False)


if __name__ == "__main__":
    sys.exit(main())
