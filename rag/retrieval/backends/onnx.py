"""A sentence-transformers model on ONNX Runtime: loads in a fraction of a second and never
imports torch, so `quire search` from a cold shell answers at once. Its files are made once
from the model's own weights by `rag.retrieval.backends.onnx_export`.

Only models sentence-transformers runs as Transformer -> Pooling (mean or CLS) -> optional
Normalize are handled; anything else raises `Unsupported` and the engine uses torch.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import QuireError

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # read when onnxruntime is imported

_ALLOWED_MODULES = {"Transformer", "Pooling", "Normalize"}


class Unsupported(QuireError):
    """The model cannot run here on ONNX Runtime (its layers, or an export that disagrees)."""


@dataclass(frozen=True)
class Recipe:
    """How sentence-transformers turns the transformer's output into a vector."""

    pooling: str  # "mean" or "cls"
    normalize: bool
    max_tokens: int
    lowercase: bool


def read_recipe(model_dir: Path) -> Recipe:
    """The model folder's pipeline, from its sentence-transformers config files."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith(".Pooling"))
        pool = json.loads((model_dir / pooling_dir / "config.json").read_text())
        bert = json.loads((model_dir / "sentence_bert_config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise Unsupported(f"{model_dir} has no sentence-transformers config ({exc})") from None
    if set(kinds) - _ALLOWED_MODULES or kinds[:2] != ["Transformer", "Pooling"]:
        raise Unsupported(f"{model_dir}: layers {kinds} are not Transformer, Pooling, Normalize")
    modes = [k for k, v in pool.items() if k.startswith("pooling_mode_") and v]
    if modes == ["pooling_mode_mean_tokens"]:
        pooling = "mean"
    elif modes == ["pooling_mode_cls_token"]:
        pooling = "cls"
    else:
        raise Unsupported(f"{model_dir}: pooling {modes} is not mean or CLS alone")
    if not (model_dir / "tokenizer.json").is_file():
        raise Unsupported(f"{model_dir} has no tokenizer.json")
    return Recipe(
        pooling=pooling,
        normalize="Normalize" in kinds,
        max_tokens=int(bert.get("max_seq_length") or 512),
        lowercase=bool(bert.get("do_lower_case")),
    )


class TokenCounter:
    """Counts a model's tokens (special ones included, nothing cut) with its tokenizer.json,
    as its own tokenizer would: `tokenizers` loads in milliseconds, with no torch."""

    def __init__(self, model_dir: Path, lowercase: bool = False, max_tokens: int = 512) -> None:
        self.model_dir = model_dir
        self.lowercase = lowercase
        self.max_tokens = max_tokens  # the model's longest input, special tokens included
        self._tokenizer = None
        self._lock = threading.Lock()  # one Rust tokenizer is not used by two threads at once

    @classmethod
    def for_model(cls, model_dir: Path) -> TokenCounter:
        """The counter of a model ONNX Runtime can run (`Unsupported` for any other)."""
        recipe = read_recipe(model_dir)
        return cls(model_dir, recipe.lowercase, recipe.max_tokens)

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        texts = [t.lower() for t in texts] if self.lowercase else list(texts)
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizer = tokenizer
            return [len(e.ids) for e in self._tokenizer.encode_batch(texts)]

    count_tokens = count


class OnnxEmbedder:
    """Embeds with ONNX Runtime and counts tokens with the model's own tokenizer.json."""

    def __init__(
        self,
        model_dir: Path,
        onnx_file: Path,
        name: str | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.onnx_file = onnx_file
        self.name = name or str(model_dir)
        self.batch_size = batch_size
        self.threads = threads
        self.recipe = read_recipe(model_dir)
        self._session = None
        self._tokenizer = None
        self._counter = TokenCounter(model_dir, self.recipe.lowercase, self.recipe.max_tokens)
        self._load_lock = threading.Lock()

    def _load(self):
        with self._load_lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                options = ort.SessionOptions()
                if self.threads:
                    options.intra_op_num_threads = self.threads
                options.log_severity_level = 3  # errors only
                # Idle threads sleep instead of spinning: a cold search's child process is
                # importing chromadb on the other core meanwhile (rag/retrieval/forked.py).
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session = ort.InferenceSession(
                    str(self.onnx_file), options, providers=["CPUExecutionProvider"]
                )
                tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                tokenizer.enable_truncation(self.recipe.max_tokens)
                pad = _pad_token(tokenizer)
                tokenizer.enable_padding(pad_id=pad[1], pad_token=pad[0])
                self._inputs = [i.name for i in session.get_inputs()]
                self._dim = int(session.get_outputs()[0].shape[-1])
                self._tokenizer, self._session = tokenizer, session
        return self._session

    def warm_up(self):
        return self._load()

    @property
    def dim(self) -> int:
        self._load()
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self.recipe.max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._counter.count(texts)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        import numpy as np

        session = self._load()
        texts = self._cased(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.array([e.type_ids for e in encodings], np.int64)
            hidden = session.run(None, feed)[0]
            if self.recipe.pooling == "cls":
                vectors = hidden[:, 0]
            else:
                weights = mask[..., None].astype(np.float32)
                vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = vectors
        if self.recipe.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.tolist()

    def _cased(self, texts: Sequence[str]) -> list[str]:
        return [t.lower() for t in texts] if self.recipe.lowercase else list(texts)


def _pad_token(tokenizer) -> tuple[str, int]:
    for token in ("[PAD]", "<pad>", "<|pad|>"):
        found = tokenizer.token_to_id(token)
        if found is not None:
            return token, found
    return "[PAD]", 0
