"""Imports run one way: app.py -> quire/ -> ingest/ -> rag/. No upward import, not even a lazy
one inside a function; Streamlit only in app.py and the app's pages (quire/app/)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"rag": 0, "ingest": 1, "quire": 2, "app": 3}  # a layer may import those below it
STREAMLIT_PAGES = ("app.py", "quire/app/")


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, at any depth (lazy ones too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def violations(root: Path) -> list[str]:
    """Every upward import, and every Streamlit import outside the app's pages, under `root`."""
    bad = []
    files = [root / "app.py"] if (root / "app.py").exists() else []
    for layer in ("rag", "ingest", "quire"):
        files += sorted((root / layer).rglob("*.py"))
    for path in files:
        rel = path.relative_to(root).as_posix()
        own = LAYERS[rel.split("/")[0].removesuffix(".py")]
        for line, module in imported(path):
            top = module.split(".")[0]
            if top in LAYERS and LAYERS[top] > own:
                bad.append(f"{rel}:{line} imports {module} (a layer above it)")
            if top == "streamlit" and not rel.startswith(STREAMLIT_PAGES):
                bad.append(f"{rel}:{line} imports streamlit (only app.py and quire/app/ may)")
            if rel == "quire/app/services.py" and top == "streamlit":
                bad.append(f"{rel}:{line} imports streamlit (services know no UI)")
    return bad


def test_imports_run_one_way():
    assert violations(ROOT) == []


def test_the_check_finds_an_upward_import_and_a_stray_streamlit(tmp_path):
    """The check itself: a lazy rag -> ingest import, an ingest -> quire one and Streamlit in
    quire/cli are each reported."""
    (tmp_path / "rag").mkdir()
    (tmp_path / "ingest").mkdir()
    (tmp_path / "quire" / "cli").mkdir(parents=True)
    (tmp_path / "rag" / "x.py").write_text("def f():\n    from ingest.formats import kind_named\n")
    (tmp_path / "ingest" / "y.py").write_text("import quire.engine\n")
    (tmp_path / "quire" / "cli" / "z.py").write_text("import streamlit as st\n")
    (tmp_path / "quire" / "ok.py").write_text("from ingest import load\nfrom rag import types\n")
    found = violations(tmp_path)
    assert len(found) == 3, found
    assert any("rag/x.py:2 imports ingest.formats" in v for v in found)
