"""The ONNX embedder against torch on real text, and the cold command-line paths that must
not import torch."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from rag.retrieval.backends.bundled import bundled_embedder_path
from tests.helpers import write

QUIRE = str(Path(sys.executable).parent / "quire")
STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = ["argparse", "json/__init__", "pathlib", "textwrap", "email/message", "http/client",
           "logging/__init__", "csv", "datetime", "sqlite3/__init__", "statistics", "shutil",
           "tarfile", "zipfile", "subprocess", "unittest/case", "difflib", "calendar"]  # fmt: skip


def real_texts(n: int = 1000) -> list[str]:
    """Docstrings (prose) and function bodies (code) of standard-library modules: real text
    of every length, present wherever Python is."""
    texts = []
    for name in MODULES:
        source = (STDLIB / f"{name}.py").read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 40:
                    texts.append(doc)
            if isinstance(node, ast.FunctionDef) and len(texts) % 3 == 0:
                texts.append(ast.get_source_segment(source, node) or "")
    texts = [t for t in dict.fromkeys(texts) if t.strip()]
    assert len(texts) >= n, len(texts)
    return texts[:n]


@pytest.fixture(scope="module")
def texts():
    return real_texts()


def test_onnx_vectors_and_token_counts_agree_with_torch(real_embedder, texts):
    from dataclasses import replace

    from quire.engine import make_embedder
    from rag.settings import Settings

    local = make_embedder(replace(Settings.from_env(), embed_precision="int8"))
    torch_vectors = np.array(real_embedder.embed(texts))
    fp32 = np.array(local.embed_queries(texts))
    cosine = (torch_vectors * fp32).sum(axis=1)
    assert cosine.min() >= 0.999, cosine.min()
    int8 = np.array(local.for_documents().embed(texts))
    cosine8 = (torch_vectors * int8).sum(axis=1)
    assert cosine8.mean() >= 0.99 and cosine8.min() >= 0.95, (cosine8.mean(), cosine8.min())
    assert local.count_tokens(texts) == real_embedder.count_tokens(texts)
    assert local.max_tokens == real_embedder.max_tokens and local.dim == real_embedder.dim


def _run(home: Path, code: str) -> dict:
    env = {**os.environ, "QUIRE_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


PROBE = """
import contextlib, io, json, sys
from quire.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        code = main({argv!r})
    except SystemExit as exit:  # --help
        code = exit.code
heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers", "chromadb",
               "onnxruntime") if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy, "out": out.getvalue()}}))
"""


def test_search_and_quotes_answers_need_no_torch(tmp_path):
    """After an ingest (which makes the ONNX files if this is the first), a search and a
    quotes answer load no torch; `--help` and `docs` load no model and no Chroma."""
    notes = tmp_path / "notes"
    write(notes / "kettle.md", "# Kettle\n\nDescale the kettle with citric acid every month.\n")
    write(notes / "bikes.md", "# Bikes\n\nThe chain wants oil after rain, and a wipe first.\n")
    home = tmp_path / "home"
    env = {**os.environ, "QUIRE_HOME": str(home)}
    done = subprocess.run([QUIRE, "ingest", str(notes)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    search = _run(home, PROBE.format(argv=["search", "how do I descale a kettle", "--json"]))
    assert search["code"] == 0 and json.loads(search["out"])[0]["source"].endswith("kettle.md")
    assert "torch" not in search["heavy"] and "sentence_transformers" not in search["heavy"]
    assert "onnxruntime" in search["heavy"]  # the query was embedded, on ONNX Runtime
    ask = ["ask", "what does the chain want after rain?", "--mode", "quotes", "--json"]
    quotes = _run(home, PROBE.format(argv=ask))
    assert quotes["code"] == 0 and "oil" in json.loads(quotes["out"])["answer"]
    assert "torch" not in quotes["heavy"] and "transformers" not in quotes["heavy"]
    for argv in (["--help"], ["docs"]):
        light = _run(home, PROBE.format(argv=argv))
        assert light["code"] == 0 and light["heavy"] == [], (argv, light["heavy"])


def test_bundled_model_is_the_one_exported():
    assert (bundled_embedder_path() / "tokenizer.json").is_file()


def test_prepare_exports_both_precisions_checked_against_torch(tmp_path):
    """The preparation itself (what `make install` runs), into a cache of its own: both
    files made from the bundled weights and checked against torch; a second install of the
    same model (a copy at another path) finds them instead of exporting again."""
    import shutil
    from dataclasses import replace

    from quire.engine import prepare
    from rag.retrieval.backends.onnx_export import MIN_COSINE
    from rag.settings import Settings

    s = replace(Settings.from_env({"QUIRE_HOME": str(tmp_path / "home")}), cache=tmp_path / "c")
    said = []
    files = prepare(s, log=said.append)
    assert [p.name for p in files] == ["model-fp32.onnx", "model-int8.onnx"]
    assert len(said) == 2 and all("preparing" in m for m in said)
    checks = json.loads((files[0].parent / "checks.json").read_text())
    for precision in ("fp32", "int8"):
        assert checks[precision]["min_cosine_vs_torch"] >= MIN_COSINE[precision]
    copy = Path(shutil.copytree(bundled_embedder_path(), tmp_path / "venv2" / "model"))
    again = prepare(replace(s, embed_model=copy), log=said.append)
    assert again == files and len(said) == 2  # found, not made again
    assert prepare(replace(s, embed_backend="torch", embed_precision="fp32")) == []


def test_a_user_model_onnx_cannot_run_falls_back_to_torch_saying_so_once(tmp_path):
    """QUIRE_EMBED_MODEL with a Dense projection after pooling: ingest and search work on
    torch, and each command says once why."""
    import torch
    from sentence_transformers import SentenceTransformer, models

    torch.manual_seed(0)
    base = SentenceTransformer(str(bundled_embedder_path()), device="cpu")
    projected = SentenceTransformer(
        modules=[base[0], base[1], models.Dense(384, 384), models.Normalize()], device="cpu"
    )
    folder = tmp_path / "my-model"
    projected.save(str(folder))
    notes = tmp_path / "notes"
    write(notes / "kettle.md", "# Kettle\n\nDescale the kettle with citric acid every month.\n")
    write(notes / "bikes.md", "# Bikes\n\nThe chain wants oil after rain, and a wipe first.\n")
    env = {**os.environ, "QUIRE_HOME": str(tmp_path / "home"), "QUIRE_EMBED_MODEL": str(folder)}
    for argv in (["ingest", str(notes)], ["search", "descale the kettle", "--json"]):
        done = subprocess.run([QUIRE, *argv], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stderr.count("torch instead") == 1, done.stderr
    assert json.loads(done.stdout)[0]["source"].endswith("kettle.md")
