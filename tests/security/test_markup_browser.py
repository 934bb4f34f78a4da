"""Issue 11, point 1, in real Chromium: text from a document never becomes active Markdown or
HTML. A note full of images, links and raw HTML pointing at a beacon server on 127.0.0.1 is
uploaded, asked about (quotes mode answers with the note's own sentences), its citation card
and passage opened; the beacon must receive nothing, and the page must show the text as text."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from tests.e2e.test_browser import SLOW, App, browser  # noqa: F401  (fixture)
from tests.helpers import free_port, write

pytestmark = pytest.mark.e2e


class Beacon:
    """An HTTP server that records every request it gets."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hits: list[str] = []
        beacon = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                beacon.hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def hostile_note(port: int) -> str:
    url = f"http://127.0.0.1:{port}"
    return (
        "# Heron notes\n\n"
        f"Herons nest in March ![pixel]({url}/answer.png?leak=secret) near the lake.\n\n"
        f'Herons eat fish <img src="{url}/raw.png"> and frogs at dawn.\n\n'
        f"Herons fly slowly [click here]({url}/link) over the reeds.\n\n"
        f'Herons cost $5 and $6 to watch <iframe src="{url}/frame"></iframe> from hides.\n'
    )


def test_a_hostile_note_makes_the_browser_fetch_nothing(tmp_path, browser):  # noqa: F811
    beacon = Beacon()
    note = write(tmp_path / "files" / "herons.md", hostile_note(beacon.port))
    env = {"QUIRE_EMBEDDER": "fake", "QUIRE_LLM": "fake", "QUIRE_ANSWER_MODE": "quotes"}
    app = App(tmp_path / "home", tmp_path / "streamlit.log", env=env).start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app.url)
        page.locator('input[type="file"]').first.set_input_files([str(note)])
        page.get_by_text("herons.md: added").wait_for(timeout=SLOW)
        box = page.get_by_test_id("stChatInputTextArea")
        for question in ("When do herons nest?", "What do herons eat at dawn?"):
            box.fill(question)
            box.press("Enter")
            page.get_by_test_id("stChatMessage").filter(has_text="herons.md").last.wait_for(
                timeout=SLOW
            )
        for toggle in page.get_by_text("Open in context").all():
            toggle.click()
        page.wait_for_load_state("networkidle")
        time.sleep(2)
        assert beacon.hits == []
        assert page.locator(f"img[src*='127.0.0.1:{beacon.port}']").count() == 0
        shown = page.locator("body").inner_text()
        assert "![pixel]" in shown  # the document's Markdown, as text
    finally:
        app.stop()
        beacon.stop()
