"""Shared fixtures: settings in a temporary home, fake engines, note folders made on disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from quire.engine import Engine, build_engine
from rag.retrieval.embed import HashEmbedder
from rag.retrieval.store import MemoryStore
from rag.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_sessionstart(session):
    """The tests use what `make install` prepared (the ONNX embedder at both precisions, in
    the cache folder, as the app and the CLI do), so none waits for it with a clock running.
    Run without `make install`, the preparation happens here, once, before any test; tests
    about preparation itself use caches of their own."""
    from quire.engine import prepare

    settings = Settings.from_env()
    if settings.embedder != "fake":
        prepare(settings, log=lambda m: print(f"\nquire tests: {m}", file=sys.stderr, flush=True))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", embedder="fake", chunk_tokens=64, chunk_overlap=8)


@pytest.fixture
def make_engine(settings):
    """Build engines over one home; each call may override settings, embedder or store."""
    built = []

    def make(embedder=None, store=None, generator=None, **overrides) -> Engine:
        s = Settings(**{**settings.__dict__, **overrides})
        engine = build_engine(s, store or MemoryStore(), embedder or HashEmbedder(), generator)
        built.append(engine)
        return engine

    yield make
    for e in built:
        e.close()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real Chroma server on 127.0.0.1, started for this test session."""
    from tests.helpers import ChromaServer

    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data").start()
    yield server
    server.stop()
