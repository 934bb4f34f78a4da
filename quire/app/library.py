"""The Library page: add files or a folder, indexing progress, watched folders, the documents
table, and for a chosen document: remove, re-index, related documents."""

from __future__ import annotations

import os
import time

import streamlit as st

from ingest.formats import labels, suffixes
from ingest.lock import read_generation
from ingest.watch.folders import describe
from quire.app.resources import background_watcher, services
from quire.chat import view
from quire.chat.jobs import FAILED, RUNNING
from quire.chat.view import md
from rag.errors import QuireError

SUFFIXES = suffixes()
state = st.session_state


def add_files(key: str) -> None:
    """Drag and drop, or a folder path; the writer indexes in the background."""
    app = services()
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
            saved = app.uploads.save(f.name, f.getvalue())
        except OSError as exc:
            state.notes.append(("error", f"{f.name} could not be saved: {exc.strerror or exc}"))
            continue
        if saved.duplicate:
            state.notes.append(("info", f"{f.name}: already in your library as {saved.path.name}"))
        paths.append(str(saved.path.resolve()))
    if paths:
        app.writer.submit("ingest", paths)
    with st.form(f"folder-{key}", clear_on_submit=False, border=False):
        folder = st.text_input("Or index a folder on this computer", placeholder="~/notes")
        if st.form_submit_button("Index folder") and folder.strip():
            app.writer.submit("sync", [os.path.abspath(os.path.expanduser(folder.strip()))])


def show_notes() -> None:
    for kind, text in state.notes:
        (st.error if kind == "error" else st.info)(md(text))
    state.notes = []


@st.fragment(run_every=1.0)
def progress() -> None:
    """Indexing progress, per file, refreshed every second while the writer is busy."""
    app = services()
    jobs = [j for j in app.writer.jobs() if j.active or time.time() - j.finished < 30]
    busy = any(j.active for j in jobs)
    if state.get("was_busy") and not busy:  # something finished: refresh the whole page
        state.was_busy = False
        st.rerun()
    state.was_busy = busy
    for j in jobs:
        total = max(j.total, len(j.results), 1)
        title = view.job_title(j)
        if j.state == FAILED:
            st.error(f"{title} failed: {md(j.error)}")
            continue
        if j.note and j.active and not j.results:
            st.info(f"{title}: {md(j.note)}")
        done = len(j.results)
        label = f"{title}: {done} of {total}" if j.active else f"{title}: done"
        st.progress(done / total if j.state == RUNNING else (1.0 if not j.active else 0.0), label)
        for failed, line in map(view.result_line, j.results):
            (st.error if failed else st.caption)(line)


@st.fragment(run_every=2.0)
def watched_folders() -> None:
    """The watched folders and what is happening to each, refreshed every two seconds."""
    app = services()
    watching = background_watcher()
    st.subheader("Watched folders")
    generation = read_generation(app.settings.home)  # any process's change to the index
    if state.setdefault("seen_generation", generation) != generation:
        state.seen_generation = generation
        st.rerun()  # the whole page: the documents table below shows the change too
    folders, watcher, indexed = app.watched()
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
            app.writer.submit("sync", [f.path])
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
    app = services()
    try:
        app.watch(folder, alive)
    except QuireError as exc:
        st.error(md(str(exc)))
        return
    st.rerun()


def unwatch(folder: str) -> None:
    app = services()
    app.unwatch(folder)
    note = f"Stopped watching {folder}; its documents stay in the library (Remove drops them)."
    state.notes.append(("info", note))
    st.rerun()


def library_view() -> None:
    app = services()
    st.header("Library")
    add_files("library")
    show_notes()
    progress()
    watched_folders()
    docs = app.engine.documents()
    if not docs:
        st.caption("No documents yet.")
        return
    rows = view.library_rows(docs, app.writer.jobs())
    indexed = sum(d.status == "indexed" for d in docs)
    chunks = sum(d.chunks for d in docs)
    st.caption(f"{indexed} indexed, {len(docs) - indexed} failed, {chunks} chunks")
    st.dataframe(rows, hide_index=True, width="stretch")
    paths = [d.path for d in docs]
    chosen = st.selectbox("Document", paths, format_func=os.path.basename)
    left, middle, right = st.columns(3)
    if left.button("Remove", icon=":material/delete:", width="stretch"):
        app.writer.submit("remove", [chosen])
        st.rerun()
    if middle.button("Re-index", icon=":material/refresh:", width="stretch"):
        app.writer.submit("reindex", [chosen])
        st.rerun()
    if right.button("Re-index everything", width="stretch"):
        app.writer.submit("reindex", [])
        st.rerun()
    st.subheader("Related documents")
    try:
        related = app.engine.related(chosen, k=5)
    except QuireError as exc:
        st.caption(md(str(exc)))
        return
    if not related:
        st.caption("No other document is indexed yet.")
    for r in related:  # similarity: the best passage's cosine to the document's vector
        cosine = r.hits[0].dense
        shown = f"similarity {cosine:.2f} · " if cosine is not None else ""
        st.markdown(f"{shown}**{md(os.path.basename(r.source))}**")
