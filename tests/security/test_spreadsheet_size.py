"""Issue 24, point 6: an ODS of a few hundred bytes that "repeats" an empty row two billion
times is read at once (repeated empty rows and cells are counted, never expanded), and loses
none of its cells."""

from __future__ import annotations

import time

from ingest.sandbox import Sandbox
from tests.helpers import write
from tests.security.hostile import cell, ods, row


def test_a_tiny_spreadsheet_cannot_spend_the_time_limit_on_empty_rows(tmp_path, make_engine):
    """Before: an 812-byte ODS whose empty row is "repeated" two billion times was expanded
    row by row until the time limit killed the parse."""
    data = ods(
        row(cell("Crop"), cell("Kilos"))
        + row(cell(), repeat=2_000_000_000)
        + row(cell("Tomatoes"), cell(repeat=2_000_000_000), cell("31"))
        + row(cell("Beans"), cell("12"), repeat=2_000_000_000)
        + row(cell(repeat=2_000_000_000), repeat=2_000_000_000)
    )
    assert len(data) < 1000
    sandbox = Sandbox(seconds=10)
    try:
        sandbox.load("warm.md", b"# a\n\nb\n")
        began = time.monotonic()
        doc = sandbox.load("crops.ods", data)
        took = time.monotonic() - began
    finally:
        sandbox.close()
    assert took < 3
    lines = doc.pages[0].split("\n")
    assert lines[0] == "Crop | Kilos"
    tomatoes = next(i for i, line in enumerate(lines) if line.startswith("Tomatoes"))
    assert tomatoes == 1_048_575  # row 1,048,576: the last row a sheet can have
    assert lines[tomatoes].endswith(" | 31") and lines[tomatoes].count(" | ") == 16_383
    assert lines[tomatoes + 1 :].count("Beans | 12") == 1000  # repeats with text: capped
    folder = tmp_path / "docs"
    write(folder / "crops.ods", data)
    got = make_engine(parse_seconds=10).ingest([str(folder)])
    assert got.files[0].status == "added"
