"""The ONNX embedder's plumbing with no model: which models it takes, where its files go,
one export at a time, and the fall back to torch."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from quire import engine
from quire.engine import make_embedder, prepare
from rag.errors import QuireError, SettingsError
from rag.retrieval import embed
from rag.retrieval.backends import onnx_export
from rag.retrieval.backends.onnx import Recipe, Unsupported, read_recipe
from rag.retrieval.backends.onnx_export import cache_folder, model_file
from rag.retrieval.embed import resolve_precision
from rag.settings import Settings, default_cache


def model_folder(root: Path, layers=("Transformer", "Pooling", "Normalize"), pooling="mean"):
    """A sentence-transformers folder's config files (no weights)."""
    root.mkdir(parents=True, exist_ok=True)
    paths = {"Transformer": "", "Pooling": "1_Pooling", "Normalize": "2_Normalize"}
    modules = [
        {"idx": i, "name": str(i), "path": paths.get(k, f"{i}_{k}"),
         "type": f"sentence_transformers.models.{k}"}
        for i, k in enumerate(layers)
    ]  # fmt: skip
    (root / "modules.json").write_text(json.dumps(modules))
    (root / "1_Pooling").mkdir(exist_ok=True)
    modes = {f"pooling_mode_{m}": m == pooling for m in ("mean_tokens", "cls_token", "max_tokens")}
    (root / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 8, **modes})
    )
    (root / "sentence_bert_config.json").write_text(
        '{"max_seq_length": 128, "do_lower_case": false}'
    )
    (root / "tokenizer.json").write_text("{}")
    (root / "model.safetensors").write_bytes(b"weights")
    return root


def test_recipe_of_a_mean_pooled_normalised_model(tmp_path):
    folder = model_folder(tmp_path / "m", pooling="mean_tokens")
    assert read_recipe(folder) == Recipe("mean", True, 128, False)
    cls = model_folder(tmp_path / "c", layers=("Transformer", "Pooling"), pooling="cls_token")
    assert read_recipe(cls) == Recipe("cls", False, 128, False)


@pytest.mark.parametrize(
    "layers, pooling",
    [
        (("Transformer", "Pooling", "Dense", "Normalize"), "mean_tokens"),  # a projection
        (("Transformer", "Pooling"), "max_tokens"),
        (("Pooling", "Transformer"), "mean_tokens"),
    ],
)
def test_models_it_cannot_run_are_unsupported(tmp_path, layers, pooling):
    with pytest.raises(Unsupported):
        read_recipe(model_folder(tmp_path / "m", layers=layers, pooling=pooling))


def test_broken_config_is_unsupported_not_a_crash(tmp_path):
    folder = model_folder(tmp_path / "m", pooling="mean_tokens")
    (folder / "modules.json").write_text("[{not json")
    with pytest.raises(Unsupported):
        read_recipe(folder)
    folder = model_folder(tmp_path / "n", pooling="mean_tokens")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(Unsupported, match="tokenizer.json"):
        read_recipe(folder)


def test_new_weights_get_a_new_cache_folder(tmp_path):
    folder = model_folder(tmp_path / "m", pooling="mean_tokens")
    before = cache_folder(folder, tmp_path / "cache")
    assert before == cache_folder(folder, tmp_path / "cache")
    assert before.parent == tmp_path / "cache" / "onnx"
    (folder / "model.safetensors").write_bytes(b"other weights")
    assert cache_folder(folder, tmp_path / "cache") != before


def test_the_same_model_installed_again_finds_the_same_files(tmp_path):
    """A fresh clone's new venv holds the model at another path, written at another time:
    the files the first install prepared are found, not made again."""
    import os
    import shutil

    folder = model_folder(tmp_path / "m", pooling="mean_tokens")
    (folder / "model.safetensors").write_bytes(os.urandom(300_000))  # larger than the samples
    again = Path(shutil.copytree(folder, tmp_path / "venv2" / "site-packages" / "m"))
    for f in again.rglob("*"):
        os.utime(f, ns=(1, 1))
    assert cache_folder(again, tmp_path / "cache") == cache_folder(folder, tmp_path / "cache")
    weights = bytearray((again / "model.safetensors").read_bytes())
    weights[-10] ^= 0xFF  # a changed tensor at the end of the weights
    (again / "model.safetensors").write_bytes(bytes(weights))
    assert cache_folder(again, tmp_path / "cache") != cache_folder(folder, tmp_path / "cache")


def test_prepare_makes_every_precision_and_is_instant_after(tmp_path, monkeypatch):
    folder = model_folder(tmp_path / "m", pooling="mean_tokens")
    made = []

    def fake_make(model_dir, out, precision):
        made.append(precision)
        (out / f"model-{precision}.onnx").write_bytes(b"onnx")

    monkeypatch.setattr(onnx_export, "_make", fake_make)
    s = Settings(home=tmp_path / "h", embed_model=folder, cache=tmp_path / "c")
    said = []
    files = prepare(s, log=said.append)
    assert [f.name for f in files] == ["model-fp32.onnx", "model-int8.onnx"]
    assert made == ["fp32", "int8"] and len(said) == 2
    assert prepare(s, log=said.append) == files and len(made) == 2 and len(said) == 2
    assert prepare(s, ["int8"]) == files[1:]
    from dataclasses import replace

    assert prepare(replace(s, embedder="fake")) == []
    assert prepare(replace(s, embed_backend="torch")) == []


def test_two_threads_wanting_the_file_export_it_once(tmp_path, monkeypatch):
    folder = model_folder(tmp_path / "m", pooling="mean_tokens")
    made = []

    def fake_make(model_dir, out, precision):
        made.append(precision)
        time.sleep(0.3)  # long enough for the other caller to arrive and wait
        (out / f"model-{precision}.onnx").write_bytes(b"onnx")

    monkeypatch.setattr(onnx_export, "_make", fake_make)
    got = []
    threads = [
        threading.Thread(target=lambda: got.append(model_file(folder, tmp_path / "c", "fp32")))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == ["fp32"] and len(set(got)) == 1 and got[0].read_bytes() == b"onnx"
    with pytest.raises(QuireError):
        model_file(folder, tmp_path / "c", "fp16")


class FakeTorch:
    made: list = []

    def __init__(self, path, batch_size, threads, precision):
        self.precision = precision
        FakeTorch.made.append(precision)

    def embed(self, texts):
        return [[1.0, 0.0] for _ in texts]

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]


def test_a_model_onnx_cannot_run_falls_back_to_torch_saying_so_once(tmp_path, monkeypatch):
    folder = model_folder(tmp_path / "m", ("Transformer", "Pooling", "Dense"), "mean_tokens")
    monkeypatch.setattr(engine, "_torch", FakeTorch)
    said = []
    s = Settings(tmp_path / "h", embed_model=folder, cache=tmp_path / "c", embed_precision="int8")
    e = make_embedder(s, log=said.append)
    assert e.embed_queries(["a"]) == [[1.0, 0.0]] and e.embed(["b"]) == [[1.0, 0.0]]
    e.embed_queries(["again"])
    assert e.count_tokens(["two words"]) == [2]  # the torch model's tokenizer
    assert len(said) == 2 and all("torch instead" in m for m in said)  # fp32, int8: once each
    from dataclasses import replace

    strict = make_embedder(replace(s, embed_backend="onnx"))
    with pytest.raises(Unsupported):
        strict.embed_queries(["a"])
    assert not (tmp_path / "c" / "onnx").exists() or not any(
        (tmp_path / "c" / "onnx").rglob("*.onnx")
    )


def test_torch_backend_never_touches_onnx(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "_torch", FakeTorch)
    monkeypatch.setattr(engine, "_onnx_file", lambda *a, **k: pytest.fail("ONNX used"))
    FakeTorch.made = []
    s = Settings(tmp_path / "h", embed_model=tmp_path / "any", cache=tmp_path / "c",
                 embed_precision="fp32", embed_backend="torch")  # fmt: skip
    e = make_embedder(s)
    e.embed_queries(["q"])
    e.embed(["d"])
    e.count_tokens(["t"])
    assert set(FakeTorch.made) == {"fp32"}


def test_auto_precision_per_cpu(monkeypatch):
    monkeypatch.setattr(embed, "cpu_has_bf16", lambda: False)
    assert resolve_precision("auto", onnx=True) == "int8"
    assert resolve_precision("auto", onnx=False) == "fp32"
    monkeypatch.setattr(embed, "cpu_has_bf16", lambda: True)
    assert resolve_precision("auto", onnx=True) == "bf16"
    with pytest.raises(QuireError):
        resolve_precision("int8", onnx=False)
    with pytest.raises(QuireError):
        resolve_precision("fp16")


def test_settings_for_the_backend_and_cache(tmp_path):
    env = {"QUIRE_HOME": str(tmp_path), "QUIRE_EMBED_BACKEND": "torch", "QUIRE_CACHE": "/x/c"}
    s = Settings.from_env(env)
    assert s.embed_backend == "torch" and s.cache == Path("/x/c")
    assert default_cache({"XDG_CACHE_HOME": "/xdg"}) == Path("/xdg/quire")
    assert Settings.from_env({"QUIRE_HOME": str(tmp_path), "QUIRE_EMBED_PRECISION": "int8"})
    with pytest.raises(SettingsError):
        Settings.from_env({**env, "QUIRE_EMBED_BACKEND": "openvino"})
    with pytest.raises(SettingsError):
        Settings.from_env({**env, "QUIRE_EMBED_PRECISION": "fp16"})
