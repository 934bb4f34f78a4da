"""`quire watch`: keep watched folders in sync in the foreground; `watch add|remove|list`."""

from __future__ import annotations

import json
import time

from quire.cli import session
from quire.cli.output import Bar, finish, say
from rag.errors import QuireError


def add(sub) -> None:
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
    c.set_defaults(func=watch)


def watch(args) -> int:
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
    engine = session.engine()
    with Bar("sync") as bar:
        report = engine.sync(path, bar)
    watch_list.set_state(path, "watching", synced=True)
    return finish(report, False, "Synced")


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

    engine = session.engine()
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
