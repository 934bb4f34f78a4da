"""Quire's app: `make run` (or `streamlit run app.py`). UI only: the engine does the work.

Chat with your documents (answers stream in, citations as cards beside them), and a library
view to add files (drag and drop, or a folder), watch them being indexed, remove, re-index and
find related documents. Conversations are kept in QUIRE_HOME/chats.sqlite3.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import streamlit as st

from ingest.formats import labels, suffixes
from ingest.load import kind_for
from ingest.lock import read_generation
from ingest.pages import boxes
from ingest.uploads import Uploads
from ingest.watch.background import BackgroundWatcher
from ingest.watch.folders import WatchList, describe
from quire.chat import view
from quire.chat.chats import ChatStore, Message, answer_data
from quire.chat.jobs import FAILED, RUNNING, Writer
from quire.chat.view import md
from quire.engine import Engine, build_engine, make_generator
from rag.answer.policy import resolve_mode
from rag.errors import QuireError
from rag.home import private_files
from rag.settings import Settings

SUFFIXES = suffixes()
BUNDLED, GGUF, SERVER = "Bundled model", "GGUF file", "OpenAI-compatible server"
MODE_LABELS = {
    "auto": "Automatic",
    "llm": "Written by the model",
    "quotes": "Quotes only",
}

st.set_page_config(page_title="Quire", page_icon=":material/menu_book:", layout="wide")


@st.cache_resource(show_spinner="Loading Quire…")
def resources() -> tuple[Settings, Engine, Writer, ChatStore, Uploads]:
    """One engine, one index writer, one chat store and one uploads folder per process, shared
    by all sessions."""
    private_files()  # what the app writes under QUIRE_HOME is for this user only
    settings = Settings.from_env()
    engine = build_engine(settings)
    uploads = Uploads(settings.uploads_dir, settings.uploads_ledger)
    writer = Writer(lambda: build_engine(settings, embedder=engine.embedder), uploads=uploads)
    return settings, engine, writer, ChatStore(settings.chats_path), uploads


@st.cache_resource(show_spinner=False)
def answering() -> dict[int, threading.Lock]:
    """One lock per chat: a chat's questions are answered one at a time, in order."""
    return {}


@st.cache_data(ttl=60, show_spinner=False)
def found_models() -> list[dict]:
    """Answer models already on this computer (GGUF files, local servers); never downloads."""
    from rag.answer.models import discover

    try:
        return [m.to_dict() for m in discover()]
    except Exception:  # a broken model folder must not break the sidebar
        return []


@st.cache_resource(show_spinner=False)
def generator_for(choice: str, value: str, name: str, ctx: int = 0):
    """The answer model picked in the sidebar (cached: a GGUF loads once). `ctx`: the context
    size a server reported, if it did (else QUIRE_CTX)."""
    settings, engine, *_ = resources()
    if choice == GGUF:
        return make_generator(replace(settings, llm_url=None, llm="local", llm_model=Path(value)))
    if choice == SERVER:
        # QUIRE_LLM_KEY belongs to the server QUIRE_LLM_URL names, never to one typed here
        key = settings.llm_key if value.rstrip("/") == settings.llm_url.rstrip("/") else ""
        return make_generator(
            replace(
                settings,
                llm_url=value,
                llm_name=name,
                llm_key=key,
                ctx=max(ctx, 512) if ctx else settings.ctx,
            )
        )
    return engine.generator()


@st.cache_resource(show_spinner=False, on_release=lambda w: w and w.stop())
def background_watcher() -> BackgroundWatcher | None:
    """Keeps the watched folders in sync while the app runs, unless a `quire watch` does."""
    settings, engine, *_ = resources()
    if not settings.app_watch:
        return None

    def serve():  # the app is warm: `quire search` in a terminal asks it (quire/warm.py)
        if not settings.warm_search:
            return None
        from quire.warm import SearchServer

        return SearchServer(build_engine(settings, embedder=engine.embedder), settings.home).start()

    return BackgroundWatcher(
        settings.home, lambda: build_engine(settings, embedder=engine.embedder).watcher(), serve
    )


settings, engine, writer, chats, uploads = resources()
watching = background_watcher()
if watching is not None:
    watching.start()
state = st.session_state
state.setdefault("seen_uploads", set())
state.setdefault("notes", [])


# --- sidebar: chats and answer settings ------------------------------------------------------


def select_chat(chat_id: int | None) -> None:
    state.chat_id = chat_id


def new_chat() -> None:
    state.chat_id = chats.create().id
    state.view = "Chat"


def rename_chat() -> None:
    try:
        chats.rename(state.chat_id, state.get("chat_title", ""))
    except QuireError as exc:
        state.notes.append(("error", str(exc)))


def delete_chat() -> None:
    chats.delete(state.chat_id)
    state.chat_id = None


with st.sidebar:
    st.title("Quire")
    st.radio("View", ["Chat", "Library"], horizontal=True, key="view", label_visibility="collapsed")
    st.button("New chat", icon=":material/add:", on_click=new_chat, width="stretch")
    all_chats = chats.chats()
    if state.get("chat_id") not in {c.id for c in all_chats}:
        state.chat_id = None
    for c in all_chats:
        st.button(
            md(c.title),
            key=f"chat-{c.id}",
            on_click=select_chat,
            args=(c.id,),
            type="primary" if c.id == state.chat_id else "tertiary",
            width="stretch",
        )
    if state.chat_id is not None:
        with st.expander("This chat"):
            current = chats.get(state.chat_id)
            st.text_input("Name", value=current.title if current else "", key="chat_title")
            left, right = st.columns(2)
            left.button("Rename", on_click=rename_chat, width="stretch")
            right.button("Delete", on_click=delete_chat, width="stretch")
    with st.expander("Answer settings"):
        modes = ["auto", "llm", "quotes"]
        mode = st.radio(
            "Answer mode",
            modes,
            index=modes.index(settings.answer_mode),
            format_func=MODE_LABELS.get,
            help="Automatic: quoted sentences with the small bundled model, written answers "
            "with a bigger model you choose. Quotes only: no model, always grounded.",
        )
        models = found_models()
        options = [m["label"] for m in models] + [GGUF, SERVER]
        picked = st.selectbox(
            "Model",
            options,
            help="Models found on this computer (Ollama, LM Studio, GPT4All, Hugging Face "
            "cache, local servers), or a GGUF file or server you name.",
        )
        chosen = next((m for m in models if m["label"] == picked), None)
        choice, value, name, ctx = BUNDLED, "", "", 0
        if chosen is not None and chosen["kind"] == "gguf":
            choice, value = GGUF, chosen["path"]
        elif chosen is not None and chosen["kind"] == "server":
            choice, value, name = SERVER, chosen["url"], chosen.get("model", "")
            ctx = chosen.get("context_length") or 0
        elif picked == GGUF:
            choice = GGUF
            value = st.text_input("GGUF path", placeholder="~/models/model.gguf")
        elif picked == SERVER:
            choice = SERVER
            value = st.text_input("Server URL", placeholder="http://127.0.0.1:8080/v1")
            name = st.text_input("Model name", placeholder="(the server's default)")
        k = st.select_slider(
            "Excerpts",
            ["auto", *range(1, 13)],
            value="auto",
            help="How many passages are retrieved; auto: as many as suit the model.",
        )
        k = None if k == "auto" else k
        show_scores = st.toggle("Show retrieval scores")


def answer_model():
    """The chosen generator, or None (with the reason shown) if the choice is not usable."""
    if choice == GGUF:
        path = Path(os.path.expanduser(value.strip()))
        if not value.strip() or not path.is_file():
            st.error(f"No GGUF file at {md(repr(value))}: set the path under Answer settings.")
            return None
        return generator_for(GGUF, str(path), "")
    if choice == SERVER:
        if not value.strip().startswith(("http://", "https://")):
            st.error("Set the server's URL (http://…) under Answer settings.")
            return None
        return generator_for(SERVER, value.strip(), name.strip(), ctx)
    return generator_for(BUNDLED, "", "")


def mode_line() -> None:
    """Which answer mode is in use, and why (shown above the chat)."""
    try:
        gen = answer_model() if mode != "quotes" else None
    except QuireError:
        gen = None
    if mode == "quotes" or gen is None:
        st.caption("Answers: quotes only (chosen in Answer settings)")
        return
    used, why = resolve_mode(mode, gen)
    what = "quoted sentences" if used == "quotes" else f"written by {gen.name}"
    why = why if mode == "auto" else "chosen in Answer settings"
    st.caption(f"Answers: {md(what)} · {md(why)}")


# --- sources ----------------------------------------------------------------------------------


def where(item: dict) -> str:
    parts = [f"**{md(os.path.basename(item['source']))}**"]
    if item.get("location"):
        parts.append(md(item["location"]))
    elif item.get("page"):  # saved before locations were kept
        parts.append(f"page {item['page']}")
    if item.get("heading"):
        parts.append(md(" › ".join(item["heading"])))
    return " · ".join(parts)


@st.cache_data(max_entries=32, show_spinner=False)
def page_png(path: str, page: int, mtime_ns: int, start: int, end: int) -> bytes:
    """The page (or image) with the quote at [start, end) of its text highlighted: on the
    OCR'd words of a scan or image, else on the PDF's own characters. mtime_ns: a changed
    file is drawn again."""
    record = engine.manifest.get(path)
    sha = record.sha256 if record else ""
    marks = boxes.of_span(settings.home, path, sha, page, start, end) if sha else []
    return view.page_png(path, page or 1, engine.sandbox, None if marks else (start, end), marks)


@st.cache_data(max_entries=32, show_spinner=False)
def page_text(path: str, page: int | None, mtime_ns: int) -> str:
    return view.source_text(path, page, engine.sandbox)  # a PDF is parsed once, not on every rerun


def drawable(source: str, page: int | None) -> bool:
    """Whether the cited place can be shown as a picture: a PDF page, or an image."""
    kind = kind_for(source)
    return kind == "image" or (kind == "pdf" and bool(page))


def open_source(item: dict, start: int, end: int, quote: str) -> None:
    """The cited place in its document: the PDF page, or the note's text around the quote."""
    source, page = item["source"], item.get("page")
    try:
        mtime = os.stat(source).st_mtime_ns if os.path.exists(source) else 0
        if drawable(source, page):
            caption = item.get("location") or (f"page {page}" if page else "")
            png = page_png(source, page or 0, mtime, start, end)
            st.image(png, caption=md(caption) if caption else None)
        text = page_text(source, page, mtime)
        p = view.passage(text, start, end, quote)
        # The ellipses go inside the HTML: text before it would make the block inline HTML,
        # whose text Markdown rewrites again (a URL in it would become a link).
        before, after = "…" * p.clipped_before, "…" * p.clipped_after
        shown = view.marked(before + p.text + after, p.start + len(before), p.end + len(before))
        with st.container(height=320):
            st.markdown(shown, unsafe_allow_html=True)
    except QuireError as exc:
        st.error(md(str(exc)))


def citation_card(message_id: int, c: dict) -> None:
    with st.container(border=True):
        label = "found by Quire" if c.get("inferred") else "cited"
        st.markdown(f"[{c['n']}] {where(c)}  \n:gray[{label}]")
        offset = c["start"] - c.get("excerpt_start", c["start"])
        st.markdown(view.marked_quote(c["excerpt"], c["quote"], offset), unsafe_allow_html=True)
        pdf = c.get("page") and kind_for(c["source"]) == "pdf"
        kind = f"page {c['page']}" if pdf else "image" if drawable(c["source"], 0) else "in context"
        if st.toggle(f"Open {kind}", key=f"open-{message_id}-{c['n']}"):
            open_source(c, c["start"], c["end"], c["quote"])


def passage_card(p: dict, scores: bool) -> None:
    with st.container(border=True):
        line = where(p)
        if scores:
            dense = "-" if p.get("dense") is None else f"{p['dense']:.3f}"
            line += f"  \n:gray[score {p['score']:.3f} · cosine {dense}]"
        st.markdown(line)
        st.markdown(view.marked(p["text"], 0, 0), unsafe_allow_html=True)


def show_answer(m: Message, scores: bool) -> None:
    d = m.data
    if d.get("error"):
        st.error(md(m.text))
        return
    if d.get("pending"):
        names = ", ".join(os.path.basename(p) for p in d["pending"])
        st.caption(f"Asked while these were still being indexed, so not used: {md(names)}")
    searched = d.get("standalone_question")
    searched = searched if searched and searched != d.get("question", searched) else ""
    if d.get("refused"):
        if searched:
            st.caption(f"searched for: {md(searched)}")
        st.warning(f"**Not in your documents.** {md(m.text)}", icon=":material/search_off:")
        for p in d.get("passages", [])[:3]:
            passage_card(p, scores)
        return
    left, right = st.columns([3, 2])
    if searched:
        left.caption(f"searched for: {md(searched)}")
    if d.get("note"):
        left.caption(md(d["note"]))
    left.markdown(md(m.text))
    if scores and d.get("timings"):
        t = d["timings"]
        left.caption(
            f"retrieval {t.get('retrieval_ms', 0):.0f} ms · first token "
            f"{t.get('first_token_ms', 0):.0f} ms · total {t.get('total_ms', 0):.0f} ms"
        )
    with right:
        if not d.get("citations"):
            st.caption("No passage supports this answer: check it against the documents.")
        for c in d.get("citations", []):
            citation_card(m.id, c)
    if scores and d.get("passages"):
        with st.expander("Retrieved passages"):
            for p in d["passages"]:
                passage_card(p, True)


# --- adding files -----------------------------------------------------------------------------


def add_files(key: str) -> None:
    """Drag and drop, or a folder path; the writer indexes in the background."""
    files = st.file_uploader(
        "Drop files here: " + ", ".join(labels()),
        type=SUFFIXES,
        accept_multiple_files=True,
        key=f"upload-{key}",
    )
    fresh = [f for f in files or [] if f.file_id not in state.seen_uploads]
    paths = []
    for f in fresh:
        state.seen_uploads.add(f.file_id)
        try:
            saved = uploads.save(f.name, f.getvalue())
        except OSError as exc:
            state.notes.append(("error", f"{f.name} could not be saved: {exc.strerror or exc}"))
            continue
        if saved.duplicate:
            state.notes.append(("info", f"{f.name}: already in your library as {saved.path.name}"))
        paths.append(str(saved.path.resolve()))
    if paths:
        writer.submit("ingest", paths)
    with st.form(f"folder-{key}", clear_on_submit=False, border=False):
        folder = st.text_input("Or index a folder on this computer", placeholder="~/notes")
        if st.form_submit_button("Index folder") and folder.strip():
            writer.submit("sync", [os.path.abspath(os.path.expanduser(folder.strip()))])


def show_notes() -> None:
    for kind, text in state.notes:
        (st.error if kind == "error" else st.info)(md(text))
    state.notes = []


@st.fragment(run_every=1.0)
def progress() -> None:
    """Indexing progress, per file, refreshed every second while the writer is busy."""
    jobs = [j for j in writer.jobs() if j.active or time.time() - j.finished < 30]
    busy = any(j.active for j in jobs)
    if state.get("was_busy") and not busy:  # something finished: refresh the whole page
        state.was_busy = False
        st.rerun()
    state.was_busy = busy
    for j in jobs:
        total = max(j.total, len(j.results), 1)
        what = {"ingest": "Indexing", "sync": "Syncing", "remove": "Removing"}.get(
            j.kind, "Re-indexing"
        )
        target = md(", ".join(os.path.basename(t) or t for t in j.targets) or "everything")
        if j.state == FAILED:
            st.error(f"{what} {target} failed: {md(j.error)}")
            continue
        if j.note and j.active and not j.results:
            st.info(f"{what} {target}: {md(j.note)}")
        done = len(j.results)
        label = f"{what} {target}: {done} of {total}" if j.active else f"{what} {target}: done"
        st.progress(done / total if j.state == RUNNING else (1.0 if not j.active else 0.0), label)
        for r in j.results:
            name = md(os.path.basename(r.path))
            if r.status == "failed":
                st.error(f"{name}: failed: {md(r.reason)}")
            else:
                extra = f" · {r.chunks} chunk{'s' if r.chunks != 1 else ''}" if r.chunks else ""
                st.caption(f"{name}: {md(r.status)}{extra}")


# --- views ------------------------------------------------------------------------------------


def chat_view() -> None:
    docs = engine.documents()
    if not any(d.status == "indexed" for d in docs) and not writer.busy():
        st.markdown(
            "### Your library is empty\n"
            "Drop PDFs, Markdown notes, text or Python files below, or give the path of a "
            "folder of notes. Quire indexes them on this computer; nothing leaves it. Then ask "
            "a question: every answer points to the page it came from."
        )
        add_files("welcome")
    show_notes()
    progress()
    mode_line()
    chat_id = state.get("chat_id")
    if chat_id is not None:
        for m in chats.messages(chat_id):
            with st.chat_message(m.role):
                if m.role == "user":
                    st.markdown(md(m.text))
                else:
                    show_answer(m, show_scores)
    question = st.chat_input("Ask about your documents")
    if question:
        if state.get("chat_id") is None:
            state.chat_id = chats.create().id
        chats.add(state.chat_id, Message("user", question))
        with st.chat_message("user"):
            st.markdown(md(question))
    if state.get("chat_id") is not None and chats.unanswered(state.chat_id):
        answer_waiting(state.chat_id)
        st.rerun()  # show them from the history: the checked text, with its source cards


def answer_waiting(chat_id: int) -> None:
    """Answer the chat's unanswered questions, oldest first. A question typed while another
    was being answered stops that run; the next run answers both, in order. While another
    run still holds the chat (another tab, or a run not yet stopped), wait and look again."""
    lock = answering().setdefault(chat_id, threading.Lock())
    if not lock.acquire(timeout=1):
        st.info("Finishing an earlier answer of this chat first…")
        time.sleep(1)
        return
    try:
        for _ in range(20):  # ids change as answers are slotted in: look again each time
            waiting = chats.unanswered(chat_id)
            if not waiting:
                break
            with st.chat_message("assistant"):
                answer_one(chat_id, waiting[0])
    finally:
        lock.release()


def answer_one(chat_id: int, q: Message) -> None:
    pending = writer.pending()
    if pending:
        names = ", ".join(os.path.basename(p) for p in pending)
        st.info(f"Still indexing {md(names)}: this answer cannot use them yet.")
    generator = answer_model() if mode != "quotes" else None
    if mode == "llm" and generator is None:
        error = Message("assistant", "No answer model is set up.", {"error": True})
        chats.answer(chat_id, q.id, error)
        return
    history = chats.history(chat_id, before=q.id)
    try:
        stream = engine.ask(q.text, history, mode=mode, k=k, generator=generator)
        if stream.searched != q.text:
            st.caption(f"searched for: {md(stream.searched)}")
        stream_text(stream)
        answer = stream.result()
        data = answer_data(answer)
        data["pending"] = pending
        chats.answer(chat_id, q.id, Message("assistant", answer.text, data))
    except QuireError as exc:
        chats.answer(chat_id, q.id, Message("assistant", str(exc), {"error": True}))


def stream_text(pieces: Iterable[str]) -> str:
    """Show text as it streams in, escaped as a whole each time (escaping piece by piece would
    miss what spans two pieces, such as "http" then "://"); the text."""
    shown, text = st.empty(), ""
    for piece in pieces:
        text += piece
        shown.markdown(md(text))
    return text


@st.fragment(run_every=2.0)
def watched_folders() -> None:
    """The watched folders and what is happening to each, refreshed every two seconds."""
    st.subheader("Watched folders")
    generation = read_generation(settings.home)  # any process's change to the index
    if state.setdefault("seen_generation", generation) != generation:
        state.seen_generation = generation
        st.rerun()  # the whole page: the documents table below shows the change too
    watch_list = WatchList(settings.home)
    try:
        folders, watcher = watch_list.folders(), watch_list.watcher()
        indexed = {f.path: len(engine.indexed_under(f.path)) for f in folders}
    finally:
        watch_list.close()
    if watching is not None and watching.running:
        st.caption("Kept in sync by this app while it runs: changes show up within seconds.")
    elif watcher is not None:
        st.caption(f"Kept in sync by process {watcher.pid} ({md(watcher.command)}).")
    else:
        st.caption("Not kept in sync right now: run `quire watch`, or keep this app open.")
    if watching is not None and watching.error:
        st.error(f"The watcher stopped: {md(watching.error)}")
    alive = watcher is not None or (watching is not None and watching.running)
    for f in folders:
        text, count, sync, drop = st.columns([6, 2, 1, 1], vertical_alignment="center")
        text.markdown(f"**{md(f.path)}**  \n{md(describe(f, alive))}")
        count.caption(f"{indexed[f.path]} file{'s' * (indexed[f.path] != 1)} in the library")
        if f.state != "missing" and sync.button(
            "Sync", key=f"sync-{f.path}", help="Sync this folder now"
        ):
            writer.submit("sync", [f.path])
        if drop.button("Stop", key=f"unwatch-{f.path}", help="Stop watching this folder"):
            unwatch(f.path)
    with st.form("watch-folder", border=False, clear_on_submit=True):
        folder = st.text_input("Watch a folder (kept in sync as you edit)", placeholder="~/notes")
        if st.form_submit_button("Watch") and folder.strip():
            watch(folder.strip(), alive)
    recent = list(watching.watcher.recent)[-5:] if watching and watching.watcher else []
    if recent:
        st.caption("Latest changes:  \n" + "  \n".join(md(line) for line in recent))


def watch(folder: str, alive: bool) -> None:
    watch_list = WatchList(settings.home)
    try:
        path = watch_list.add(folder)
    except QuireError as exc:
        st.error(md(str(exc)))
        return
    finally:
        watch_list.close()
    if not alive:  # nothing watches now: at least index it
        writer.submit("sync", [path])
    st.rerun()


def unwatch(folder: str) -> None:
    watch_list = WatchList(settings.home)
    try:
        watch_list.remove(folder)
    finally:
        watch_list.close()
    state.notes.append(
        (
            "info",
            f"Stopped watching {folder}; its documents stay in the library (Remove drops them).",
        )
    )
    st.rerun()


def library_view() -> None:
    st.header("Library")
    add_files("library")
    show_notes()
    progress()
    watched_folders()
    docs = engine.documents()
    if not docs:
        st.caption("No documents yet.")
        return
    last = {}
    for j in writer.jobs():
        for r in j.results:
            last[r.path] = r
    rows = [
        {
            "document": os.path.basename(d.path),
            "folder": os.path.dirname(d.path),
            "type": d.kind,
            "status": last[d.path].status if d.path in last else d.status,
            "pages": d.pages,
            "chunks": d.chunks,
            "reason": d.error,
            "indexed": datetime.fromtimestamp(d.indexed_at).strftime("%Y-%m-%d %H:%M"),
        }
        for d in docs
    ]
    indexed = sum(d.status == "indexed" for d in docs)
    chunks = sum(d.chunks for d in docs)
    st.caption(f"{indexed} indexed, {len(docs) - indexed} failed, {chunks} chunks")
    st.dataframe(rows, hide_index=True, width="stretch")
    paths = [d.path for d in docs]
    chosen = st.selectbox("Document", paths, format_func=os.path.basename)
    left, middle, right = st.columns(3)
    if left.button("Remove", icon=":material/delete:", width="stretch"):
        writer.submit("remove", [chosen])
        st.rerun()
    if middle.button("Re-index", icon=":material/refresh:", width="stretch"):
        writer.submit("reindex", [chosen])
        st.rerun()
    if right.button("Re-index everything", width="stretch"):
        writer.submit("reindex", [])
        st.rerun()
    st.subheader("Related documents")
    try:
        related = engine.related(chosen, k=5)
    except QuireError as exc:
        st.caption(md(str(exc)))
        return
    if not related:
        st.caption("No other document is indexed yet.")
    for r in related:  # similarity: the best passage's cosine to the document's vector
        cosine = r.hits[0].dense
        shown = f"similarity {cosine:.2f} · " if cosine is not None else ""
        st.markdown(f"{shown}**{md(os.path.basename(r.source))}**")


try:
    if state.view == "Chat":
        chat_view()
    else:
        library_view()
except QuireError as exc:  # e.g. the index was built with other settings
    st.error(md(str(exc)))
