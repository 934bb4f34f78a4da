"""Quire's app: `make run` (or `streamlit run app.py`). UI only: the engine does the work.

Chat with your documents (answers stream in, citations as cards beside them), and a library
view to add files (drag and drop, or a folder), watch them being indexed, remove, re-index and
find related documents. Conversations are kept in QUIRE_HOME/chats.sqlite3.
"""

from __future__ import annotations

import streamlit as st

from quire.app.chat import Options, chat_view
from quire.app.library import library_view
from quire.app.resources import background_watcher, found_models, services
from quire.app.services import GGUF, SERVER, ModelPick, pick_from
from quire.chat.view import md
from rag.errors import QuireError

MODE_LABELS = {
    "auto": "Automatic",
    "llm": "Written by the model",
    "quotes": "Quotes only",
}

st.set_page_config(page_title="Quire", page_icon=":material/menu_book:", layout="wide")

try:
    app = services()
except QuireError as exc:  # a home this user may not use: say why, nothing else to show
    st.error(md(str(exc)))
    st.stop()
settings, chats = app.settings, app.chats
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
        pick = pick_from(next((m for m in models if m["label"] == picked), None))
        if picked == GGUF:
            pick = ModelPick(GGUF, st.text_input("GGUF path", placeholder="~/models/model.gguf"))
        elif picked == SERVER:
            url = st.text_input("Server URL", placeholder="http://127.0.0.1:8080/v1")
            name = st.text_input("Model name", placeholder="(the server's default)")
            pick = ModelPick(SERVER, url.strip(), name.strip())
        k = st.select_slider(
            "Excerpts",
            ["auto", *range(1, 13)],
            value="auto",
            help="How many passages are retrieved; auto: as many as suit the model.",
        )
        k = None if k == "auto" else k
        show_scores = st.toggle("Show retrieval scores")


options = Options(mode, pick, k, show_scores)
try:
    if state.view == "Chat":
        chat_view(options)
    else:
        library_view()
except QuireError as exc:  # e.g. the index was built with other settings
    st.error(md(str(exc)))
