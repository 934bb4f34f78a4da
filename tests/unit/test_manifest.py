"""The SQLite manifest."""

from __future__ import annotations

from ingest.manifest import FileRecord, Manifest


def rec(path: str, **kw) -> FileRecord:
    base = dict(kind="markdown", size=10, mtime_ns=5, sha256="ab", status="indexed")
    return FileRecord(path=path, **{**base, **kw})


def test_put_get_touch_delete(tmp_path):
    m = Manifest(tmp_path / "m.sqlite3")
    m.put(rec("/n/a.md", chunk_ids=("x", "y"), notes=("decoded as cp1252",), pages=0))
    got = m.get("/n/a.md")
    assert got.chunk_ids == ("x", "y") and got.notes == ("decoded as cp1252",)
    m.touch("/n/a.md", 11, 6)
    assert (m.get("/n/a.md").size, m.get("/n/a.md").mtime_ns) == (11, 6)
    m.delete("/n/a.md")
    assert m.get("/n/a.md") is None


def test_paths_under_matches_folder_not_prefix(tmp_path):
    m = Manifest(tmp_path / "m.sqlite3")
    for p in ("/n/a.md", "/n/sub/b.md", "/n2/c.md", "/n"):
        m.put(rec(p))
    assert m.paths_under("/n") == ["/n", "/n/a.md", "/n/sub/b.md"]
    assert m.paths_under("/n/") == ["/n/a.md", "/n/sub/b.md"]
    assert m.paths_under("/n/a.md") == ["/n/a.md"]


def test_survives_reopen_and_keeps_meta(tmp_path):
    m = Manifest(tmp_path / "m.sqlite3")
    m.put(rec("/a.md", chunk_ids=("1",)))
    m.set_meta({"embedding_model": "mini", "embedding_dim": "384"})
    m.close()
    again = Manifest(tmp_path / "m.sqlite3")
    assert again.get_meta() == {"embedding_model": "mini", "embedding_dim": "384"}
    assert [d.chunks for d in again.documents()] == [1]
    again.clear()
    assert again.records() == [] and again.get_meta() == {}


def test_a_manifest_from_before_cut_at_gains_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "m.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE files (path TEXT PRIMARY KEY, kind TEXT NOT NULL, size INTEGER NOT NULL, "
        "mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, pages INTEGER NOT NULL, "
        "chunk_ids TEXT NOT NULL, status TEXT NOT NULL, error TEXT NOT NULL, "
        "notes TEXT NOT NULL, indexed_at REAL NOT NULL)"
    )
    old.execute(
        "INSERT INTO files VALUES ('/n/a.md','markdown',1,2,'ab',0,'[]','indexed','','[]',3)"
    )
    old.commit()
    old.close()
    m = Manifest(path)
    assert m.get("/n/a.md").cut_at == ""
    m.put(rec("/n/scan.pdf", cut_at="seconds=300", error="first 2 of 9 pages indexed; ..."))
    assert m.get("/n/scan.pdf").cut_at == "seconds=300"
    m.close()
    assert Manifest(path).get("/n/scan.pdf").cut_at == "seconds=300"  # opened again: no change
