"""Every embedding path a CPU can choose, forced by settings, on whatever CPU runs the tests.

`QUIRE_EMBED_PRECISION=auto` picks torch bf16 where the CPU computes bf16 natively and int8
ONNX elsewhere; `fp32` and the torch backend are the other choices. CI may draw either kind
of machine, so each path is forced here: ingest real notes through it, search with the fp32
ONNX query embedder, and check the right note comes first and the path really ran.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from quire.engine import build_engine
from rag.retrieval.backends.onnx import OnnxEmbedder
from rag.retrieval.backends.torch import SentenceTransformerEmbedder
from rag.retrieval.embed import LocalEmbedder, resolve_precision
from rag.retrieval.store import MemoryStore
from rag.settings import Settings
from tests.helpers import write

NOTES = {
    "kettle.md": "# Kettle\n\nDescale the kettle with citric acid every month.\n",
    "bikes.md": "# Bikes\n\nThe chain wants oil after rain, and a wipe first.\n",
    "garden.md": "# Garden\n\nTomatoes want full sun and water every morning.\n",
}
QUESTIONS = {
    "how do I remove limescale from the kettle": "kettle.md",
    "what should I do to my bicycle chain when it has rained": "bikes.md",
    "how often to water tomato plants": "garden.md",
}


@pytest.mark.parametrize(
    "backend, precision, runs_on",
    [
        ("auto", "int8", ("onnx", "model-int8.onnx")),  # auto where the CPU has no bf16
        ("auto", "fp32", ("onnx", "model-fp32.onnx")),
        ("auto", "bf16", ("torch", "bf16")),  # auto where the CPU has bf16 (emulated if not)
        ("torch", "fp32", ("torch", "fp32")),
    ],
)
def test_each_embedding_path_ingests_and_finds(tmp_path, backend, precision, runs_on):
    for name, text in NOTES.items():
        write(tmp_path / "notes" / name, text)
    s = replace(
        Settings.from_env({"QUIRE_HOME": str(tmp_path / "home")}),
        embed_backend=backend,
        embed_precision=precision,
    )
    engine = build_engine(s, store=MemoryStore())
    try:
        report = engine.ingest([str(tmp_path / "notes")])
        assert report.count("added") == 3, report.to_dict()
        used = engine.embedder.for_documents()
        assert isinstance(engine.embedder, LocalEmbedder)
        if runs_on[0] == "onnx":
            assert isinstance(used, OnnxEmbedder) and used.onnx_file.name == runs_on[1]
        else:
            assert isinstance(used, SentenceTransformerEmbedder) and used.precision == runs_on[1]
        for question, note in QUESTIONS.items():
            hits = engine.search(question, k=3)
            found = [h.chunk.source for h in hits]
            assert found and found[0].endswith(note), (question, found)
    finally:
        engine.close()


def test_auto_resolves_to_one_of_the_forced_paths():
    """Whatever this CPU is, `auto` lands on a path the test above forces."""
    assert resolve_precision("auto", onnx=True) in ("bf16", "int8")
    assert resolve_precision("auto", onnx=False) in ("bf16", "fp32")
