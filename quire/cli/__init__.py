"""The `quire` command line. The only module (with app.py) that talks to a terminal.

Exit codes: 0 done; 1 done, but some files failed (the report says which and why);
2 the command could not run (bad usage, bad settings, an index built with other settings).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

from quire.warm import socket_path as warm_socket
from rag.errors import QuireError, is_disk_full
from rag.home import check_home, private_files, private_home
from rag.types import FAILED, SKIPPED, FileResult, IngestReport


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    private_files()
    try:
        if args.command not in _NO_HOME:
            from rag.settings import Settings

            private_home(Settings.from_env().home)  # refused if another user owns or may write it
        return args.func(args)
    except QuireError as exc:
        say(f"quire: {_one_line(str(exc))}", err=True)
        return 2
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        say(f"quire: the disk is full ({_one_line(str(exc))})", err=True)
        return 2
    except KeyboardInterrupt:
        say("quire: interrupted; run the same command again to finish", err=True)
        return 130


def run() -> None:
    """The `quire` command. After a command that only reads (search, related, ask), the
    process ends without tearing its libraries down (measured: 0.2-0.3 s of a 1.5 s cold
    search went to Chroma's and ONNX Runtime's teardown); their writes are committed by then."""
    argv = sys.argv[1:]
    if argv and argv[0] in _READ_ONLY:
        _open_store_in_child(argv[0])
    try:
        code = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:  # `quire search ... | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    if argv and argv[0] in _READ_ONLY:
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


_READ_ONLY = {"search", "related", "ask"}
_NO_HOME = {"models", "bench"}  # commands that never open QUIRE_HOME
_FORKED = None  # the store a child process opens while this one loads the embedder


def _open_store_in_child(argv_command: str) -> None:
    """Start opening the on-disk Chroma store in a child process (rag/retrieval/forked.py)."""
    global _FORKED
    from rag.settings import Settings

    try:
        settings = Settings.from_env()
    except QuireError:
        return  # main() reports it
    if settings.chroma_url or settings.embedder != "local" or not settings.cli_fork:
        return
    if argv_command == "search" and settings.warm_search and warm_socket(settings.home).exists():
        return  # a running `quire watch` answers (quire/warm.py); no store to open
    try:
        check_home(settings.home)  # before the child creates anything there
    except QuireError:
        return  # main() reports it
    private_files()  # before the child creates anything
    from rag.retrieval.forked import ForkedStore

    _FORKED = ForkedStore.start(settings.chroma_dir)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Parser(argparse.ArgumentParser):
    """argparse, whose messages quote what was typed ("unrecognized arguments: ..."), printed
    as safely as everything else."""

    def _print_message(self, message: str, file=None) -> None:
        if message:
            try:
                (file or sys.stderr).write(clean_terminal(message))
            except (AttributeError, OSError):
                pass


_FOLLOW_HELP = (
    "follow links inside a folder that lead out of it (as QUIRE_FOLLOW_LINKS=on); links into "
    "hidden folders such as ~/.ssh are never followed"
)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="quire",
        description="Quire: ask questions of your own notes, PDFs and code, offline.",
        epilog="Data lives under $QUIRE_HOME (default ~/.local/share/quire).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("ingest", help="index files and folders (recursive, incremental)")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    c.add_argument("--follow-links", action="store_true", help=_FOLLOW_HELP)
    c.set_defaults(func=_ingest)

    c = sub.add_parser(
        "sync",
        help="ingest a folder and drop files that no longer exist (no FOLDER: every "
        "watched folder)",
    )
    c.add_argument("folder", metavar="FOLDER", nargs="?")
    c.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    c.add_argument("--follow-links", action="store_true", help=_FOLLOW_HELP)
    c.set_defaults(func=_sync)

    c = sub.add_parser(
        "watch",
        help="keep watched folders in sync (foreground); `watch add|remove|list FOLDER`",
        description="`quire watch` keeps every watched folder in sync until stopped (Ctrl-C; "
        "or run it as a systemd user service, see the README). `quire watch add FOLDER` "
        "watches a folder (and syncs it now unless a watcher is running), `quire watch "
        "remove FOLDER` stops watching it (its documents stay; `quire remove FOLDER` drops "
        "them), `quire watch list` shows each folder's state.",
    )
    c.add_argument(
        "action",
        nargs="?",
        choices=["add", "remove", "list"],
        metavar="ACTION",
        help="add, remove or list; none: watch in the foreground",
    )
    c.add_argument("folder", nargs="?", metavar="FOLDER", help="the folder to add or remove")
    c.add_argument("--no-sync", action="store_true", help="add: do not sync the folder now")
    c.add_argument("--json", action="store_true", help="list: print the folders as JSON")
    c.set_defaults(func=_watch)

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

    c = sub.add_parser("search", help="find the passages that match a query")
    c.add_argument("query")
    c.add_argument("-k", type=int, default=10, help="how many hits (default 10)")
    _filter_arguments(c)
    c.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    c.add_argument(
        "--docs",
        action="store_true",
        help="rank documents, not passages (which file was it?), each with its best passages",
    )
    c.add_argument("--json", action="store_true", help="print the hits as JSON on stdout")
    c.set_defaults(func=_search)

    c = sub.add_parser("related", help="documents most similar to an indexed document")
    c.add_argument("path", metavar="PATH")
    c.add_argument("-k", type=int, default=10, help="how many documents (default 10)")
    c.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    c.set_defaults(func=_related)

    c = sub.add_parser("ask", help="answer a question from your documents, with sources")
    c.add_argument("question")
    c.add_argument(
        "--mode",
        choices=["auto", "llm", "quotes"],
        help="auto (default: quotes with the bundled model, the model's prose with one you "
        "set), llm, or quotes (no model)",
    )
    c.add_argument("--model", help="a GGUF file to answer with (default: bundled SmolLM2)")
    chat = c.add_mutually_exclusive_group()
    chat.add_argument(
        "-c", "--continue", dest="cont", action="store_true", help="continue the latest chat"
    )
    chat.add_argument("--chat", type=int, metavar="ID", help="continue chat ID (`quire chats`)")
    chat.add_argument("--new", action="store_true", help="start a new chat (the default)")
    _filter_arguments(c)
    c.add_argument(
        "--json",
        action="store_true",
        help="print {answer, citations, hits, refused, mode, standalone_question, chat_id, "
        "timings} as JSON",
    )
    c.set_defaults(func=_ask)

    c = sub.add_parser("chats", help="list the chats (shared with the app), or show one")
    c.add_argument("--show", type=int, metavar="ID", help="print chat ID's questions and answers")
    c.add_argument("--json", action="store_true", help="print them as JSON on stdout")
    c.set_defaults(func=_chats)

    c = sub.add_parser("models", help="the answer models found on this computer")
    c.add_argument("--no-servers", action="store_true", help="do not look for local servers")
    c.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    c.set_defaults(func=_models)

    c = sub.add_parser("bench", help="measure Quire on evaluation data")
    bench = c.add_subparsers(dest="bench", required=True, metavar="WHAT")
    b = bench.add_parser("retrieval", help="nDCG, recall, MRR and latency on a BEIR folder")
    b.add_argument("folder", metavar="DIR", help="corpus.jsonl, queries.jsonl, qrels/test.tsv")
    b.add_argument(
        "--queries",
        type=int,
        default=1000,
        help="evaluate at most this many queries, drawn at random (default 1000; 0: all)",
    )
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workdir", help="keep documents and index here; a rerun re-ingests nothing")
    b.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    b.set_defaults(func=_bench_retrieval)
    b = bench.add_parser("answers", help="answers, citations, refusals and speed on SQuAD")
    b.add_argument("folder", metavar="DIR", help="the SQuAD v1.1 dev folder (beir/, answers.jsonl)")
    b.add_argument(
        "--questions",
        type=int,
        default=200,
        help="answerable and unanswerable questions each (default 200)",
    )
    b.add_argument(
        "--llm-questions",
        type=int,
        default=60,
        help="of those, how many llm mode answers (default 60)",
    )
    b.add_argument(
        "--budgets",
        default="",
        metavar="N,N",
        help="also run llm mode with these prompt budgets in tokens, e.g. 560,1000,1500",
    )
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    b.set_defaults(func=_bench_answers)
    b = bench.add_parser("conversation", help="retrieval inside a chat against asked alone")
    b.add_argument("folder", metavar="DIR", help="the SQuAD dev folder, or a BEIR folder")
    b.add_argument("--chats", type=int, default=100, help="chats of 4 questions (default 100)")
    b.add_argument(
        "--rewrites", type=int, default=60, help="follow-ups the model is asked to rewrite"
    )
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workdir", help="keep documents and index here; a rerun re-ingests nothing")
    b.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    b.set_defaults(func=_bench_conversation)
    b = bench.add_parser("refusal", help="calibrate the refusal threshold on several corpora")
    b.add_argument("folders", nargs="+", metavar="DIR", help="SQuAD dev and/or BEIR folders")
    b.add_argument("--queries", type=int, default=300, help="queries per corpus (default 300)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workdir", help="keep documents and indexes here")
    b.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    b.set_defaults(func=_bench_refusal)
    b = bench.add_parser("ingest", help="files/s, pages/s, chunks/s and peak RSS of an ingest")
    b.add_argument("folder", metavar="DIR", help="a folder of documents, or a BEIR folder")
    b.add_argument("--workdir", help="keep the written documents and the indexes here")
    b.add_argument("--no-plain", action="store_true", help="skip the slower comparison ingests")
    b.add_argument(
        "--embedding-only", action="store_true", help="only the embedders, on the same chunks"
    )
    b.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    b.set_defaults(func=_bench_ingest)
    return p


def _filter_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--path", help="only files under this folder or matching this glob")
    c.add_argument(
        "--type",
        action="append",
        default=[],
        metavar="TYPE",
        help="only this file type (md, pdf, docx, xlsx, pptx, html, py ...); may be repeated",
    )


def _engine(follow_links: bool = False):
    import dataclasses

    from quire.engine import build_engine  # heavy imports wait until a command needs them
    from rag.settings import Settings

    settings = Settings.from_env()
    if follow_links:
        settings = dataclasses.replace(settings, follow_links=True)
    engine = build_engine(settings, store=_FORKED)
    engine.ingestor.on_wait = lambda who: say(
        f"quire: {who} is changing this library ({engine.settings.home}); waiting for it to finish",
        err=True,
        flush=True,
    )
    return engine


def _ingest(args) -> int:
    engine = _engine(args.follow_links)
    with _Bar("ingest") as bar:
        report = engine.ingest(args.paths, bar)
    return _finish(report, args.json, "Ingested")


def _sync(args) -> int:
    engine = _engine(args.follow_links)
    folders = [args.folder] if args.folder else engine.watch_list().paths()
    if not folders:
        raise QuireError("no folder given and none watched (`quire watch add FOLDER`)")
    report = IngestReport()
    for folder in folders:
        with _Bar("sync") as bar:
            part = engine.sync(folder, bar)
        report.files += part.files
        report.links += part.links
        report.seconds += part.seconds
    return _finish(report, args.json, "Synced")


def _watch(args) -> int:
    if args.action is None:
        return _watch_run()
    if args.action == "list":
        return _watch_list(args.json)
    if not args.folder:
        raise QuireError(f"`quire watch {args.action}` needs a FOLDER")
    from ingest.watch.folders import WatchList
    from rag.settings import Settings

    watch_list = WatchList(Settings.from_env().home)
    if args.action == "remove":
        path = watch_list.remove(args.folder)
        if path is None:
            raise QuireError(f"not watched: {args.folder} (`quire watch list` shows them)")
        say(f"Stopped watching {path}; its documents stay in the library "
            f"(`quire remove {path}` drops them).")  # fmt: skip
        return 0
    path = watch_list.add(args.folder)
    watcher = watch_list.watcher()
    if watcher is not None:
        say(f"Watching {path}; the running watcher (process {watcher.pid}) syncs it now.")
        return 0
    say(f"Watching {path}. `quire watch` (or the app, while it runs) keeps it in sync.")
    if args.no_sync:
        return 0
    engine = _engine()
    with _Bar("sync") as bar:
        report = engine.sync(path, bar)
    watch_list.set_state(path, "watching", synced=True)
    return _finish(report, False, "Synced")


def _watch_list(as_json: bool) -> int:
    from ingest.watch.folders import WatchList, describe
    from rag.settings import Settings

    settings = Settings.from_env()
    watch_list = WatchList(settings.home)
    folders, watcher = watch_list.folders(), watch_list.watcher()
    if as_json:
        out = {
            "watcher": watcher and {"pid": watcher.pid, "command": watcher.command},
            "folders": [
                {**f.to_dict(), "description": describe(f, watcher is not None)} for f in folders
            ],
        }
        say(json.dumps(out, indent=2))
        return 0
    if not folders:
        say("No watched folders (`quire watch add FOLDER`).")
        return 0
    for f in folders:
        say(f"{f.path}\n    {describe(f, watcher is not None)}")
    if watcher is None:
        say("No watcher is running: `quire watch`, or the app, keeps these in sync.")
    else:
        say(f"Kept in sync by process {watcher.pid} ({watcher.command}).")
    return 0


def _watch_run() -> int:
    import signal
    import threading

    from ingest.watch.folders import watch_lock

    engine = _engine()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # systemd's stop: finish the batch

    def log(line: str) -> None:
        say(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    def waiting() -> None:
        holder = engine.watch_list().watcher()
        who = f"process {holder.pid} ({holder.command})" if holder else "another process"
        say(f"quire: {who} is already watching this library; waiting for it to stop",
            err=True, flush=True)  # fmt: skip

    with watch_lock(engine.settings.home, wait=True, on_wait=waiting):
        folders = engine.watch_list().paths()
        if not folders:
            say("No watched folders yet: `quire watch add FOLDER` (this watcher picks it up).")
        else:
            say(f"Watching {len(folders)} folder{'s' * (len(folders) != 1)}: "
                + ", ".join(folders), flush=True)  # fmt: skip
        _warm_for_documents(engine)
        server = _search_server(engine)
        try:
            engine.watcher(log).run(stop)
        except KeyboardInterrupt:
            pass
        finally:
            if server is not None:
                server.stop()
    say("Stopped watching.")
    return 0


def _search_server(engine):
    """Answer `quire search` from this warm process (quire/warm.py), on an engine of its own."""
    if not engine.settings.warm_search:
        return None
    from quire.engine import build_engine
    from quire.warm import SearchServer

    try:
        engine.embedder.warm_up()  # the query embedder
        reader = build_engine(engine.settings, embedder=engine.embedder)
        return SearchServer(reader, engine.settings.home).start()
    except (OSError, QuireError) as exc:
        say(f"quire: searches will not be served warm: {exc}", err=True, flush=True)
        return None


def _warm_for_documents(engine) -> None:
    """Load the document embedder now, so the first save is not also a model load."""
    try:
        engine.embedder.embed(["Quire keeps this folder in sync."])
    except Exception:  # the first real ingest reports what is wrong with the model
        pass


def _remove(args) -> int:
    report = _engine().remove(args.path)
    if not report.files and not args.json:
        say(f"nothing in the index under {args.path}")
        return 0
    return _finish(report, args.json, "Removed")


def _reindex(args) -> int:
    engine = _engine()
    with _Bar("reindex") as bar:
        report = engine.reindex(bar)
    return _finish(report, args.json, "Reindexed")


def _search(args) -> int:
    warm = _warm_search(args)
    if warm is not None:
        hits, docs = warm
    else:
        from quire.engine import make_filters

        filters = make_filters(args.path, args.type)
        if args.docs:
            docs = _engine().search_documents(args.query, k=args.k, filters=filters, mode=args.mode)
        else:
            hits = _engine().search(args.query, k=args.k, filters=filters, mode=args.mode)
    if args.docs:
        return _print_documents(docs, args.query, args.json, "No matches.")
    if args.json:
        say(json.dumps([_hit_dict(h) for h in hits], indent=2))
        return 0
    if not hits:
        say("No matches.")
        return 0
    for i, h in enumerate(hits, start=1):
        c = h.chunk
        say(f"{i:2}. {_rel(c.source)}{_where(c)}   score {h.score:.4f}")
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


def _ask(args) -> int:
    from dataclasses import asdict, replace

    from quire.chat.chats import ChatStore, Message, answer_data
    from quire.engine import build_engine, make_filters
    from rag.settings import Settings

    settings = Settings.from_env()
    if args.model:
        from pathlib import Path

        settings = replace(settings, llm_model=Path(args.model).expanduser().resolve(), llm_url="")
    filters = make_filters(args.path, args.type)
    private_home(settings.home)
    chats = ChatStore(settings.chats_path)
    chat = _chat_for(args, chats)
    history = chats.history(chat.id) if chat else []
    engine = build_engine(settings, store=_FORKED)  # the store the child opened meanwhile
    stream = engine.ask(args.question, history, mode=args.mode, filters=filters)
    if chat is None:
        chat = chats.create()
    chats.add(chat.id, Message("user", args.question))
    if args.json:
        answer = stream.result()
        chats.add(chat.id, Message("assistant", answer.text, answer_data(answer)))
        say(
            json.dumps(
                {
                    "answer": answer.text,
                    "citations": [asdict(c) for c in answer.citations],
                    "hits": [_hit_dict(h) for h in answer.hits],
                    "refused": answer.refused,
                    "mode": answer.mode,
                    "mode_reason": answer.mode_reason,
                    "question": answer.question,
                    "standalone_question": answer.standalone_question,
                    "chat_id": chat.id,
                    "note": answer.note,
                    "timings": {k: round(v, 2) for k, v in answer.timings.items()},
                },
                indent=2,
            )
        )
        return 0
    if stream.searched != args.question:
        say(f"(searched for: {stream.searched})", err=True)
    for piece in stream:
        say(piece, end="", flush=True)
    say()
    answer = stream.answer
    chats.add(chat.id, Message("assistant", answer.text, answer_data(answer)))
    say(f"(chat {chat.id}: `quire ask -c` continues it)", err=True)
    if answer.refused:
        say("\nClosest passages:")
        for h in answer.hits[:3]:
            say(f"  {_rel(h.chunk.source)}{_where(h.chunk)}")
            say(f"    {snippet(h.chunk.text, args.question)}")
        return 0
    if answer.citations:
        say("\nSources:")
    for c in answer.citations:
        mark = " (supporting, not cited by the model)" if c.inferred else ""
        where = f", {c.location}" if c.location else ""
        say(f"  [{c.n}] {_rel(c.source)}{where}{mark}")
        say(f'      "{" ".join(c.quote.split())}"')
    if answer.note:
        say(f"({answer.note})", err=True)
    return 0


def _chat_for(args, chats):
    """The chat this question continues (None: a new one)."""
    if args.cont:
        return chats.latest()
    if args.chat is not None:
        chat = chats.get(args.chat)
        if chat is None:
            raise QuireError(f"no chat {args.chat}: `quire chats` lists them")
        return chat
    return None


def _chats(args) -> int:
    from quire.chat.chats import ChatStore
    from rag.settings import Settings

    settings = Settings.from_env()
    if not settings.chats_path.exists():
        found, counts, store = [], {}, None
    else:
        store = ChatStore(settings.chats_path)
        found, counts = store.chats(), store.counts()
    if args.show is not None:
        chat = store.get(args.show) if store else None
        if chat is None:
            raise QuireError(f"no chat {args.show}: `quire chats` lists them")
        msgs = store.messages(chat.id)
        if args.json:
            rows = [{"role": m.role, "text": m.text, **_message_extra(m)} for m in msgs]
            say(json.dumps({"id": chat.id, "title": chat.title, "messages": rows}, indent=2))
            return 0
        say(f"chat {chat.id}: {chat.title}")
        asked = ""
        for m in msgs:
            who = "you" if m.role == "user" else "quire"
            say(f"\n{who}: {m.text}")
            asked = m.text if m.role == "user" else asked
            searched = m.data.get("standalone_question")
            if m.role == "assistant" and searched and searched != asked:
                say(f"  (searched for: {searched})")
        return 0
    if args.json:
        rows = [
            {
                "id": c.id,
                "title": c.title,
                "created": c.created,
                "updated": c.updated,
                "messages": counts.get(c.id, 0),
            }
            for c in found
        ]
        say(json.dumps(rows, indent=2))
        return 0
    if not found:
        say("No chats yet: `quire ask QUESTION` starts one.")
        return 0
    for c in found:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.updated))
        say(f"{c.id:5}  {when}  {counts.get(c.id, 0):3} msgs  {c.title}")
    return 0


def _message_extra(m) -> dict:
    if m.role != "assistant":
        return {}
    keys = ("standalone_question", "mode", "refused", "citations")
    return {k: m.data[k] for k in keys if k in m.data}


def _models(args) -> int:
    from rag.answer.models import discover

    found = discover(include_servers=not args.no_servers)
    if args.json:
        say(json.dumps([m.to_dict() for m in found], indent=2))
        return 0
    for m in found:
        where = m.path or m.url or ""
        say(f"{m.kind:8} {m.label}")
        say(f"         {where}")
    return 0


def say(text: str = "", *, err: bool = False, end: str = "\n", flush: bool = False) -> None:
    """Print `text` on stdout (stderr with `err`), made safe for a terminal: every line this
    command prints goes through here, since most of them carry a file name, a passage or an
    error that quotes one."""
    print(clean_terminal(text), end=end, file=sys.stderr if err else sys.stdout, flush=flush)


# Control characters but tab and newline, DEL, C1, bidi overrides and isolates (U+202A-E,
# U+2066-9: "evil\u202etxt.exe" shows as "evilexe.txt"), and lone surrogates (the bytes of a
# file name that is not UTF-8; print() would fail on them).
_UNSAFE = re.compile(r"\r\n?|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SPACES = "\x0b\x0c\x1c\x1d\x1e\x1f\x85"  # whitespace to Python: a PDF's page break, say


def clean_terminal(text: str) -> str:
    """Text safe to print: no escape or control sequence (a document could otherwise write the
    clipboard, set the window title or rewrite the screen). Carriage returns become newlines,
    other white space a space, and the rest is shown escaped (`\\x1b`), so a name stays
    recognisable."""
    return _UNSAFE.sub(_visible, text)


def _visible(match: re.Match) -> str:
    char = match.group()
    if char[0] == "\r":
        return "\n"
    if char in _SPACES:
        return " "
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _related(args) -> int:
    found = _engine().related(args.path, k=args.k)
    return _print_documents(found, "", args.json, "No other documents in the index.")


def _print_documents(docs, query: str, as_json: bool, none: str) -> int:
    """Ranked documents, each with where its best passage is and a snippet of it."""
    if as_json:
        rows = [
            {
                "source": d.source,
                "score": round(d.score, 4),
                "chunk": _chunk_dict(d.chunk),
                "hits": [_hit_dict(h) for h in d.hits],
            }
            for d in docs
        ]
        say(json.dumps(rows, indent=2))
        return 0
    if not docs:
        say(none)
    for i, d in enumerate(docs, start=1):
        places = [h.chunk.location or " > ".join(h.chunk.heading) for h in d.hits]
        where = "; ".join(dict.fromkeys(p for p in places if p))
        where = f"   ({where})" if where else ""
        say(f"{i:2}. {_rel(d.source)}   score {d.score:.4f}{where}")
        say(f"    {snippet(d.chunk.text, query)}")
    return 0


def _bench(args, module: str, run: str, fmt: str, *where, **options) -> int:
    """Run `quire.bench.<module>.<run>(*where, settings, log=..., **options)`; print its report."""
    import importlib

    from rag.settings import Settings

    bench = importlib.import_module(f"quire.bench.{module}")
    result = getattr(bench, run)(
        *where,
        Settings.from_env(),
        log=lambda msg: say(f"bench: {msg}", err=True),
        **options,
    )
    say(json.dumps(result, indent=2) if args.json else getattr(bench, fmt)(result))
    return 0


def _workdir(args):
    from pathlib import Path

    return Path(args.workdir) if args.workdir else None


def _bench_retrieval(args) -> int:
    from pathlib import Path

    return _bench(
        args,
        "retrieval",
        "run_retrieval",
        "format_report",
        Path(args.folder),
        max_queries=args.queries or None,
        seed=args.seed,
        workdir=_workdir(args),
    )


def _bench_answers(args) -> int:
    from pathlib import Path

    return _bench(
        args,
        "answers",
        "run_answers",
        "format_answers",
        Path(args.folder),
        questions=args.questions,
        llm_questions=args.llm_questions,
        seed=args.seed,
        budgets=tuple(int(b) for b in args.budgets.split(",") if b.strip()),
    )


def _bench_conversation(args) -> int:
    from pathlib import Path

    return _bench(
        args,
        "conversation",
        "run_conversation",
        "format_conversation",
        Path(args.folder),
        chats=args.chats,
        seed=args.seed,
        rewrite_questions=args.rewrites,
        workdir=_workdir(args),
    )


def _bench_refusal(args) -> int:
    from pathlib import Path

    return _bench(
        args,
        "refusal",
        "run_refusal",
        "format_refusal",
        [Path(f) for f in args.folders],
        queries=args.queries,
        seed=args.seed,
        workdir=_workdir(args),
    )


def _bench_ingest(args) -> int:
    from pathlib import Path

    return _bench(
        args,
        "ingest",
        "run_ingest_bench",
        "format_ingest",
        Path(args.folder),
        workdir=_workdir(args),
        plain=not args.no_plain,
        embedding_only=args.embedding_only,
    )


def _chunk_dict(c) -> dict:
    return {
        "id": c.id,
        "source": c.source,
        "kind": c.kind,
        "page": c.page,
        "unit": c.unit or ("page" if c.page is not None else ""),
        "page_name": c.page_name,
        "location": c.location,
        "heading": list(c.heading),
        "start": c.start,
        "end": c.end,
        "line_start": c.line_start,
        "line_end": c.line_end,
        "text": c.text,
    }


def _hit_dict(h) -> dict:
    return {
        "score": round(h.score, 6),
        "dense": None if h.dense is None else round(h.dense, 4),
        "keyword": None if h.keyword is None else round(h.keyword, 4),
        **_chunk_dict(h.chunk),
    }


def _where(c) -> str:
    parts = [c.location] if c.location else []
    if c.heading:
        parts.append(" > ".join(c.heading))
    return f"  ({'; '.join(parts)})" if parts else ""


def snippet(text: str, query: str, width: int = 240) -> str:
    """One line of the passage, centred on the first query word it contains."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    from rag.retrieval.lexical import query_terms

    lower = flat.lower()
    positions = [lower.find(t) for t in query_terms(query)]
    positions = [p for p in positions if p >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    start = min(start, len(flat) - width)
    piece = flat[start : start + width]
    return ("..." if start else "") + piece + ("..." if start + width < len(flat) else "")


def _docs(args) -> int:
    docs = _engine().documents()
    if args.json:
        rows = [d.__dict__ for d in docs]
        say(json.dumps(rows, indent=2))
        return 0
    if not docs:
        say("The index is empty: add files with `quire ingest PATH`.")
        return 0
    say(f"{'status':8} {'kind':8} {'pages':>5} {'chunks':>6}  path")
    for d in docs:
        pages = str(d.pages) if d.pages else "-"
        say(f"{d.status:8} {d.kind:8} {pages:>5} {d.chunks:>6}  {d.path}")
        if d.error:
            say(f"{'':32}{d.error}")
    indexed = sum(d.status == "indexed" for d in docs)
    say(f"{len(docs)} documents: {indexed} indexed, {len(docs) - indexed} failed")
    return 0


def _finish(report: IngestReport, as_json: bool, verb: str) -> int:
    if as_json:
        say(json.dumps(report.to_dict(), indent=2))
    else:
        say(summary(report, verb))
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
    if report.links:
        from ingest.files import links_summary

        lines += links_summary(report.links)
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
            name = clean_terminal(os.path.basename(result.path))[:30]
            self.bar.set_postfix_str(name, refresh=False)
