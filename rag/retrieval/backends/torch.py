"""A sentence-transformers model on torch (CPU), in fp32 or bf16."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from rag.errors import QuireError
from rag.retrieval.backends.bundled import BUNDLED_EMBEDDER, bundled_embedder_path


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, on CPU, on first use."""

    def __init__(
        self,
        path: Path | None = None,
        batch_size: int = 32,
        threads: int | None = None,
        precision: str = "fp32",
    ):
        self.path = path
        # The name goes into the index: bf16 and fp32 vectors of one model may be mixed
        # (cosine >= 0.998 between them, measured), so the precision is not part of it.
        self.name = BUNDLED_EMBEDDER if path is None else str(path)
        self.batch_size = batch_size
        self.threads = threads
        if precision not in ("fp32", "bf16"):
            raise QuireError(f"torch embeds in fp32 or bf16, not {precision!r}")
        self.precision = precision
        self._model = None
        self._counter = None
        self._count_lock = threading.Lock()
        self._load_lock = threading.Lock()

    def warm_up(self):
        """Load the model (a few seconds); later calls reuse it."""
        if self._model is not None:
            return self._model
        with self._load_lock:
            return self._load()

    def _load(self):
        if self._model is None:
            prepare_torch(self.threads)
            from sentence_transformers import SentenceTransformer

            path = self.path or bundled_embedder_path()
            if not (path / "modules.json").exists() and not (path / "config.json").exists():
                raise QuireError(f"no sentence-transformers model folder at {path}")
            model = SentenceTransformer(str(path), device="cpu")
            if self.precision == "bf16":
                import torch

                model = model.to(torch.bfloat16)
            # Counting runs on the parse thread while `encode` tokenizes on this one; a Rust
            # tokenizer used by two threads at once fails ("Already borrowed"): give it a copy.
            self._counter = copy.deepcopy(model.tokenizer)
            self._model = model
        return self._model

    @property
    def dim(self) -> int:
        model = self.warm_up()
        dimension = getattr(model, "get_embedding_dimension", None)  # the newer name
        return int((dimension or model.get_sentence_embedding_dimension)())

    @property
    def max_tokens(self) -> int:
        return int(self.warm_up().max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        self.warm_up()
        with self._count_lock:
            ids = self._counter(list(texts), add_special_tokens=True, truncation=False)
        return [len(x) for x in ids["input_ids"]]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        import numpy as np

        vectors = (
            self.warm_up()
            .encode(
                list(texts),  # sentence-transformers batches them sorted by length
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            .astype(np.float32)
        )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # in fp32, also for bf16
        return (vectors / np.maximum(norms, 1e-12)).tolist()

    embed_queries = embed


def prepare_torch(threads: int | None) -> None:
    """Before loading any model: keep the Hugging Face libraries offline and quiet."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # oneDNN keeps a compiled kernel (and its scratch memory) for every input shape it saw, up
    # to 1,024; chunks come in many lengths. 8 is enough (measured: peak RSS of an ingest of
    # 1,500 SciFact notes 1,740 -> 1,261 MB together with `release_memory`, same speed).
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "8")
    import torch
    import transformers

    transformers.logging.set_verbosity_error()  # no "sequence too long" noise:
    transformers.logging.disable_progress_bar()  # we count tokens ourselves
    if threads:
        torch.set_num_threads(threads)
