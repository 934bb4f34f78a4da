"""Searches served by a running watcher (quire/warm.py): the same results as searching in the
process, settings that differ are not served, bad requests and stale sockets do no harm."""

from __future__ import annotations

import json
import os
import socket
import stat

import pytest

from quire.cli import main
from quire.warm import SearchServer, ask_server, hit_from, socket_path
from tests.helpers import write


@pytest.fixture
def served(tmp_path, make_engine):
    notes = tmp_path / "notes"
    write(notes / "bread.md", "# Bread\n\nSourdough needs a starter fed daily.\n")
    write(notes / "garden.md", "# Garden\n\nTomatoes want full sun.\n")
    write(notes / "code.py", "def knead(dough):\n    return dough * 2\n")
    engine = make_engine()
    engine.ingest([str(notes)])
    server = SearchServer(engine, engine.settings.home).start()
    yield engine, server
    server.stop()


def test_the_same_hits_as_searching_here(served):
    engine, _ = served
    answer = ask_server(engine.settings, {"query": "sourdough starter", "k": 3})
    got = [hit_from(h) for h in answer["hits"]]
    want = engine.search("sourdough starter", k=3)
    assert [(h.chunk, round(h.score, 9)) for h in got] == [
        (h.chunk, round(h.score, 9)) for h in want
    ]
    docs = ask_server(engine.settings, {"query": "tomatoes", "k": 2, "docs": True, "kinds": ["md"]})
    assert [os.path.basename(d["source"]) for d in docs["documents"]][0] == "garden.md"


def test_the_socket_is_private_and_gone_after_stop(served):
    engine, server = served
    path = socket_path(engine.settings.home)
    assert stat.S_ISSOCK(path.stat().st_mode) and stat.S_IMODE(path.stat().st_mode) == 0o600
    server.stop()
    assert not path.exists() and ask_server(engine.settings, {"query": "bread"}) is None


def test_other_settings_are_not_served(served):
    from dataclasses import replace

    engine, _ = served
    other = replace(engine.settings, fusion="rrf")
    assert ask_server(other, {"query": "bread"}) is None


@pytest.mark.parametrize(
    "request_",
    [{"query": 5}, {"query": "x", "k": 0}, {"query": "x", "k": "9"},
     {"query": "x", "mode": "sql"}, {"query": "x", "kinds": "md"}, {"query": "x", "path": ["/"]},
     {"query": "x", "kinds": ["exe"]}],
)  # fmt: skip
def test_bad_requests_get_an_error_and_the_server_goes_on(served, request_):
    engine, _ = served
    answer = ask_server(engine.settings, request_)
    assert "error" in answer
    assert ask_server(engine.settings, {"query": "bread"})["hits"]


def test_garbage_and_oversized_requests(served):
    engine, _ = served
    path = str(socket_path(engine.settings.home))
    for payload in (b"not json\n", b"[1, 2]\n", b"{" + b" " * (70 * 1024)):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(path)
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server may answer and close before reading it all
            reply = json.loads(b"".join(iter(lambda: s.recv(65536), b"")))
        assert "bad request" in reply["error"]
    assert ask_server(engine.settings, {"query": "bread"})["hits"]


def test_a_stale_socket_means_searching_here(tmp_path, make_engine):
    engine = make_engine()
    path = socket_path(engine.settings.home)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # a watcher killed with SIGKILL leaves its socket behind
    assert path.exists() and ask_server(engine.settings, {"query": "bread"}) is None


def test_quire_search_asks_the_server_first(tmp_path, monkeypatch, capsys):
    from quire.engine import build_engine

    monkeypatch.setenv("QUIRE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("QUIRE_EMBEDDER", "fake")
    write(tmp_path / "notes" / "bread.md", "# Bread\n\nSourdough needs a starter fed daily.\n")
    write(tmp_path / "notes" / "garden.md", "# Garden\n\nTomatoes want full sun.\n")
    assert main(["ingest", str(tmp_path / "notes")]) == 0
    engine = build_engine()
    server = SearchServer(engine, engine.settings.home).start()
    try:
        asked = []
        answer = server.answer
        monkeypatch.setattr(server, "answer", lambda raw: asked.append(raw) or answer(raw))
        capsys.readouterr()
        assert main(["search", "sourdough", "--json"]) == 0
        warm = capsys.readouterr().out
        assert len(asked) == 1 and "bread.md" in warm
        monkeypatch.setenv("QUIRE_WARM_SEARCH", "off")
        assert main(["search", "sourdough", "--json"]) == 0
        assert capsys.readouterr().out == warm and len(asked) == 1
        monkeypatch.delenv("QUIRE_WARM_SEARCH")
        assert main(["search", "sourdough", "--docs"]) == 0 and len(asked) == 2
        assert "bread.md" in capsys.readouterr().out
    finally:
        server.stop()
        engine.close()


def test_a_relative_path_filter_selects_what_it_would_here(tmp_path, monkeypatch):
    from quire.warm import absolute_filter
    from rag.retrieval.retrieve import Filters

    sources = [str(tmp_path / p) for p in ("notes/bread.md", "notes/sub/x.py", "notesy/y.md")]
    sources.append(os.path.expanduser("~/z.md"))
    for d in ("notes/sub", "notesy"):
        (tmp_path / d).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    patterns = ["notes", "notes/", "./notes/bread.md", "notes/*.md", "notes/*", "*.py", "~",
                f"../{tmp_path.name}/notesy", "~/z.md", "", str(tmp_path / "notes")]  # fmt: skip
    here = {p: Filters(path=p).sources(sources) for p in patterns}
    sent = {p: absolute_filter(p) for p in patterns}
    monkeypatch.chdir("/")  # where the watcher runs
    for p in patterns:
        assert Filters(path=sent[p]).sources(sources) == here[p], p
    assert here["notes"] == sources[:2] and here["*.py"] == [sources[1]]


def test_the_client_checks_who_runs_the_server(served):
    from quire.warm import peer_uid

    engine, _ = served
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(socket_path(engine.settings.home)))
        assert peer_uid(s) == os.geteuid()
