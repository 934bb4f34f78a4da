"""A sentence-transformers model on ONNX Runtime: loads in a fraction of a second and never
imports torch, so `quire search` from a cold shell answers at once.

The ONNX files are made once from the model's own weights (torch is needed then; nothing is
downloaded), checked against the torch model on fixed sentences, and kept in the cache
folder (`QUIRE_CACHE`), one folder per model and weights version:

- `model-fp32.onnx`: the same vectors as torch (cosine >= 0.999, checked), so one index
  serves both; queries are embedded with it.
- `model-int8.onnx`: the fp32 graph with its matrix products quantized to int8 (weights per
  output channel, activations per batch); faster for ingest where the CPU has no bf16.

Only models sentence-transformers runs as Transformer -> Pooling (mean or CLS) -> optional
Normalize are handled; anything else raises `Unsupported` and the caller uses torch.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import inspect
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import QuireError

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # read when onnxruntime is imported

PRECISIONS = ("fp32", "int8")
MIN_COSINE = {"fp32": 0.999, "int8": 0.98}  # against torch, on every CHECK sentence
CHECK = (  # the sentences an export is checked on (short, long, mixed, padded together)
    "sqlite json functions",
    "Where did I write about the blob literals in SQLite?",
    "The quarterly report shows revenue of $737,877 in FY2022, up 12.5% on the year before.",
    "def parse(path: str) -> dict:\n    return json.loads(Path(path).read_text())",
    "Café, naïve, Zürich — ünïcödé and 東京 and emoji 🙂 in one line.",
    " ".join(["Long passages are cut at the model's limit, as sentence-transformers does."] * 40),
)
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


EXPORT_RECIPE = "export-1"  # bump when _export or _quantize changes what they write
_SAMPLE = 1 << 16  # bytes read from each end of a larger file for its fingerprint


def cache_folder(model_dir: Path, cache: Path) -> Path:
    """Where this model's ONNX files live: named by the model's files' contents (small files
    whole, larger ones by size and their first and last 64 KiB), not by where they are or when
    they were written, so a second install of the same model package, a fresh clone's new
    venv included, finds the files the first one made; an updated model gets new ones."""
    h = hashlib.sha256(EXPORT_RECIPE.encode())
    for f in sorted(model_dir.iterdir()):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json", ".txt"):
            h.update(f"{f.name}:{f.stat().st_size}:".encode())
            h.update(_fingerprint(f))
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_dir.name)[:60] or "model"
    return cache / "onnx" / f"{slug}-{h.hexdigest()[:16]}"


def _fingerprint(path: Path) -> bytes:
    """The file's bytes, or for a larger one its first and last `_SAMPLE` bytes (a
    millisecond on every cold search, instead of hashing 90 MB of weights)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= 2 * _SAMPLE:
            return hashlib.sha256(f.read()).digest()
        head = f.read(_SAMPLE)
        f.seek(size - _SAMPLE)
        return hashlib.sha256(head + f.read(_SAMPLE)).digest()


def model_file(model_dir: Path, cache: Path, precision: str, log=None) -> Path:
    """The model's ONNX file at `precision`, made (once, under a lock) if missing."""
    if precision not in PRECISIONS:
        raise QuireError(f"ONNX precision must be one of {PRECISIONS}, not {precision!r}")
    read_recipe(model_dir)
    folder = cache_folder(model_dir, cache)
    target = folder / f"model-{precision}.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be making it: wait for it
        if not target.is_file():
            if log:
                log(f"preparing the {precision} ONNX embedder (once per model, about 15 s)")
            _make(model_dir, folder, precision)
    return target


def _make(model_dir: Path, folder: Path, precision: str) -> None:
    fp32 = folder / "model-fp32.onnx"
    if not fp32.is_file():
        _export(model_dir, fp32)
    if precision == "int8":
        _quantize(fp32, folder / "model-int8.onnx")
    target = folder / f"model-{precision}.onnx"
    agreement = _check(model_dir, target)
    if agreement < MIN_COSINE[precision]:
        bad = target.with_suffix(".rejected")
        os.replace(target, bad)
        raise Unsupported(
            f"the ONNX export of {model_dir.name} disagrees with torch "
            f"(cosine {agreement:.4f} < {MIN_COSINE[precision]})"
        )
    info = folder / "checks.json"
    checks = json.loads(info.read_text()) if info.is_file() else {}
    checks[precision] = {"min_cosine_vs_torch": round(agreement, 6), "model": str(model_dir)}
    _write_atomic(info, json.dumps(checks, indent=1).encode())


def _export(model_dir: Path, dest: Path) -> None:
    """torch -> ONNX (opset 17), attention written out (eager) so ONNX Runtime can fuse it."""
    from rag.retrieval.embed import prepare_torch

    prepare_torch(None)
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(model_dir))
    base = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(base.forward).parameters:
        names.append("token_type_ids")

    class Encoder(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(**dict(zip(names, inputs))).last_hidden_state

    example = tuple(torch.ones(2, 8, dtype=torch.long) for _ in names)
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    tmp = dest.with_suffix(".tmp")
    with torch.no_grad(), warnings.catch_warnings(), _quiet():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(base),
            example,
            str(tmp),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    if config.model_type == "bert":  # fused attention and layer norms: measured 1.4x faster
        from onnxruntime.transformers.optimizer import optimize_model

        with _quiet():
            opt = optimize_model(
                str(tmp),
                model_type="bert",
                num_heads=config.num_attention_heads,
                hidden_size=config.hidden_size,
            )
            opt.save_model_to_file(str(tmp))
    _fsync(tmp)
    os.replace(tmp, dest)


def _quantize(fp32: Path, dest: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dest.with_suffix(".tmp")
    with _quiet():
        quantize_dynamic(
            str(fp32),
            str(tmp),
            op_types_to_quantize=["MatMul"],  # not the embedding table: cosine 0.94 with it
            per_channel=True,  # per tensor: cosine 0.85 at worst
            weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    _fsync(tmp)
    os.replace(tmp, dest)


def _check(model_dir: Path, onnx_file: Path) -> float:
    """The lowest cosine between torch's and this file's vectors over CHECK."""
    import numpy as np

    from rag.retrieval.embed import prepare_torch

    prepare_torch(None)  # offline, and no progress bars
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model_dir), device="cpu").encode(
        list(CHECK), convert_to_numpy=True, normalize_embeddings=True
    )
    got = np.array(OnnxEmbedder(model_dir, onnx_file).embed(list(CHECK)))
    return float((reference * got).sum(axis=1).min())


class TokenCounter:
    """Counts a model's tokens (special ones included, nothing cut) with its tokenizer.json,
    as its own tokenizer would: `tokenizers` loads in milliseconds, with no torch."""

    def __init__(self, model_dir: Path, lowercase: bool = False) -> None:
        self.model_dir = model_dir
        self.lowercase = lowercase
        self._tokenizer = None
        self._lock = threading.Lock()  # one Rust tokenizer is not used by two threads at once

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
        self._counter = TokenCounter(model_dir, self.recipe.lowercase)
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


@contextlib.contextmanager
def _quiet():
    """The exporter's and quantizer's advice goes to the root logger: keep it off screen."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    _fsync(tmp)
    os.replace(tmp, path)


def prepare(settings=None, precisions: Sequence[str] | None = None, log=None) -> list[Path]:
    """Make the ONNX files the settings' embedder uses, at `precisions` (default: every one,
    since the tests force each and the CPU that chooses may change); instant when they exist.
    `make install` calls this, so no search, ingest or test waits for an export."""
    from rag.retrieval.embed import bundled_embedder_path
    from rag.settings import Settings, default_cache

    s = settings or Settings.from_env()
    if s.embedder != "local" or s.embed_backend == "torch":
        return []
    model_dir = s.embed_model or bundled_embedder_path()
    try:
        return [
            model_file(model_dir, s.cache or default_cache(), p, log)
            for p in (precisions or PRECISIONS)
        ]
    except Unsupported as exc:
        if s.embed_backend == "onnx":
            raise
        if log:
            log(f"{exc}; this model will be embedded with torch (nothing to prepare)")
        return []


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m rag.retrieval.onnx_embed [fp32|int8 ...]`: prepare the ONNX embedder."""
    import sys

    wanted = list(argv if argv is not None else sys.argv[1:])
    bad = [p for p in wanted if p not in PRECISIONS]
    if bad:
        print(f"unknown precision {bad[0]!r}: choose from {', '.join(PRECISIONS)}", file=sys.stderr)
        return 2
    say = lambda m: print(m, flush=True)  # noqa: E731
    for path in prepare(precisions=wanted or None, log=say):
        say(f"ONNX embedder ready: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
