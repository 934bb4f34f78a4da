"""The Chat page: the chat's messages, the question box, and answering (streamed in, then
shown from the history with their sources)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import streamlit as st

from quire.app.library import add_files, progress, show_notes
from quire.app.resources import answering, generator_for, services
from quire.app.services import ModelPick
from quire.app.sources import show_answer
from quire.chat.chats import Message, answer_data
from quire.chat.view import md
from rag.answer.policy import resolve_mode
from rag.errors import QuireError

state = st.session_state


@dataclass(frozen=True)
class Options:
    """The answer settings chosen in the sidebar."""

    mode: str = "auto"
    pick: ModelPick = ModelPick()
    k: int | None = None
    show_scores: bool = False


def answer_model(pick: ModelPick):
    """The chosen generator, or None (with the reason shown) if the choice is not usable."""
    problem = services().usable(pick)
    if problem:
        st.error(md(problem))
        return None
    return generator_for(pick)


def mode_line(mode: str, pick: ModelPick) -> None:
    """Which answer mode is in use, and why (shown above the chat)."""
    try:
        gen = answer_model(pick) if mode != "quotes" else None
    except QuireError:
        gen = None
    if mode == "quotes" or gen is None:
        st.caption("Answers: quotes only (chosen in Answer settings)")
        return
    used, why = resolve_mode(mode, gen)
    what = "quoted sentences" if used == "quotes" else f"written by {gen.name}"
    why = why if mode == "auto" else "chosen in Answer settings"
    st.caption(f"Answers: {md(what)} · {md(why)}")


def chat_view(options: Options) -> None:
    app = services()
    docs = app.engine.documents()
    if not any(d.status == "indexed" for d in docs) and not app.writer.busy():
        st.markdown(
            "### Your library is empty\n"
            "Drop PDFs, Markdown notes, text or Python files below, or give the path of a "
            "folder of notes. Quire indexes them on this computer; nothing leaves it. Then ask "
            "a question: every answer points to the page it came from."
        )
        add_files("welcome")
    show_notes()
    progress()
    mode_line(options.mode, options.pick)
    chat_id = state.get("chat_id")
    if chat_id is not None:
        for m in app.chats.messages(chat_id):
            with st.chat_message(m.role):
                if m.role == "user":
                    st.markdown(md(m.text))
                else:
                    show_answer(m, options.show_scores)
    question = st.chat_input("Ask about your documents")
    if question:
        if state.get("chat_id") is None:
            state.chat_id = app.chats.create().id
        app.chats.add(state.chat_id, Message("user", question))
        with st.chat_message("user"):
            st.markdown(md(question))
    if state.get("chat_id") is not None and app.chats.unanswered(state.chat_id):
        answer_waiting(state.chat_id, options)
        st.rerun()  # show them from the history: the checked text, with its source cards


def answer_waiting(chat_id: int, options: Options) -> None:
    """Answer the chat's unanswered questions, oldest first. A question typed while another
    was being answered stops that run; the next run answers both, in order. While another
    run still holds the chat (another tab, or a run not yet stopped), wait and look again."""
    app = services()
    lock = answering().setdefault(chat_id, threading.Lock())
    if not lock.acquire(timeout=1):
        st.info("Finishing an earlier answer of this chat first…")
        time.sleep(1)
        return
    try:
        for _ in range(20):  # ids change as answers are slotted in: look again each time
            waiting = app.chats.unanswered(chat_id)
            if not waiting:
                break
            with st.chat_message("assistant"):
                answer_one(chat_id, waiting[0], options)
    finally:
        lock.release()


def answer_one(chat_id: int, q: Message, options: Options) -> None:
    app = services()
    pending = app.writer.pending()
    if pending:
        names = ", ".join(os.path.basename(p) for p in pending)
        st.info(f"Still indexing {md(names)}: this answer cannot use them yet.")
    mode, k = options.mode, options.k
    generator = answer_model(options.pick) if mode != "quotes" else None
    if mode == "llm" and generator is None:
        error = Message("assistant", "No answer model is set up.", {"error": True})
        app.chats.answer(chat_id, q.id, error)
        return
    history = app.chats.history(chat_id, before=q.id)
    try:
        stream = app.engine.ask(q.text, history, mode=mode, k=k, generator=generator)
        if stream.searched != q.text:
            st.caption(f"searched for: {md(stream.searched)}")
        stream_text(stream)
        answer = stream.result()
        data = answer_data(answer)
        data["pending"] = pending
        app.chats.answer(chat_id, q.id, Message("assistant", answer.text, data))
    except QuireError as exc:
        app.chats.answer(chat_id, q.id, Message("assistant", str(exc), {"error": True}))


def stream_text(pieces: Iterable[str]) -> str:
    """Show text as it streams in, escaped as a whole each time (escaping piece by piece would
    miss what spans two pieces, such as "http" then "://"); the text."""
    shown, text = st.empty(), ""
    for piece in pieces:
        text += piece
        shown.markdown(md(text))
    return text
