"""What the app keeps for its whole process (Streamlit's resource cache): the services, one
answering lock per chat, the answer models found, the model picked, the background watcher."""

from __future__ import annotations

import threading

import streamlit as st

from ingest.watch.background import BackgroundWatcher
from quire.app.services import ModelPick, Services, open_services


@st.cache_resource(show_spinner="Loading Quire…")
def services() -> Services:
    """One engine, writer, chat store and uploads folder per process, for every session."""
    return open_services()


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
def generator_for(pick: ModelPick):
    """The answer model picked in the sidebar (cached: a GGUF loads once)."""
    return services().generator_for(pick)


@st.cache_resource(show_spinner=False, on_release=lambda w: w and w.stop())
def background_watcher() -> BackgroundWatcher | None:
    """Keeps the watched folders in sync while the app runs, unless a `quire watch` does."""
    return services().background_watcher()
