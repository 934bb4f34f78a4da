"""Issue 24, finding 1, in real Chromium: what a document, a file name, an archive or a model
controls is shown as text everywhere in the app. A folder named like a Markdown image, holding
a note named like one, a .docx refused for a zip member named like one and a missing folder,
is indexed from the Library view; a question written like one is asked; the note is opened in
context far into the file, next to a bare URL; a GGUF model named like one is picked in the
sidebar. Each image points at a listener on 127.0.0.1: it must never be connected to (an
`https:` image makes the browser open a TLS connection, not an HTTP request), and no element
may point at it. A second test renders the same kind of text through `md` in every element
the app uses, and checks that each shows exactly the text and nothing else."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.e2e.test_browser import ROOT, SLOW, App, browser  # noqa: F401  (fixture)
from tests.gguf import llama_meta, write_gguf
from tests.helpers import free_port, write

pytestmark = pytest.mark.e2e
JOINER = "\u2060"  # md's invisible breaker of URLs, shortcodes and arrows


class Listener:
    """A TCP server on 127.0.0.1 that records every connection, whatever protocol it speaks."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.hits: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    self.hits.append(conn.recv(200))
                except OSError:
                    self.hits.append(b"")

    def stop(self) -> None:
        self.sock.close()


def refused_docx(member: str) -> bytes:
    """A Word file with a part named `member`, declared to inflate to 100 MB: refused as a
    zip bomb, with the part's name in the reason."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
        z.writestr(member, b"\0" * 1000)
    data = bytearray(buf.getvalue())
    name, at = member.encode(), data.find(b"PK\x01\x02")
    while at != -1:  # the central directory's entries: signature, ..., size at 24, name at 46
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + length] == name:
            struct.pack_into("<I", data, at + 24, 100 * 2**20)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


def long_note(url: str) -> str:
    """A note whose answer sentence is far enough in for the context view to clip before it."""
    filler = "".join(f"Line {i} of the ledger lists nothing of note today.\n" for i in range(45))
    return (
        f"# Herons\n\n{filler}\nSee {url}/context or www.example.org for maps.\n"
        "Herons nest in March near the lake.\n"
    )


def assert_nothing_fetched(page, listener: Listener, step: str) -> None:
    page.wait_for_load_state("networkidle")
    time.sleep(1)  # an image is requested once it is laid out
    assert listener.hits == [], f"{step}: the browser connected to {listener.port}"
    port = f":{listener.port}"
    for attr in ("src", "href", "srcset", "poster", "data"):
        found = page.locator(f"[{attr}*='{port}']").count()
        assert found == 0, f"{step}: {found} element(s) with {attr} pointing at {port}"


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the selectbox `label`; again if a rerun closed its list under the click."""
    end = time.monotonic() + SLOW / 1000
    while True:
        page.get_by_test_id("stSelectbox").filter(has_text=label).click()
        try:
            page.get_by_role("option").filter(has_text=option).click(timeout=5000)
            return
        except PlaywrightTimeout:
            assert time.monotonic() < end, f"{option!r} is not offered in {label}"
            page.keyboard.press("Escape")


def shown(page) -> str:
    return page.locator("body").inner_text().replace(JOINER, "")


def test_names_reasons_questions_and_models_are_shown_as_text(tmp_path, browser):  # noqa: F811
    listener = Listener()
    image = f"![x](https:127.0.0.1:{listener.port})"  # a file name cannot hold "//"
    folder = tmp_path / f"![f](https:127.0.0.1:{listener.port})"
    write(folder / f"{image}.md", long_note(f"http://127.0.0.1:{listener.port}"))
    write(folder / "plain.md", "# Plain\n\nPlain notes about garden tools and sheds.\n")
    member = f"![p](http://127.0.0.1:{listener.port}/reason.png)"
    write(folder / "report.docx", refused_docx(member))
    user = tmp_path / "user"  # the app's HOME: ~/models holds the model it finds
    model = f"![g](https:127.0.0.1:{listener.port})"
    write_gguf(user / "models" / f"{model}.gguf", llama_meta(model))
    env = {"QUIRE_EMBEDDER": "fake", "QUIRE_LLM": "fake", "QUIRE_ANSWER_MODE": "quotes"}
    app = App(tmp_path / "home", tmp_path / "streamlit.log", env={**env, "HOME": str(user)})
    app.start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app.url)
        page.get_by_text("Your library is empty").wait_for(timeout=SLOW)
        page.get_by_text("Library", exact=True).first.click()
        box = page.get_by_label("Or index a folder on this computer")
        page.get_by_text("No documents yet").wait_for(timeout=SLOW)
        expect(box).to_have_count(1, timeout=SLOW)  # the empty chat view's own box is gone
        box.fill(str(folder))
        page.get_by_role("button", name="Index folder").click()
        page.get_by_text("report.docx: failed").wait_for(timeout=SLOW)
        page.get_by_text("plain.md: added").wait_for(timeout=SLOW)
        assert_nothing_fetched(page, listener, "indexing a folder")
        text = shown(page)
        assert f"{image}.md: added" in text and f"part '{member}' inflates" in text
        assert f"Syncing {folder.name}: done" in text
        box.fill(str(tmp_path / f"![m](https:127.0.0.1:{listener.port})"))
        page.get_by_role("button", name="Index folder").click()
        page.get_by_text("folder does not exist").wait_for(timeout=SLOW)
        assert_nothing_fetched(page, listener, "indexing a missing folder")

        page.get_by_text("Chat", exact=True).first.click()
        ask = page.get_by_test_id("stChatInputTextArea")
        question = f"Where do the maps live {model}?"
        ask.fill(question)
        ask.press("Enter")
        page.get_by_test_id("stChatMessage").nth(1).wait_for(timeout=SLOW)
        ask.fill("Herons nest in March near the lake")
        ask.press("Enter")
        toggle = page.get_by_test_id("stChatMessage").nth(3).get_by_text("Open in context")
        toggle.wait_for(timeout=SLOW)
        maps = page.get_by_text("for maps")  # in passages already shown, then in the context
        before = maps.count()
        toggle.click()
        expect(maps).to_have_count(before + 1, timeout=SLOW)
        assert_nothing_fetched(page, listener, "asking, and opening the note in context")
        text = shown(page)
        assert question in text  # the chat's title in the sidebar, and the message
        assert f"{image}.md" in text and f"See http://127.0.0.1:{listener.port}/context" in text

        page.get_by_text("Answer settings", exact=True).click()
        page.get_by_text("Automatic", exact=True).click()
        page.get_by_text("written by quoting fake").wait_for(timeout=SLOW)  # rerun done
        choose(page, "Model", model)
        page.get_by_text(re.compile(r"written by .*gguf")).wait_for(timeout=SLOW)
        assert_nothing_fetched(page, listener, "choosing a model")
        assert f"written by {model}.gguf" in shown(page)
    finally:
        app.stop()
        listener.stop()


# --- md, in every element the app renders text with ---------------------------------------

SCRIPT = """
import json, sys
import streamlit as st
from quire.chat.view import md

texts = json.loads(sys.argv[1])
png = bytes.fromhex(sys.argv[2])
for i, t in enumerate(texts):
    for kind in ("markdown", "caption", "error", "info", "warning", "progress", "button",
                 "toggle", "expander", "status", "image", "stream"):
        with st.container(key=f"t{i}-{kind}"):
            if kind == "progress":
                st.progress(0.5, md(t))
            elif kind in ("button", "toggle"):
                getattr(st, kind)(md(t), key=f"w{i}-{kind}")
            elif kind == "expander":
                st.expander(md(t)).write("inside")
            elif kind == "status":
                st.status(md(t), state="complete").write("inside")
            elif kind == "image":
                st.image(png, caption=md(t))
            elif kind == "stream":
                box, so_far = st.empty(), ""
                for ch in t:  # as the app streams an answer: escaped as a whole each time
                    so_far += ch
                    box.markdown(md(so_far))
            else:
                getattr(st, kind)(md(t))
"""

# A 1x1 PNG, for st.image's caption.
PNG = (
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c63f8ffff3f0005fe02fea7d6a4c90000000049454e44ae426082"
)


def hostile_texts(port: int) -> list[str]:
    url = f"http://127.0.0.1:{port}"
    return [
        f"![x](https:127.0.0.1:{port}).md",
        f"![p]({url}/image.png) and [a link]({url}/link) and <{url}/angle>",
        f'<img src="{url}/raw.png"> <a href="{url}/a">a</a> &amp; &copy; <!-- c -->',
        f"bare {url}/bare, WWW.example.org, (www.example.org) and me@example.org",
        ":smile: :material/home: :streamlit: :red[red] :blue-background[b] :help[tip]",
        "$x^2$ and $$y$$ cost $5, \\(z\\)",
        "# heading\n- item\n1. one\n2) two\n> quote\n    code\n\n    more code\n---\n***",
        "a -> b <- c -- d >= e <= f ~= g <-> h",
        "~~strike~~ **bold** _it_ `code` [^1] | a | b |\n|---|---|",
        f"![r][ref] [ref]\n\n[ref]: {url}/ref.png",
        "C:\\Users\\x\\notes.md ends with a backslash\\",
    ]


def flat(text: str) -> str:
    return " ".join(text.replace(JOINER, "").split())


def test_md_shows_exactly_the_text_in_every_element(tmp_path, browser):  # noqa: F811
    listener = Listener()
    texts = hostile_texts(listener.port)
    script = write(tmp_path / "page.py", SCRIPT)
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
        "--", json.dumps(texts), PNG,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(tmp_path / "streamlit.log", "ab") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < end and proc.poll() is None, "streamlit did not start"
                time.sleep(0.3)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        last = f".st-key-t{len(texts) - 1}-stream, [data-testid='stException']"
        page.locator(last).first.wait_for(timeout=SLOW)
        assert page.get_by_test_id("stException").count() == 0, page.inner_text("body")
        assert_nothing_fetched(page, listener, "rendering")
        problems = []
        for i, text in enumerate(texts):
            for box in page.locator(f"[class*='st-key-t{i}-']").all():
                kind = re.search(rf"st-key-t{i}-(\w+)", box.get_attribute("class")).group(1)
                found = box.evaluate(
                    """el => [...el.querySelectorAll(
                        'a, img, svg.katex, .katex, span[role=img], h1, h2, h3, h4, h5, h6, ul,'
                        + ' ol, blockquote, pre, code, table, del, strong, em, hr, sup,'
                        + ' .stMarkdownColoredText, .stMarkdownBadge, .stMarkdownColoredBackground,'
                        + ' streamlit-help-icon'
                    )].filter(e => !(e.tagName === 'IMG' && e.src.includes('/media/')))
                      .map(e => e.tagName + ' ' + (e.getAttribute('href') || ''))"""
                )
                got = flat(box.inner_text())
                if found or flat(text) not in got:
                    problems.append(f"{kind} #{i}: {found} {got!r}")
        assert problems == []
    finally:
        proc.terminate()
        proc.wait(20)
        listener.stop()
