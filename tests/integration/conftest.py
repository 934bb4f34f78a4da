"""Integration tier: the real bundled embedder, loaded once per session."""

from __future__ import annotations

import pytest

from rag.retrieval.backends.torch import SentenceTransformerEmbedder


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    emb = SentenceTransformerEmbedder()
    emb.warm_up()
    return emb
