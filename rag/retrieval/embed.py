"""The embedder role, a deterministic fake for tests, and the local model as the engine puts
it together: each job (queries, documents, token counts) on the backend `quire.engine` chose
for it, each built on first use (the backends are in `rag.retrieval.backends`)."""

from __future__ import annotations

import hashlib
import math
import re
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from rag.errors import QuireError

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


T = TypeVar("T")


class Lazy(Generic[T]):
    """A part built on first use, once (thread-safe). If building it raises `Unsupported` (the
    model cannot run on that backend) and there is a `fallback`, the fallback is used instead,
    and `log` is told why, once."""

    def __init__(
        self,
        make: Callable[[], T],
        fallback: Lazy[T] | None = None,
        log: Callable[[str], None] | None = None,
        first: Callable[[], object] | None = None,
    ) -> None:
        self._make, self._fallback, self._log, self._first = make, fallback, log, first
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        if self._value is None:
            if self._first is not None:
                self._first()
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value

    def _build(self) -> T:
        from rag.retrieval.backends.onnx import Unsupported

        try:
            return self._make()
        except Unsupported as exc:
            if self._fallback is None:
                raise
            if self._log:
                self._log(f"{exc}; embedding with torch instead (slower to start)")
            return self._fallback.get()


class LocalEmbedder:
    """The local model, each job on the backend the engine chose for it (`quire.engine.
    make_embedder`): `queries` (a search, an answer's sentences: loads fast), `documents`
    (ingest: the fastest for this CPU) and `tokens` (counts and the longest input). The three
    give vectors in one space; each is built on first use."""

    def __init__(self, name: str, queries: Lazy, documents: Lazy, tokens: Lazy) -> None:
        self.name = name
        self._queries, self._documents, self._tokens = queries, documents, tokens

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.for_documents().embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self.for_queries().embed(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._tokens.get().count_tokens(texts)

    @property
    def dim(self) -> int:
        return self.for_queries().dim

    @property
    def max_tokens(self) -> int:
        return self._tokens.get().max_tokens

    def warm_up(self):
        """Load what a search needs (the query backend)."""
        return self.for_queries().warm_up()

    def for_queries(self):
        return self._queries.get()

    def for_documents(self):
        return self._documents.get()


_said: set[str] = set()


def say_once(message: str) -> None:
    """A note on stderr, once per process (why a model runs on torch, an export being made)."""
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


def release_memory() -> None:
    """Give freed heap back to the system (glibc keeps it otherwise: an ingest's RSS kept
    growing by the size of the embedding buffers)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc
