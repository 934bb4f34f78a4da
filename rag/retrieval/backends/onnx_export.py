"""The ONNX files of a sentence-transformers model, made once from its own weights (torch is
needed then; nothing is downloaded), checked against the torch model on fixed sentences, and
kept in the cache folder (`QUIRE_CACHE`), one folder per model (by its files' contents):

- `model-fp32.onnx`: the same vectors as torch (cosine >= 0.999, checked), so one index
  serves both; queries are embedded with it.
- `model-int8.onnx`: the fp32 graph with its matrix products quantized to int8 (weights per
  output channel, activations per batch); faster for ingest where the CPU has no bf16.

`make install` makes both (`quire prepare`), so no search or ingest waits for them.
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
import warnings
from pathlib import Path

from rag.errors import QuireError
from rag.retrieval.backends.onnx import OnnxEmbedder, Unsupported, read_recipe

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
    from rag.retrieval.backends.torch import prepare_torch

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

    from rag.retrieval.backends.torch import prepare_torch

    prepare_torch(None)  # offline, and no progress bars
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model_dir), device="cpu").encode(
        list(CHECK), convert_to_numpy=True, normalize_embeddings=True
    )
    got = np.array(OnnxEmbedder(model_dir, onnx_file).embed(list(CHECK)))
    return float((reference * got).sum(axis=1).min())


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
