"""Issue 11, point 3: every file is parsed in bounded time and memory, in a child process, so a
parser's crash or appetite costs that one file, never the batch or the process."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ingest.pages.pdfium import MAX_PIXELS, MAX_SIDE
from ingest.sandbox import Sandbox
from quire.chat import view
from tests.helpers import write
from tests.security.hostile import flate_bomb_pdf, many_pages_pdf, raw_pdf, text_stream

GOOD = "# Owls\n\nBarn owls hunt at night over open fields.\n"


def reasons(report) -> dict[str, tuple[str, str]]:
    return {Path(f.path).name: (f.status, f.reason) for f in report.files}


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return flate_bomb_pdf(600)  # 0.6 MB on disk, 600 MB inflated


def test_a_decompression_bomb_fails_alone_and_the_batch_goes_on(tmp_path, make_engine, bomb):
    folder = tmp_path / "docs"
    write(folder / "a-bomb.pdf", bomb)
    write(folder / "b-owls.md", GOOD)
    engine = make_engine(parse_memory_mb=400)
    got = reasons(engine.ingest([str(folder)]))
    status, reason = got["a-bomb.pdf"]
    assert status == "failed" and "400 MB" in reason and "QUIRE_PARSE_MEMORY_MB" in reason
    assert got["b-owls.md"][0] == "added"
    assert engine.search("barn owls at night")[0].chunk.source.endswith("b-owls.md")


def test_pages_characters_and_chunks_are_bounded_per_file(tmp_path, make_engine):
    folder = tmp_path / "docs"
    write(folder / "pages.pdf", many_pages_pdf(150))
    write(folder / "headings.md", "# a\n" * 300)
    write(folder / "long.txt", "word " * 3000)
    write(folder / "fine.md", GOOD)
    engine = make_engine(max_pages=100, max_chunks=100, max_chars=10_000)
    report = engine.ingest([str(folder)])
    got = reasons(report)
    pages = next(f for f in report.files if f.path.endswith("pages.pdf"))
    assert (pages.status, pages.pages) == ("added", 100)  # the first 100, and it says so
    assert "the rest skipped: page limit of 100 (QUIRE_MAX_PAGES)" in pages.notes[0]
    assert got["headings.md"][0] == "failed" and "QUIRE_MAX_CHUNKS" in got["headings.md"][1]
    assert got["long.txt"][0] == "failed" and "QUIRE_MAX_CHARS" in got["long.txt"][1]
    assert got["fine.md"][0] == "added"


def test_a_parse_that_runs_too_long_is_stopped_and_the_next_file_is_read(tmp_path, make_engine):
    folder = tmp_path / "docs"
    write(folder / "a-slow.md", "# h\n" * 150_000)  # markdown-it needs several seconds
    write(folder / "b-owls.md", GOOD)
    engine = make_engine(parse_seconds=0.5)
    got = reasons(engine.ingest([str(folder)]))
    assert got["a-slow.md"][0] == "failed" and "QUIRE_PARSE_SECONDS" in got["a-slow.md"][1]
    assert got["b-owls.md"][0] == "added"


def test_the_worker_is_reused_across_files(tmp_path, make_engine):
    folder = tmp_path / "docs"
    for i in range(12):
        write(folder / f"n{i}.md", f"# Note {i}\n\nText {i}.\n")
    write(folder / "p.pdf", raw_pdf([text_stream("a pdf page")]))
    engine = make_engine()
    report = engine.ingest([str(folder)])
    assert [f.status for f in report.files] == ["added"] * 13
    assert engine.sandbox.started == 1


def test_a_crashed_worker_is_replaced(bomb):
    sandbox = Sandbox(memory_mb=400)
    with pytest.raises(Exception, match="memory"):
        sandbox.load("bomb.pdf", bomb)
    doc = sandbox.load("fine.pdf", raw_pdf([text_stream("still reading")]))
    assert doc.pages == ("still reading",) and sandbox.started == 2
    sandbox.close()


def test_a_tall_thin_page_renders_within_the_pixel_budget(tmp_path):
    pdf = raw_pdf([text_stream("tall")]).replace(b"[0 0 612 792]", b"[0 0 1 14400]")
    path = write(tmp_path / "tall.pdf", pdf)
    sandbox = Sandbox()
    png = view.page_png(str(path), 1, sandbox, width=900)
    sandbox.close()
    w, h = Image.open(io.BytesIO(png)).size
    assert w * h <= MAX_PIXELS and max(w, h) <= MAX_SIDE


def test_the_worker_cannot_write_files(tmp_path):
    target = tmp_path / "written-by-a-parser.txt"
    code = (
        "from ingest.worker import confine; confine(512)\n"
        f"with open({str(target)!r}, 'w') as f:\n    f.write('x' * 10)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    # Landlock refuses to create it; without Landlock, the file-size limit refuses the data
    assert run.returncode != 0
    assert "Permission denied" in run.stderr or "File too large" in run.stderr
    assert not target.exists() or target.stat().st_size == 0


def test_a_name_that_is_not_utf8_fails_alone(tmp_path, make_engine):
    """A file named in an older encoding (Latin-1 `café.md`) reaches Python with a lone
    surrogate, which the manifest cannot store: it used to stop the whole ingest with a
    traceback. It fails with a reason; its neighbours are indexed, on every run."""
    import os

    folder = tmp_path / "notes"
    write(folder / "ok.md", "# Tea\n\nGreen tea wants water below boiling.\n")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.md"), "wb") as f:
        f.write(b"# Cafe\n\nEspresso notes.\n")
    engine = make_engine()
    for run in (engine.ingest, engine.sync):
        report = run(str(folder)) if run == engine.sync else run([str(folder)])
        failed = [f for f in report.files if f.status == "failed"]
        assert len(failed) == 1 and "not valid UTF-8" in failed[0].reason
    assert [os.path.basename(d.path) for d in engine.documents()] == ["ok.md"]
