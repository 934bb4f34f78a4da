"""`quire search` and `quire related`: passages and documents, with filters."""

from __future__ import annotations

import argparse
import json

from quire.cli import session
from quire.cli.output import hit_dict, print_documents, rel, say, snippet, where
from rag.errors import QuireError


def add(sub) -> None:
    c = sub.add_parser("search", help="find the passages that match a query")
    c.add_argument("query")
    c.add_argument("-k", type=int, default=10, help="how many hits (default 10)")
    filter_arguments(c)
    c.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    c.add_argument(
        "--docs",
        action="store_true",
        help="rank documents, not passages (which file was it?), each with its best passages",
    )
    c.add_argument("--json", action="store_true", help="print the hits as JSON on stdout")
    c.set_defaults(func=search)

    c = sub.add_parser("related", help="documents most similar to an indexed document")
    c.add_argument("path", metavar="PATH")
    c.add_argument("-k", type=int, default=10, help="how many documents (default 10)")
    c.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    c.set_defaults(func=related)


def filter_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--path", help="only files under this folder or matching this glob")
    c.add_argument(
        "--type",
        action="append",
        default=[],
        metavar="TYPE",
        help="only this file type (md, pdf, docx, xlsx, pptx, html, py ...); may be repeated",
    )


def search(args) -> int:
    warm = _warm_search(args)
    if warm is not None:
        hits, docs = warm
    else:
        from quire.filters import make_filters

        filters = make_filters(args.path, args.type)
        engine = session.engine()
        if args.docs:
            docs = engine.search_documents(args.query, k=args.k, filters=filters, mode=args.mode)
        else:
            hits = engine.search(args.query, k=args.k, filters=filters, mode=args.mode)
    if args.docs:
        return print_documents(docs, args.query, args.json, "No matches.")
    if args.json:
        say(json.dumps([hit_dict(h) for h in hits], indent=2))
        return 0
    if not hits:
        say("No matches.")
        return 0
    for i, h in enumerate(hits, start=1):
        c = h.chunk
        say(f"{i:2}. {rel(c.source)}{where(c)}   score {h.score:.4f}")
        say(f"    {snippet(c.text, args.query)}")
    return 0


def _warm_search(args):
    """(hits, documents) from a running `quire watch` (quire/warm.py), or None if none answers."""
    from rag.settings import Settings

    settings = Settings.from_env()
    if not settings.warm_search:
        return None
    from quire.warm import ask_server, hit_from

    request = {"query": args.query, "k": args.k, "mode": args.mode, "docs": args.docs,
               "path": args.path, "kinds": list(args.type)}  # fmt: skip
    answer = ask_server(settings, request)
    if answer is None:
        return None
    if "error" in answer:
        raise QuireError(str(answer["error"]))
    try:
        if args.docs:
            from rag.retrieval.documents import DocumentHit

            docs = [
                DocumentHit(str(d["source"]), float(d["score"]), tuple(map(hit_from, d["hits"])))
                for d in answer["documents"]
            ]
            return [], docs
        return [hit_from(h) for h in answer["hits"]], []
    except (KeyError, TypeError, ValueError):
        return None  # a reply it cannot read: search here instead


def related(args) -> int:
    found = session.engine().related(args.path, k=args.k)
    return print_documents(found, "", args.json, "No other documents in the index.")
