"""A PDF read within a time budget or a page cap: the pages read are kept, and the Document
says which were skipped and why (the OCR engine is replaced by a scripted one)."""

from __future__ import annotations

import time

import pytest

from ingest.limits import Limits, Options, OutOfTime
from ingest.load import load
from tests.pdfs import make_mixed_pdf, make_pdf

BUDGET = Options(seconds=3, deadline=time.monotonic() + 3600)


@pytest.fixture
def ocr_runs_out_on_the_second_page(monkeypatch):
    from ingest.pages import ocr

    calls = []

    def read(image, languages="eng", seconds=None):
        calls.append(seconds)
        if len(calls) == 2:
            raise OutOfTime("the time ran out reading this image")
        return "words found by OCR\n", []

    monkeypatch.setattr(ocr, "read", read)
    return calls


def test_ocr_stops_at_the_budget_and_the_text_pages_after_it_are_kept(
    ocr_runs_out_on_the_second_page,
):
    doc = load("m.pdf", make_mixed_pdf([None, None, "a text page", None]), options=BUDGET)
    assert doc.pages[0] == "words found by OCR\n" and doc.pages[2] == "a text page"
    assert doc.pages[1] == doc.pages[3] == ""
    assert doc.partial == (
        "2 of 4 pages indexed; pages 2, 4 skipped: time limit of 3 s (QUIRE_PARSE_SECONDS)"
    )
    assert doc.cut_by == "seconds" and doc.notes[0] == doc.partial
    assert doc.notes[1].startswith("OCR: 1 page (1) in")
    assert not any("no text layer" in n for n in doc.notes)  # skipped, not found empty
    assert ocr_runs_out_on_the_second_page[0] is not None  # OCR is told the time left


def test_a_scan_whose_first_page_runs_out_of_time_fails(monkeypatch):
    from ingest.pages import ocr

    def read(image, languages="eng", seconds=None):
        raise OutOfTime("the time ran out reading this image")

    monkeypatch.setattr(ocr, "read", read)
    with pytest.raises(OutOfTime, match="no page's text was read within the time limit of 3 s"):
        load("s.pdf", make_mixed_pdf([None, None]), options=BUDGET)


def test_a_budget_spent_before_the_text_layer_is_read_fails():
    spent = Options(seconds=3, deadline=time.monotonic() - 1)
    with pytest.raises(OutOfTime):
        load("t.pdf", make_pdf(["one", "two"]), options=spent)


@pytest.mark.parametrize("engine", ["auto", "pypdf"])
def test_pages_past_the_cap_are_skipped_and_named(engine):
    data = make_pdf(["one", "two", "three"])
    doc = load("t.pdf", data, limits=Limits(max_pages=2), options=Options(pdf_engine=engine))
    assert doc.pages == ("one", "two") and doc.cut_by == "pages"
    assert doc.partial == (
        "first 2 of 3 pages indexed; the rest skipped: page limit of 2 (QUIRE_MAX_PAGES)"
    )


def test_a_pdf_read_whole_says_nothing_was_skipped():
    doc = load("t.pdf", make_pdf(["one", "two"]), options=BUDGET)
    assert (doc.partial, doc.cut_by, doc.notes) == ("", "", ())
