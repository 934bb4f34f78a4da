"""What the app runs on, built here so that app.py holds only pages and widgets: one engine,
one index writer, the chats, the uploads folder, the background watcher (with its warm search
server), the answer model picked in the sidebar, and the cited places drawn from their files."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.uploads import Uploads
from ingest.watch.background import BackgroundWatcher
from ingest.watch.folders import WatchList
from quire.chat import view
from quire.chat.chats import ChatStore
from quire.chat.jobs import Writer
from quire.engine import Engine, build_engine, make_generator
from rag.home import private_files
from rag.settings import Settings

BUNDLED, GGUF, SERVER = "Bundled model", "GGUF file", "OpenAI-compatible server"


@dataclass(frozen=True)
class ModelPick:
    """The answer model chosen in the sidebar: the bundled one, a GGUF file, or a server."""

    choice: str = BUNDLED
    value: str = ""  # the file's path or the server's URL
    name: str = ""  # the server's model name
    ctx: int = 0  # the context size the server reported (0: QUIRE_CTX)


def pick_from(found: dict | None) -> ModelPick:
    """The pick for a model `rag.answer.models.discover` found (its `to_dict()`), or the
    bundled one."""
    if found is not None and found["kind"] == "gguf":
        return ModelPick(GGUF, found["path"])
    if found is not None and found["kind"] == "server":
        ctx = found.get("context_length") or 0
        return ModelPick(SERVER, found["url"], found.get("model", ""), ctx)
    return ModelPick()


@dataclass
class Services:
    """One per app process, shared by every browser session."""

    settings: Settings
    engine: Engine
    writer: Writer
    chats: ChatStore
    uploads: Uploads

    def reader(self) -> Engine:
        """Another engine over the same library and the same loaded model (for a thread that
        searches or writes apart from the page's own)."""
        return build_engine(self.settings, embedder=self.engine.embedder)

    def generator_for(self, pick: ModelPick):
        """The answer model `pick` names (`make_generator` with the pick in the settings)."""
        s = self.settings
        if pick.choice == GGUF:
            return make_generator(replace(s, llm_url="", llm="local", llm_model=Path(pick.value)))
        if pick.choice == SERVER:
            # QUIRE_LLM_KEY belongs to the server QUIRE_LLM_URL names, never to one typed here
            key = s.llm_key if pick.value.rstrip("/") == s.llm_url.rstrip("/") else ""
            ctx = max(pick.ctx, 512) if pick.ctx else s.ctx
            return make_generator(
                replace(s, llm_url=pick.value, llm_name=pick.name, llm_key=key, ctx=ctx)
            )
        return self.engine.generator()

    def usable(self, pick: ModelPick) -> str:
        """Why `pick` cannot answer (a message), or "" if it can be built."""
        if pick.choice == GGUF:
            path = Path(os.path.expanduser(pick.value.strip()))
            if not pick.value.strip() or not path.is_file():
                return f"No GGUF file at {pick.value!r}: set the path under Answer settings."
        if pick.choice == SERVER and not pick.value.strip().startswith(("http://", "https://")):
            return "Set the server's URL (http://…) under Answer settings."
        return ""

    def background_watcher(self) -> BackgroundWatcher | None:
        """Keeps the watched folders in sync while the app runs, unless a `quire watch` does;
        while it is the library's watcher, it also answers `quire search` warm."""
        s = self.settings
        if not s.app_watch:
            return None

        def serve():
            if not s.warm_search:
                return None
            from quire.warm import SearchServer

            return SearchServer(self.reader(), s.home).start()

        return BackgroundWatcher(s.home, lambda: self.reader().watcher(), serve)

    def page_png(self, path: str, page: int, start: int, end: int) -> bytes:
        """The page (or image) with the quote at [start, end) of its text highlighted: on the
        OCR'd words of a scan or image, else on the PDF's own characters."""
        from ingest.pages import boxes

        record = self.engine.manifest.get(path)
        sha = record.sha256 if record else ""
        marks = boxes.of_span(self.settings.home, path, sha, page, start, end) if sha else []
        span = None if marks else (start, end)
        return view.page_png(path, page or 1, self.engine.sandbox, span, marks)

    def source_text(self, path: str, page: int | None) -> str:
        """The indexed text of `path` (one page of a PDF), read again from the file."""
        s = self.settings
        return view.source_text(path, page, self.engine.sandbox, s.max_file_bytes, s.follow_links)

    def watch(self, folder: str, alive: bool) -> str:
        """Watch `folder` (QuireError if it cannot be); synced now if nothing watches."""
        watch_list = WatchList(self.settings.home)
        try:
            path = watch_list.add(folder)
        finally:
            watch_list.close()
        if not alive:  # nothing watches now: at least index it
            self.writer.submit("sync", [path])
        return path

    def unwatch(self, folder: str) -> None:
        watch_list = WatchList(self.settings.home)
        try:
            watch_list.remove(folder)
        finally:
            watch_list.close()

    def watched(self):
        """(the watched folders, the watching process or None, files indexed per folder)."""
        watch_list = WatchList(self.settings.home)
        try:
            folders, watcher = watch_list.folders(), watch_list.watcher()
        finally:
            watch_list.close()
        counts = {f.path: len(self.engine.indexed_under(f.path)) for f in folders}
        return folders, watcher, counts


def open_services(settings: Settings | None = None) -> Services:
    """The app's services over the library the settings (by default, the environment) name.
    QuireError if its home is refused (another user's, or writable by others)."""
    private_files()  # what the app writes under QUIRE_HOME is for this user only
    settings = settings or Settings.from_env()
    engine = build_engine(settings)
    uploads = Uploads(settings.uploads_dir, settings.uploads_ledger)
    writer = Writer(lambda: build_engine(settings, embedder=engine.embedder), uploads=uploads)
    return Services(settings, engine, writer, ChatStore(settings.chats_path), uploads)
