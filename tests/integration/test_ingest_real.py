"""Ingest with the real all-MiniLM-L6-v2 and Chroma on disk, on documents made here."""

from __future__ import annotations

import os
import random
import string
from pathlib import Path

from ingest.chunk import chunk_document
from ingest.load import load
from rag.retrieval.backends.bundled import BUNDLED_EMBEDDER
from rag.retrieval.store import ChromaStore
from rag.tokens import encoding
from tests.helpers import bump_mtime, write
from tests.pdfs import make_pdf

FROG = "The glass frog of the Andes has a translucent belly and lives near waterfalls."


def corpus(root: Path) -> Path:
    pages = [
        "Chapter one introduces the survey of amphibians in South America.",
        "Chapter two describes the methods: transects, night walks and audio traps.",
        "Chapter three. " + FROG + " Its call is a short metallic whistle.",
        "Chapter four discusses conservation and habitat loss.",
    ]
    write(root / "papers" / "frogs.pdf", make_pdf(pages))
    write(
        root / "notes" / "kitchen.md",
        "# Kitchen\n\n## Bread\n\nSourdough needs a starter fed daily with flour and water.\n\n"
        "## Coffee\n\nGrind beans coarsely for a French press and steep four minutes.\n",
    )
    write(
        root / "code" / "geometry.py",
        '"""Shapes."""\n\nimport math\n\n\ndef circle_area(radius):\n'
        '    """Area of a circle from its radius."""\n    return math.pi * radius**2\n\n\n'
        "class Rectangle:\n    def __init__(self, w, h):\n        self.w, self.h = w, h\n",
    )
    return root


def test_no_chunk_is_longer_than_the_model_accepts(real_embedder):
    rnd = random.Random(0)
    blob = "".join(rnd.choice(string.ascii_letters + string.digits + "+/") for _ in range(6000))
    cjk = "".join(chr(rnd.randint(0x4E00, 0x9FFF)) for _ in range(3000))
    code = "\n".join(f"x_{i} = compute_value(alpha_{i}, beta_{i}) # {i}" for i in range(300))
    urls = " ".join(f"https://example.org/{i}/q?id={i * 7919}&k=v" for i in range(300))
    text = "\n\n".join([blob, cjk, code, urls])
    doc = load("hard.txt", text.encode())
    limit = real_embedder.max_tokens
    assert limit == 256
    chunks = chunk_document(doc, "/hard.txt", 200, 32, real_embedder.count_tokens, limit)
    counts = real_embedder.count_tokens([c.text for c in chunks])
    assert max(counts) <= limit
    # Teeth: plain 200-token tiktoken windows of this text would be truncated by the model.
    enc = encoding()
    ids = enc.encode_ordinary(urls)
    assert real_embedder.count_tokens([enc.decode(ids[:200])])[0] > limit
    for c in chunks:
        assert doc.pages[0][c.start : c.end] == c.text


def test_ingest_search_finds_the_right_pdf_page_and_function(tmp_path, make_engine, real_embedder):
    root = corpus(tmp_path / "lib")
    engine = make_engine(
        embedder=real_embedder, store=ChromaStore(tmp_path / "chroma"), chunk_tokens=200
    )
    report = engine.ingest([str(root)])
    assert report.counts["added"] == 3 and report.counts["failed"] == 0
    meta = engine.manifest.get_meta()
    assert meta["embedding_model"] == BUNDLED_EMBEDDER and meta["embedding_dim"] == "384"

    best = engine.search("Which frog has a see-through belly?", k=3)[0].chunk
    assert best.source.endswith("frogs.pdf") and best.page == 3  # hybrid, through the engine

    q = real_embedder.embed(["Which frog has a see-through belly?"])[0]
    top = engine.store.query(q, 3)[0].chunk
    assert top.source.endswith("frogs.pdf") and top.page == 3
    page3 = load("f.pdf", (root / "papers" / "frogs.pdf").read_bytes()).pages[2]
    assert page3[top.start : top.end] == top.text and "translucent belly" in top.text

    q = real_embedder.embed(["function computing the area of a circle"])[0]
    top = engine.store.query(q, 1)[0].chunk
    assert top.source.endswith("geometry.py") and top.heading == ("def circle_area",)
    assert (top.line_start, top.line_end) == (6, 8)

    q = real_embedder.embed(["how long to steep coffee"])[0]
    top = engine.store.query(q, 1)[0].chunk
    assert top.heading == ("Kitchen", "Coffee")


def test_edit_and_sync_with_real_store(tmp_path, make_engine, real_embedder):
    root = corpus(tmp_path / "lib")
    store = ChromaStore(tmp_path / "chroma")
    engine = make_engine(embedder=real_embedder, store=store, chunk_tokens=200)
    engine.ingest([str(root)])
    note = root / "notes" / "kitchen.md"
    write(note, "# Kitchen\n\n## Tea\n\nGreen tea wants water at eighty degrees.\n")
    bump_mtime(note)
    report = engine.sync(str(root))
    assert {Path(f.path).name: f.status for f in report.files} == {
        "frogs.pdf": "unchanged",
        "kitchen.md": "updated",
        "geometry.py": "unchanged",
    }
    hits = store.query(real_embedder.embed(["coffee French press"])[0], 10)
    assert all("French press" not in h.chunk.text for h in hits)
    os.remove(root / "papers" / "frogs.pdf")
    report = engine.sync(str(root))
    assert report.counts["removed"] == 1
    hits = store.query(real_embedder.embed(["translucent belly frog"])[0], 10)
    assert all(not h.chunk.source.endswith("frogs.pdf") for h in hits)
    for mode in ("dense", "keyword", "hybrid"):
        found = engine.search("translucent belly frog waterfalls", 10, mode=mode)
        assert all(not h.chunk.source.endswith("frogs.pdf") for h in found), mode
    assert engine.lexical.count() == store.count()
    assert store.count() == sum(len(r.chunk_ids) for r in engine.manifest.records())
