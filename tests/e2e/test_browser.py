"""The real app in real headless Chromium: `streamlit run app.py` with the bundled models.

Upload a PDF and a note through the file input, wait for indexing, ask a question answered on
page 3 of the PDF, see a citation card naming that PDF and page; restart the app and find the
conversation again. The answer's screenshot is saved in test-artifacts/ (or $QUIRE_ARTIFACTS).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import write
from tests.pdfs import FROG_GUIDE as PAGES
from tests.pdfs import make_pdf

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("QUIRE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUESTION = "Which frog has a translucent belly?"
SLOW = 180_000  # ms: loading both models and answering on 2 shared cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """`streamlit run app.py` on a free port of 127.0.0.1, with its own QUIRE_HOME."""

    def __init__(self, home: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.home, self.log, self.extra_env = home, log, env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> App:
        env = {
            **os.environ,
            "QUIRE_HOME": str(self.home),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
        }
        for name in ("QUIRE_EMBEDDER", "QUIRE_LLM", "QUIRE_LLM_URL", "QUIRE_MODEL"):
            env.pop(name, None)  # the embedded default: bundled models, Chroma on disk
        env.update(self.extra_env)
        cmd = [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.port", str(self.port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"the app exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return self
            except OSError:
                time.sleep(0.3)
        raise AssertionError("the app's health endpoint never answered")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def artifacts() -> Path:
    folder = Path(os.environ.get("QUIRE_ARTIFACTS", ROOT / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_upload_ask_cite_restart(tmp_path, browser, artifacts):
    files = tmp_path / "files"
    pdf = write(files / "guide.pdf", make_pdf(PAGES))
    note = write(files / "bread.md", "# Bread\n\nSourdough needs a starter fed daily.\n")
    app = App(tmp_path / "home", artifacts / "e2e-streamlit.log").start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app.url)
        page.get_by_text("Your library is empty").wait_for(timeout=SLOW)
        page.locator('input[type="file"]').first.set_input_files([str(pdf), str(note)])
        page.get_by_text("guide.pdf: added").wait_for(timeout=SLOW)
        page.get_by_text("bread.md: added").wait_for(timeout=SLOW)
        assert (app.home / "uploads" / "guide.pdf").read_bytes() == pdf.read_bytes()

        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(QUESTION)
        box.press("Enter")
        card = (
            page.get_by_test_id("stChatMessage")
            .filter(has_text="guide.pdf")
            .filter(has_text="page 3")
        )
        card.wait_for(timeout=SLOW)
        page.get_by_text("Open page 3").first.wait_for(timeout=SLOW)
        page.screenshot(path=str(artifacts / "answer.png"), full_page=True)
        assert "glass frog" in card.inner_text().lower()  # the quote, from page 3

        # A follow-up that leans on the chat is searched for in context, and says so; a
        # new subject in the same chat is searched for as typed.
        box.fill("Where does it live?")
        box.press("Enter")
        page.get_by_text("searched for:").first.wait_for(timeout=SLOW)
        page.get_by_test_id("stChatMessage").filter(has_text="waterfalls").first.wait_for(
            timeout=SLOW
        )
        box.fill("What does sourdough need?")
        box.press("Enter")
        page.get_by_test_id("stChatMessage").filter(has_text="bread.md").first.wait_for(
            timeout=SLOW
        )
        assert page.get_by_text("searched for:").count() == 1
        page.screenshot(path=str(artifacts / "follow-ups.png"), full_page=True)
        page.close()

        app.stop()
        app.start()
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app.url)
        page.get_by_test_id("stSidebar").get_by_text(QUESTION).click(timeout=SLOW)
        again = (
            page.get_by_test_id("stChatMessage")
            .filter(has_text="guide.pdf")
            .filter(has_text="page 3")
            .first
        )
        again.wait_for(timeout=SLOW)
        page.screenshot(path=str(artifacts / "after-restart.png"), full_page=True)
    finally:
        app.stop()
        shutil.rmtree(app.home / "chroma", ignore_errors=True)


def test_watched_folder_in_the_library_view(tmp_path, browser, artifacts):
    notes = tmp_path / "notes"
    write(notes / "garden.md", "# Garden\n\nTomatoes want full sun and water every morning.\n")
    write(notes / "kiln" / "firing.md", "# Firing\n\nThe kiln fires stoneware overnight.\n")
    app = App(tmp_path / "home", artifacts / "e2e-watch-streamlit.log").start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app.url)
        page.get_by_text("Library").first.click()
        page.get_by_label("Watch a folder (kept in sync as you edit)").fill(str(notes))
        page.get_by_role("button", name="Watch", exact=True).click()
        page.get_by_text("watching; last synced").wait_for(timeout=SLOW)
        page.get_by_text("2 files in the library").wait_for(timeout=SLOW)
        # A note saved while the app is open shows up, in the table too, without a click.
        write(notes / "roses.md", "# Roses\n\nPrune the roses in late winter.\n")
        page.get_by_text("3 files in the library").wait_for(timeout=SLOW)
        page.get_by_text("3 indexed, 0 failed, 3 chunks").wait_for(timeout=SLOW)
        # An unplugged folder is reported, and its documents stay.
        os.rename(notes, tmp_path / "unplugged")
        page.get_by_text("missing: folder not found (nothing removed)").wait_for(timeout=SLOW)
        page.screenshot(path=str(artifacts / "watched-missing.png"), full_page=True)
        assert page.get_by_text("3 files in the library").count() == 1
        os.rename(tmp_path / "unplugged", notes)
        page.get_by_text("watching; last synced").wait_for(timeout=SLOW)
        page.get_by_text("Chat").first.click()
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("When should I prune the roses?")
        box.press("Enter")
        page.get_by_test_id("stChatMessage").filter(has_text="roses.md").first.wait_for(
            timeout=SLOW
        )
    finally:
        app.stop()
