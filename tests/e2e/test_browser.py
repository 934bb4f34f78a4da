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
# ms, for one thing the app signals (ready, a file indexed, an answer done). Nothing is
# prepared at run time any more (`make install` made the ONNX files): what remains is loading
# the models and answering, 10-40 s on 2 shared cores, a few times that with a core busy.
SLOW = 240_000


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
        self.log_from = 0

    def printed(self, limit: int = 4000) -> str:
        """What the app printed since it was last started (its last `limit` characters)."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self.log_from)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return text[-limit:] or "(nothing)"

    def wait(self, locator, what: str, timeout: float = SLOW) -> None:
        """Wait for `locator` (something the app shows when `what` happened); on timeout, fail
        saying what was awaited, for how long, and what the app printed meanwhile."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        began = time.monotonic()
        try:
            locator.wait_for(timeout=timeout)
        except PlaywrightTimeout:
            raise AssertionError(
                f"waited {time.monotonic() - began:.0f} s for {what}; the app "
                f"({'running' if self.proc and self.proc.poll() is None else 'exited'}) "
                f"printed meanwhile:\n{self.printed()}"
            ) from None

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
            "--server.headless", "true",  # no fileWatcherType: the app's config sets it
            "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        out = open(self.log, "ab")
        self.log_from = out.tell()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
        began = time.monotonic()
        while time.monotonic() - began < 120:
            if self.proc.poll() is not None:
                raise AssertionError(f"the app exited ({self.proc.returncode}):\n{self.printed()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return self
            except OSError:
                time.sleep(0.3)
        raise AssertionError(
            f"waited {time.monotonic() - began:.0f} s for the app's health endpoint; it "
            f"printed meanwhile:\n{self.printed()}"
        )

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
        app.wait(page.get_by_text("Your library is empty"), "the page to show (ready)")
        page.locator('input[type="file"]').first.set_input_files([str(pdf), str(note)])
        app.wait(page.get_by_text("guide.pdf: added"), "guide.pdf to be indexed")
        app.wait(page.get_by_text("bread.md: added"), "bread.md to be indexed")
        assert (app.home / "uploads" / "guide.pdf").read_bytes() == pdf.read_bytes()

        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(QUESTION)
        box.press("Enter")
        card = (
            page.get_by_test_id("stChatMessage")
            .filter(has_text="guide.pdf")
            .filter(has_text="page 3")
        )
        app.wait(card, "the first answer, citing guide.pdf page 3")
        app.wait(page.get_by_text("Open page 3").first, "the citation's Open page 3 toggle")
        page.screenshot(path=str(artifacts / "answer.png"), full_page=True)
        assert "glass frog" in card.inner_text().lower()  # the quote, from page 3

        # A follow-up that leans on the chat is searched for in context, and says so; a
        # new subject in the same chat is searched for as typed.
        box.fill("Where does it live?")
        box.press("Enter")
        app.wait(page.get_by_text("searched for:").first, "the follow-up's 'searched for:'")
        app.wait(
            page.get_by_test_id("stChatMessage").filter(has_text="waterfalls").first,
            "the follow-up's answer (quoting 'waterfalls')",
        )
        box.fill("What does sourdough need?")
        box.press("Enter")
        app.wait(
            page.get_by_test_id("stChatMessage").filter(has_text="bread.md").first,
            "the new subject's answer, citing bread.md",
        )
        assert page.get_by_text("searched for:").count() == 1
        page.screenshot(path=str(artifacts / "follow-ups.png"), full_page=True)
        page.close()

        app.stop()
        app.start()
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app.url)
        app.wait(page.get_by_test_id("stSidebar").get_by_text(QUESTION), "the chat, after restart")
        page.get_by_test_id("stSidebar").get_by_text(QUESTION).click()
        again = (
            page.get_by_test_id("stChatMessage")
            .filter(has_text="guide.pdf")
            .filter(has_text="page 3")
            .first
        )
        app.wait(again, "the restored answer citing guide.pdf page 3")
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
        app.wait(page.get_by_text("watching; last synced"), "the folder to be watched")
        app.wait(page.get_by_text("2 files in the library"), "its 2 files to be indexed")
        # A note saved while the app is open shows up, in the table too, without a click.
        write(notes / "roses.md", "# Roses\n\nPrune the roses in late winter.\n")
        app.wait(page.get_by_text("3 files in the library"), "the saved note to be counted")
        app.wait(page.get_by_text("3 indexed, 0 failed, 3 chunks"), "the table to show it")
        # An unplugged folder is reported, and its documents stay.
        os.rename(notes, tmp_path / "unplugged")
        app.wait(
            page.get_by_text("missing: folder not found (nothing removed)"),
            "the unplugged folder to be reported missing",
        )
        page.screenshot(path=str(artifacts / "watched-missing.png"), full_page=True)
        assert page.get_by_text("3 files in the library").count() == 1
        os.rename(tmp_path / "unplugged", notes)
        app.wait(page.get_by_text("watching; last synced"), "the folder to be watched again")
        page.get_by_text("Chat").first.click()
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("When should I prune the roses?")
        box.press("Enter")
        app.wait(
            page.get_by_test_id("stChatMessage").filter(has_text="roses.md").first,
            "the answer citing the new note roses.md",
        )
    finally:
        app.stop()


def inotify_watches(pid: int) -> int:
    """How many inotify watches process `pid` holds (over all its inotify descriptors)."""
    count = 0
    for fdinfo in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            count += fdinfo.read_text().count("inotify wd:")
        except OSError:
            pass  # closed meanwhile
    return count


def test_the_app_does_not_watch_its_own_source_tree(tmp_path, browser):
    """Streamlit's file watcher would follow every folder of the checkout, .venv included
    (thousands of inotify watches; a queue overflow whenever tests run there; no start at
    all under a low inotify limit). The app's config turns it off: a product does not reload
    itself on save."""
    env = {"QUIRE_EMBEDDER": "fake", "QUIRE_LLM": "fake"}
    app = App(tmp_path / "home", tmp_path / "streamlit.log", env=env).start()
    try:
        page = browser.new_page()
        page.goto(app.url)  # a session: Streamlit starts watching the script's folder now
        app.wait(page.get_by_text("Your library is empty"), "the page to show (ready)")
        time.sleep(2)
        assert inotify_watches(app.proc.pid) < 20, app.printed()
    finally:
        app.stop()
