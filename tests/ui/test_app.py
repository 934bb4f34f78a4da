"""The app driven in-process by Streamlit's AppTest, on the fake backend (hash embedder, a fake
model that quotes excerpt 1), with a real Chroma store in a temporary QUIRE_HOME."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ingest.manifest import Manifest
from tests.pdfs import make_pdf

APP = str(Path(__file__).resolve().parents[2] / "app.py")
NOTE = b"# Bananas\n\nBananas are yellow and rich in potassium.\n"
PAPER = b"Mitochondria make ATP for the cell.\n"


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("QUIRE_HOME", str(home))
    monkeypatch.setenv("QUIRE_EMBEDDER", "fake")
    monkeypatch.setenv("QUIRE_LLM", "fake")
    st.cache_resource.clear()  # one engine per process: a new home needs a new one
    yield home
    st.cache_resource.clear()


def start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def indexed(home: Path, n: int, timeout: float = 30) -> list:
    m = Manifest(home / "manifest.sqlite3")
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            docs = m.documents()
            if len(docs) >= n:
                return docs
            time.sleep(0.05)
        raise AssertionError(f"only {len(m.documents())} of {n} documents indexed")
    finally:
        m.close()


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    kinds = {"md": "text/markdown", "txt": "text/plain", "pdf": "application/pdf"}
    at.file_uploader[0].set_value([(n, d, kinds[n.rsplit(".", 1)[-1]]) for n, d in files]).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    """What the elements show: Markdown escapes and HTML entities undone."""
    import html
    import re

    raw = "\n".join(str(e.value) for e in elements).replace("\u2060", "")  # md's joiners
    return html.unescape(re.sub(r"\\([^\sA-Za-z0-9])", r"\1", raw))


def test_empty_library_explains_what_to_do(home):
    at = start()
    assert "Your library is empty" in texts(at.markdown)
    assert at.file_uploader and at.text_input[0].label == "Or index a folder on this computer"


def test_upload_index_ask_and_see_a_citation_card(home):
    at = upload(start(), ("../../etc/bananas.md", NOTE), ("paper.txt", PAPER))
    docs = indexed(home, 2)
    assert sorted(Path(d.path).name for d in docs) == ["bananas.md", "paper.txt"]
    assert all(Path(d.path).parent == home / "uploads" for d in docs)  # ../../ did not escape
    assert not (home.parent / "etc").exists()
    at.run()
    assert "bananas.md: added" in texts(at.caption)
    at.chat_input[0].set_value("Bananas are yellow and rich in potassium").run()
    assert not at.exception, at.exception
    user, assistant = at.chat_message
    assert "Bananas are yellow" in texts(user.markdown)
    shown = texts(assistant.markdown)
    assert "Bananas are yellow and rich in potassium [1]" in shown
    assert "[1] **bananas.md** · lines 1-3 · Bananas" in shown
    assert "<mark>Bananas are yellow and rich in potassium.</mark>" in shown
    at.toggle(key=[t.key for t in at.toggle if t.key and t.key.startswith("open-")][0]).set_value(
        True
    ).run()
    assert "<mark>Bananas are yellow" in texts(at.markdown) and not at.exception


def test_a_pdf_citation_names_its_page_and_opens_it(home):
    pages = ["Cover page of the guide.", "Installing the pump.", "The filter is cleaned monthly."]
    at = upload(start(), ("guide.pdf", make_pdf(pages)))
    indexed(home, 1)
    at.run().chat_input[0].set_value("The filter is cleaned monthly").run()
    shown = texts(at.chat_message[1].markdown)
    assert "[1] **guide.pdf** · page 3" in shown
    [toggle] = [t for t in at.toggle if t.label == "Open page 3"]
    toggle.set_value(True).run()
    assert not at.exception and len(at.get("image")) == 1  # the page, rendered
    assert "<mark>The filter is cleaned monthly.</mark>" in texts(at.markdown)


def test_duplicate_upload_is_recognised(home):
    at = upload(start(), ("a.md", NOTE))
    indexed(home, 1)
    at.sidebar.radio[0].set_value("Library").run()
    at = upload(at, ("a.md", NOTE), ("copy.md", NOTE))
    assert "already in your library as a.md" in texts(at.info)
    assert [p.name for p in (home / "uploads").iterdir()] == ["a.md"]


def test_refusal_looks_like_one(home):
    at = upload(start(), ("a.md", NOTE))
    indexed(home, 1)
    at.run().chat_input[0].set_value("quantum chromodynamics on a lattice").run()
    warning = texts(at.warning)
    assert "Not in your documents" in warning and "quantum chromodynamics" in warning
    assert "bananas" in texts(at.chat_message[1].markdown).lower()  # the closest passage


def test_question_while_indexing_says_what_it_could_not_use(home, monkeypatch):
    at = upload(start(), ("a.md", NOTE))
    indexed(home, 1)
    from quire.chat.jobs import Writer

    monkeypatch.setattr(Writer, "pending", lambda self: [str(home / "uploads" / "big.pdf")])
    at.run().chat_input[0].set_value("Bananas are yellow and rich in potassium").run()
    assert "not used: big.pdf" in texts(at.chat_message[1].caption)


def test_chats_are_kept_renamed_and_deleted_across_a_restart(home):
    at = upload(start(), ("a.md", NOTE))
    indexed(home, 1)
    at.run().chat_input[0].set_value("Bananas are yellow and rich in potassium").run()
    st.cache_resource.clear()  # a restart: new engine, new chat store, new session
    at = start()
    [chat] = [b for b in at.sidebar.button if b.key and b.key.startswith("chat-")]
    assert chat.label == "Bananas are yellow and rich in potassium"
    chat.click().run()
    assert "[1] **a.md**" in texts(at.chat_message[1].markdown)
    at.sidebar.text_input(key="chat_title").set_value("Fruit").run()
    [b for b in at.sidebar.button if b.label == "Rename"][0].click().run()
    assert [b.label for b in at.sidebar.button if b.key and b.key.startswith("chat-")] == ["Fruit"]
    [b for b in at.sidebar.button if b.label == "New chat"][0].click().run()
    assert len([b for b in at.sidebar.button if b.key and b.key.startswith("chat-")]) == 2
    [b for b in at.sidebar.button if b.label == "Delete"][0].click().run()
    assert [b.label for b in at.sidebar.button if b.key and b.key.startswith("chat-")] == ["Fruit"]


def test_library_view_status_failure_related_and_remove(home, tmp_path):
    at = upload(start(), ("a.md", NOTE), ("b.txt", PAPER), ("broken.pdf", b"%PDF-1.4 not really"))
    indexed(home, 3)
    at.sidebar.radio[0].set_value("Library").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    status = dict(zip(table["document"], table["status"]))
    assert status["a.md"] == "added" and status["broken.pdf"] == "failed"
    reason = dict(zip(table["document"], table["reason"]))["broken.pdf"]
    assert reason and "broken.pdf: failed" in texts(at.error)
    at.selectbox[0].set_value(str(home / "uploads" / "a.md")).run()
    assert re.search(r"similarity [0-9.]+ · \*\*b.txt\*\*", texts(at.markdown))  # related
    [b for b in at.button if b.label == "Remove"][0].click().run()
    deadline = time.monotonic() + 30
    while (home / "uploads" / "a.md").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    assert "a.md" not in list(at.dataframe[0].value["document"])


def test_folder_sync_by_path_and_its_error(home, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_bytes(NOTE)
    at = start()
    at.text_input[0].set_value(str(notes))
    [b for b in at.button if b.label == "Index folder"][0].click().run()
    assert [Path(d.path).name for d in indexed(home, 1)] == ["n.md"]
    at.sidebar.radio[0].set_value("Library").run()
    at.text_input[0].set_value(str(tmp_path / "missing"))
    [b for b in at.button if b.label == "Index folder"][0].click().run()
    deadline = time.monotonic() + 30
    while "failed" not in texts(at.error) and time.monotonic() < deadline:
        time.sleep(0.1)
        at.run()
    assert "missing" in texts(at.error) and "failed" in texts(at.error)


def test_watched_folder_kept_in_sync_by_the_app_with_its_state(home, tmp_path, monkeypatch):
    monkeypatch.setenv("QUIRE_WATCH_QUIET", "0.2")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_bytes(NOTE)
    at = start()
    at.sidebar.radio[0].set_value("Library").run()
    box = [t for t in at.text_input if t.label.startswith("Watch a folder")][0]
    box.set_value(str(tmp_path / "nowhere"))
    [b for b in at.button if b.label == "Watch"][0].click().run()
    assert "not a folder" in texts(at.error)
    box = [t for t in at.text_input if t.label.startswith("Watch a folder")][0]
    box.set_value(str(notes))
    [b for b in at.button if b.label == "Watch"][0].click().run()
    assert not at.exception, at.exception
    assert [Path(d.path).name for d in indexed(home, 1)] == ["n.md"]  # the app's watcher synced
    (notes / "later.md").write_bytes(b"# Later\n\nWritten while the app was open.\n")
    indexed(home, 2)  # seen through the file-system events, no click
    at.run()
    shown = texts(at.markdown)
    assert str(notes) in shown and "watching; last synced" in shown
    assert "Kept in sync by this app" in texts(at.caption)
    assert "2 files in the library" in texts(at.caption)
    assert any(t.name == "quire-watch" and t.is_alive() for t in threading.enumerate())
    [b for b in at.button if b.label == "Stop"][0].click().run()
    assert "documents stay" in texts(at.info)
    assert str(notes) not in texts(at.markdown) and len(indexed(home, 2)) == 2
    st.cache_resource.clear()  # the app's resources released: its watcher stops
    deadline = time.monotonic() + 10
    while any(t.name == "quire-watch" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the app's watcher thread did not stop"
        time.sleep(0.05)


def test_a_missing_gguf_file_is_a_clear_error(home):
    at = upload(start(), ("a.md", NOTE))
    indexed(home, 1)
    at.run()
    model = [r for r in at.sidebar.selectbox if r.label == "Model"][0]
    model.set_value("GGUF file").run()
    at.sidebar.text_input[-1].set_value("/nowhere/model.gguf").run()
    at.chat_input[0].set_value("Bananas are yellow and rich in potassium").run()
    assert "No GGUF file at '/nowhere/model.gguf'" in texts(at.error)


def test_quotes_mode_and_scores(home):
    at = upload(start(), ("a.md", NOTE))
    indexed(home, 1)
    at.run()
    [r for r in at.sidebar.radio if r.label == "Answer mode"][0].set_value("quotes").run()
    [t for t in at.sidebar.toggle if t.label == "Show retrieval scores"][0].set_value(True).run()
    at.chat_input[0].set_value("Bananas are yellow and rich in potassium").run()
    shown = texts(at.chat_message[1].markdown)
    assert "Bananas are yellow and rich in potassium. [1]" in shown and "score" in shown


def test_a_question_sent_while_another_is_answered_is_not_lost(home):
    """Typing a question while an answer streams stops that run (Streamlit reruns the script),
    leaving the first question stored without its answer. The next run answers both, in order."""
    from quire.chat.chats import ChatStore, Message

    at = upload(start(), ("a.md", NOTE))
    indexed(home, 1)
    store = ChatStore(home / "chats.sqlite3")
    chat = store.create()
    store.add(chat.id, Message("user", "Bananas are yellow and rich in potassium"))  # interrupted
    at.session_state["chat_id"] = chat.id
    at.run()
    at.chat_input[0].set_value("Are bananas rich in potassium?").run()
    assert not at.exception, at.exception
    msgs = store.messages(chat.id)
    assert [m.role for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[0].text.startswith("Bananas") and msgs[2].text.startswith("Are bananas")
    assert all("Bananas are yellow" in m.text for m in msgs[1::2])
    assert len(at.chat_message) == 4


def test_the_mode_in_use_and_a_follow_ups_search_are_shown(home):
    at = upload(start(), ("a.md", NOTE), ("paper.txt", PAPER))
    indexed(home, 2)
    at.run()
    assert "Answers:" in texts(at.caption)
    [r for r in at.sidebar.radio if r.label == "Answer mode"][0].set_value("quotes").run()
    assert "quotes only" in texts(at.caption)
    at.chat_input[0].set_value("Bananas are yellow and rich in potassium").run()
    at.chat_input[0].set_value("and what colour are they?").run()
    assert not at.exception, at.exception
    assert "searched for: Bananas are yellow" in texts(at.caption)


def test_document_markdown_is_shown_as_text_never_rendered(home):
    """A note's image would make the browser fetch a URL; its heading, math and links must not
    render either, in the answer (quotes mode shows the document's own sentence) or its card."""
    note = (
        b"# Leak\n\nThe tracking pixel is ![x](http://127.0.0.1:9/leak.png?q=secret) in the note."
        b"\n\nPrices were $5 and $6 then.\n"
    )
    at = upload(start(), ("leak.md", note))
    indexed(home, 1)
    at.run()
    [r for r in at.sidebar.radio if r.label == "Answer mode"][0].set_value("quotes").run()
    at.chat_input[0].set_value("What is the tracking pixel in the note?").run()
    assert not at.exception, at.exception
    shown = [str(e.value) for e in at.markdown]
    assert any("tracking pixel" in s for s in shown)
    for s in shown:
        assert "![x](" not in s, s  # escaped (\!\[x\]\() or inside one line of escaped HTML
        if s.startswith("<div"):
            assert "\n" not in s, s  # a blank line would end the HTML block: Markdown again


def test_names_questions_and_model_ids_reach_streamlit_escaped(home, tmp_path, monkeypatch):
    """Issue 24: text the app did not write (a file's name, a question, the model id a local
    server reports) is passed through md, which the browser test shows fetches nothing."""
    from quire.chat.view import md
    from rag.answer import models
    from tests.unit.test_models import serving

    image = "![s](http://127.0.0.1:9/leak.png)"
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "![n](https:127.0.0.1:9).md").write_bytes(NOTE)
    with serving({"GET /v1/models": (200, {"data": [{"id": image}]})}) as (port, _):
        real = models.discover
        monkeypatch.setattr(models, "discover", lambda: real(roots={}, ports={port: "vLLM"}))
        st.cache_data.clear()  # the models found are kept for a minute
        at = start()
        at.text_input[0].set_value(str(notes))
        [b for b in at.button if b.label == "Index folder"][0].click().run()
        indexed(home, 1)
        at.run().chat_input[0].set_value(f"Bananas {image}").run()
        model = [r for r in at.sidebar.selectbox if r.label == "Model"][0]
        model.set_value(f"{image} (vLLM :{port})").run()  # options are plain text, not Markdown
    assert not at.exception, at.exception
    name = "![n](https:127.0.0.1:9).md"
    captions = [str(c.value) for c in at.caption]
    assert any(f"{md(name)}: added" in c for c in captions)
    assert any(f"written by {md(image)} at http" in c for c in captions)
    [title] = [b.label for b in at.sidebar.button if b.key and b.key.startswith("chat-")]
    assert title == md(f"Bananas {image}") and "written by " + image in texts(at.caption)
    shown = [str(e.value) for e in [*at.markdown, *at.caption, *at.error, *at.info]]
    assert not [s for s in shown if "![" in s or "](" in s]
