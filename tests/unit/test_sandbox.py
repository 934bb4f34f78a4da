"""The parent's side of the parse worker: replies are checked before they are believed."""

from __future__ import annotations

import pytest

from ingest.limits import Limits
from ingest.sandbox import Sandbox, _document
from rag.errors import LoadError

GOOD = {
    "kind": "markdown",
    "pages": ["# A\n\ntext\n"],
    "sections": [[None, 0, 10, ["A"]]],
    "notes": [],
}


def test_a_well_formed_reply_becomes_a_document():
    doc = _document(GOOD, Limits())
    assert doc.kind == "markdown" and doc.sections[0].heading == ("A",)


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "exe"},
        {"pages": []},
        {"pages": [1]},
        {"sections": [[None, 0, 99, []]]},  # past the end of the page
        {"sections": [[None, 5, 2, []]]},
        {"sections": [[2, 0, 1, []]]},  # no page 2
        {"sections": [[None, 0, 1, [3]]]},
        {"notes": [None]},
    ],
)
def test_a_malformed_reply_is_refused(change):
    with pytest.raises((KeyError, TypeError, ValueError)):
        _document({**GOOD, **change}, Limits())


def test_a_reply_over_the_limits_is_refused():
    with pytest.raises(ValueError):
        _document(GOOD, Limits(max_chars=5))


def test_load_through_the_worker_and_inline_agree():
    data = b"# Title\n\nSome text.\n\n## Sub\n\nMore.\n"
    worker, inline = Sandbox(), Sandbox(inline=True)
    try:
        assert worker.load("n.md", data) == inline.load("n.md", data)
        with pytest.raises(LoadError, match="empty file"):
            worker.load("e.md", b"   ")
        assert worker.started == 1
    finally:
        worker.close()


def test_a_worker_that_cannot_start_says_why(tmp_path, monkeypatch):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ImportError: no module named ingest' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr("ingest.sandbox.sys.executable", str(broken))
    sandbox = Sandbox()
    try:
        with pytest.raises(LoadError, match=r"did not start \(ImportError: no module named"):
            sandbox.load("n.md", b"# Title\n")
    finally:
        sandbox.close()


def test_the_worker_answers_a_process_with_over_a_thousand_open_files(tmp_path):
    """select() refuses descriptors from 1024 up: a long-running app owns that many."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("the file limit is under 1,200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [open(tmp_path / "held", "wb") for _ in range(1100)]  # noqa: SIM115
    sandbox = Sandbox()
    try:
        assert sandbox.load("n.md", b"# Title\n\nText.\n").pages
    finally:
        sandbox.close()
        for f in held:
            f.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize(
    "change", [{"partial": 3}, {"partial": "x" * 1001}, {"cut_by": "minutes"}, {"cut_by": None}]
)
def test_a_malformed_partial_reply_is_refused(change):
    with pytest.raises((KeyError, TypeError, ValueError)):
        _document({**GOOD, **change}, Limits())


def test_a_partial_reply_keeps_what_was_skipped():
    doc = _document(
        {**GOOD, "partial": "first 1 of 2 pages indexed", "cut_by": "seconds"}, Limits()
    )
    assert (doc.partial, doc.cut_by) == ("first 1 of 2 pages indexed", "seconds")
