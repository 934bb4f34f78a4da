"""Peak memory of the app with both bundled models loaded and used.

    .venv/bin/python benchmarks/app_memory.py

Starts `streamlit run app.py` on a fresh QUIRE_HOME, uploads a PDF and a note in headless
Chromium, asks one question in llm mode (so the embedder and the GGUF model are both loaded and
used), then reads the server process's VmRSS and VmHWM from /proc.
"""

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.test_browser import ARGS, CHROMIUM, PAGES, QUESTION, SLOW, App  # noqa: E402
from tests.helpers import write  # noqa: E402
from tests.pdfs import make_pdf  # noqa: E402


def status(pid: int) -> dict:
    with open(f"/proc/{pid}/status") as f:
        return {k: v.strip() for k, v in (line.split(":", 1) for line in f if ":" in line)}


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="quire-appmem-"))
    pdf = write(tmp / "files" / "guide.pdf", make_pdf(PAGES))
    note = write(tmp / "files" / "bread.md", "# Bread\n\nSourdough needs a starter.\n")
    app = App(tmp / "home", tmp / "app.log").start()
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = b.new_page()
            page.goto(app.url)
            page.get_by_text("Your library is empty").wait_for(timeout=SLOW)
            page.locator('input[type="file"]').first.set_input_files([str(pdf), str(note)])
            page.get_by_text("guide.pdf: added").wait_for(timeout=SLOW)
            box = page.get_by_test_id("stChatInputTextArea")
            box.fill(QUESTION)
            box.press("Enter")
            page.get_by_test_id("stChatMessage").filter(has_text="page 3").wait_for(timeout=SLOW)
            b.close()
        s = status(app.proc.pid)
        print(f"app after upload and one llm answer: VmRSS {s['VmRSS']}, peak VmHWM {s['VmHWM']}")
    finally:
        app.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
