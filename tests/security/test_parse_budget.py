"""Issue 24, point 2: one file gets one time budget for all its pages, a file cut short is
indexed in part and says so (and is not read again until it changes or the limit is raised),
and Tesseract dies with the parse worker."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest

from ingest.pages import ocr
from ingest.sandbox import Sandbox
from rag.errors import LoadError
from tests.helpers import write
from tests.pdfs import make_pdf, make_scanned_pdf
from tests.security.hostile import many_pages_pdf, many_scanned_pages_pdf

needs_ocr = pytest.mark.skipif(not ocr.available(), reason="Tesseract missing: run make install")

GOOD = "# Owls\n\nBarn owls hunt at night over open fields.\n"


def page_texts(n: int) -> list[str]:
    return [
        f"Page {i}. The glass frog number {i} has a translucent belly." for i in range(1, n + 1)
    ]


@pytest.fixture(scope="module")
def scan12() -> bytes:
    return make_scanned_pdf(page_texts(12))  # about 0.5 s of OCR a page here: 6 s in all


def by_name(report) -> dict:
    return {Path(f.path).name: f for f in report.files}


@needs_ocr
def test_a_scan_gets_one_time_budget_for_all_its_pages(scan12):
    """Before: the clock restarted after every OCR'd page (12 pages took 6 s under a 3 s
    limit; 20,000 would have taken hours)."""
    sandbox = Sandbox(seconds=3)
    try:
        sandbox.load("warm.md", b"# a\n\nb\n")  # the worker's start is not the file's time
        began = time.monotonic()
        doc = sandbox.load("scan.pdf", scan12)
        took = time.monotonic() - began
    finally:
        sandbox.close()
    assert took < 3.5
    read = sum(1 for p in doc.pages if p.strip())
    assert 1 <= read < 12
    assert doc.partial == (
        f"first {read} of 12 pages indexed; the rest skipped: time limit of 3 s "
        "(QUIRE_PARSE_SECONDS)"
    )
    assert doc.cut_by == "seconds" and doc.notes[0] == doc.partial
    assert all(f"Page {i}." in doc.pages[i - 1] for i in range(1, read + 1))


@needs_ocr
def test_twenty_thousand_scanned_pages_in_three_megabytes_stop_at_the_budget():
    """The issue's example: 20,000 pages would have held the write lock for about 7.5 hours."""
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(make_pdf(["A page of a long scanned report on glass frogs."]))
    image = source[0].render(scale=100 / 72).to_pil().convert("L")
    source.close()
    data = many_scanned_pages_pdf(20_000, image.tobytes(), *image.size)
    assert len(data) < 4 * 2**20
    sandbox = Sandbox(seconds=10)
    try:
        sandbox.load("warm.md", b"# a\n\nb\n")
        began = time.monotonic()
        doc = sandbox.load("report.pdf", data)
        took = time.monotonic() - began
    finally:
        sandbox.close()
    assert took < 10.5
    assert doc.partial.startswith("first ") and doc.partial.endswith(
        " of 20,000 pages indexed; the rest skipped: time limit of 10 s (QUIRE_PARSE_SECONDS)"
    )
    assert "glass frogs" in doc.pages[0]


@needs_ocr
def test_a_file_cut_short_is_read_again_only_when_it_changes_or_the_limit_is_raised(
    tmp_path, make_engine, scan12, monkeypatch
):
    folder = tmp_path / "docs"
    scan = write(folder / "scan.pdf", scan12)
    write(folder / "owls.md", GOOD)
    engine = make_engine(parse_seconds=3)
    first = by_name(engine.ingest([str(folder)]))["scan.pdf"]
    assert first.status == "added" and first.chunks > 0
    partial = first.notes[0]
    assert partial.startswith("first ") and partial.endswith(
        "of 12 pages indexed; the rest skipped: time limit of 3 s (QUIRE_PARSE_SECONDS)"
    )
    shown = {Path(d.path).name: d for d in engine.documents()}["scan.pdf"]
    assert (shown.status, shown.error) == ("indexed", partial)  # `quire docs`, the app's table

    loads = []
    real_load = Sandbox.load
    monkeypatch.setattr(Sandbox, "load", lambda self, *a: loads.append(a[0]) or real_load(self, *a))
    again = by_name(engine.ingest([str(folder)]))
    assert again["scan.pdf"].status == "unchanged" and loads == []

    raised = make_engine(parse_seconds=120)
    full = by_name(raised.ingest([str(folder)]))["scan.pdf"]
    assert full.status == "updated" and loads == [str(scan)]
    assert not any("skipped" in n for n in full.notes)
    shown = {Path(d.path).name: d for d in raised.documents()}["scan.pdf"]
    assert shown.error == "" and shown.pages == 12
    assert by_name(raised.ingest([str(folder)]))["scan.pdf"].status == "unchanged"

    lowered = make_engine(parse_seconds=3)  # a lower limit does not undo a full read
    assert by_name(lowered.ingest([str(folder)]))["scan.pdf"].status == "unchanged"
    write(scan, make_pdf(["A new text page about newts."]))  # the file changes: read again
    assert by_name(lowered.ingest([str(folder)]))["scan.pdf"].status == "updated"


def test_a_file_that_ran_out_of_time_is_not_parsed_again_on_every_sync(
    tmp_path, make_engine, monkeypatch
):
    folder = tmp_path / "docs"
    slow = write(folder / "a-slow.md", "# h\n" * 150_000)  # markdown-it needs several seconds
    write(folder / "b-owls.md", GOOD)
    engine = make_engine(parse_seconds=0.5)
    got = by_name(engine.sync(str(folder)))
    assert got["a-slow.md"].status == "failed"
    reason = got["a-slow.md"].reason
    assert reason.startswith("reading it took longer than 0.5 s, the limit (QUIRE_PARSE_SECONDS)")
    assert "read again when it changes or the limit is raised" in reason

    loads = []
    real_load = Sandbox.load
    monkeypatch.setattr(Sandbox, "load", lambda self, *a: loads.append(a[0]) or real_load(self, *a))
    again = by_name(engine.sync(str(folder)))
    assert (again["a-slow.md"].status, again["a-slow.md"].reason) == ("failed", reason)
    assert loads == []  # before: parsed (and killed) again on every sync
    assert {Path(d.path).name: d.status for d in engine.documents()}["a-slow.md"] == "failed"
    write(slow, "# h\n\nNow short.\n")
    assert by_name(engine.sync(str(folder)))["a-slow.md"].status == "added"


def test_the_page_cap_indexes_the_first_pages_and_says_so(tmp_path, make_engine):
    folder = tmp_path / "docs"
    write(folder / "pages.pdf", many_pages_pdf(150))
    engine = make_engine(max_pages=100)
    got = by_name(engine.ingest([str(folder)]))["pages.pdf"]
    assert got.status == "added" and got.pages == 100
    assert got.notes[0] == (
        "first 100 of 150 pages indexed; the rest skipped: page limit of 100 (QUIRE_MAX_PAGES)"
    )
    assert by_name(engine.ingest([str(folder)]))["pages.pdf"].status == "unchanged"
    raised = make_engine(max_pages=1000)
    got = by_name(raised.ingest([str(folder)]))["pages.pdf"]
    assert got.status == "updated" and got.pages == 150 and not got.notes


# --- Tesseract dies with the worker --------------------------------------------------------


def dense_page() -> bytes:
    """A PNG of a page packed with small words: Tesseract needs 10 s or more on it here."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(1)
    image = Image.new("L", (1000, 1000), 255)
    draw = ImageDraw.Draw(image)
    words = ["frog", "glass", "belly", "translucent", "waterfall", "andes", "night", "river"]
    for y in range(5, 990, 12):
        x = 5
        while x < 950:
            word = rng.choice(words)
            draw.text((x, y), word, fill=0)
            x += 6 * len(word) + 6
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def our_tesseracts(mark: str) -> list[int]:
    """Tesseract processes started by this test (found by a variable in their environment):
    other processes on the machine may be running Tesseract too."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "tesseract":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark.encode() in f.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            continue
    return found


def gone_within(mark: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while our_tesseracts(mark):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def mark(monkeypatch) -> str:
    value = uuid.uuid4().hex
    monkeypatch.setenv("QUIRE_TEST_MARK", value)  # inherited by the worker and Tesseract
    return f"QUIRE_TEST_MARK={value}"


@needs_ocr
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_tesseract_dies_when_the_worker_is_killed(mark):
    """Before: a worker killed (at a limit, by the kernel's OOM killer) left Tesseract running
    on as an orphan at full CPU."""
    sandbox = Sandbox(seconds=120)
    errors = []

    def read() -> None:
        try:
            sandbox.load("dense.png", dense_page())
        except LoadError as exc:
            errors.append(str(exc))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not our_tesseracts(mark):
            assert time.monotonic() < deadline, "Tesseract did not start"
            time.sleep(0.05)
        time.sleep(1)  # past reading its input: from here on it would run alone for seconds
        os.kill(sandbox._proc.pid, signal.SIGKILL)
        reader.join(10)
        assert errors and "crashed (SIGKILL)" in errors[0]
        assert gone_within(mark, 3)
    finally:
        sandbox.close()
        for pid in our_tesseracts(mark):
            os.kill(pid, signal.SIGKILL)


@needs_ocr
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_no_tesseract_is_left_running_after_the_time_limit(mark):
    sandbox = Sandbox(seconds=2)
    try:
        began = time.monotonic()
        with pytest.raises(LoadError, match=r"longer than 2 s, the limit \(QUIRE_PARSE_SECONDS\)"):
            sandbox.load("dense.png", dense_page())
        assert time.monotonic() - began < 2.5
        assert gone_within(mark, 1)
    finally:
        sandbox.close()
        for pid in our_tesseracts(mark):
            os.kill(pid, signal.SIGKILL)
