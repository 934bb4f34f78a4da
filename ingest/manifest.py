"""The manifest: a SQLite table of every file Quire has seen, and the index's own metadata."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.sqlite import open_db, transaction
from rag.types import DocumentInfo

INDEXED, FAILED = "indexed", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    pages INTEGER NOT NULL,
    chunk_ids TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL,
    notes TEXT NOT NULL,
    indexed_at REAL NOT NULL,
    cut_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class FileRecord:
    """What the manifest knows of one file."""

    path: str
    kind: str
    size: int
    mtime_ns: int
    sha256: str
    status: str
    pages: int = 0
    chunk_ids: tuple[str, ...] = ()
    error: str = ""
    notes: tuple[str, ...] = ()
    indexed_at: float = field(default_factory=time.time)
    # The limit that cut the file short, "seconds=300" (QUIRE_PARSE_SECONDS) or "pages=20000"
    # (QUIRE_MAX_PAGES), "" if none did: the file is read again once that limit is raised.
    # `error` then says what was skipped (an indexed file) or why it failed.
    cut_at: str = ""


class Manifest:
    """SQLite file at `path`; every write is its own transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_db(path, _SCHEMA)
        _add_column(self._db, "cut_at TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        self._db.close()

    def get(self, path: str) -> FileRecord | None:
        row = self._db.execute("SELECT * FROM files WHERE path = ?", (path,)).fetchone()
        return _record(row) if row else None

    def put(self, rec: FileRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                rec.path,
                rec.kind,
                rec.size,
                rec.mtime_ns,
                rec.sha256,
                rec.pages,
                json.dumps(list(rec.chunk_ids)),
                rec.status,
                rec.error,
                json.dumps(list(rec.notes)),
                rec.indexed_at,
                rec.cut_at,
            ),
        )

    def touch(self, path: str, size: int, mtime_ns: int) -> None:
        """Record a new mtime for a file whose content did not change."""
        self._db.execute(
            "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path)
        )

    def delete(self, path: str) -> None:
        self._db.execute("DELETE FROM files WHERE path = ?", (path,))

    def records(self) -> list[FileRecord]:
        rows = self._db.execute("SELECT * FROM files ORDER BY path").fetchall()
        return [_record(r) for r in rows]

    def paths_under(self, prefix: str) -> list[str]:
        """Paths equal to `prefix` or inside the folder `prefix`."""
        folder = prefix.rstrip(os.sep) + os.sep
        rows = self._db.execute(
            "SELECT path FROM files WHERE path = ? OR substr(path, 1, ?) = ? ORDER BY path",
            (prefix, len(folder), folder),
        ).fetchall()
        return [r[0] for r in rows]

    def documents(self) -> list[DocumentInfo]:
        return [
            DocumentInfo(
                path=r.path,
                status=r.status,
                kind=r.kind,
                size=r.size,
                pages=r.pages,
                chunks=len(r.chunk_ids),
                error=r.error,
                indexed_at=r.indexed_at,
            )
            for r in self.records()
        ]

    def get_meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, meta: dict[str, str]) -> None:
        with transaction(self._db) as db:
            db.execute("DELETE FROM meta")
            db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])

    def clear(self) -> None:
        with transaction(self._db) as db:
            db.execute("DELETE FROM files")
            db.execute("DELETE FROM meta")


def _add_column(db, column: str) -> None:
    """Add a column a manifest made by an older Quire lacks (another process may race us)."""
    name = column.split()[0]
    if name in {r[1] for r in db.execute("PRAGMA table_info(files)")}:
        return
    try:
        db.execute(f"ALTER TABLE files ADD COLUMN {column}")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):
            raise


def _record(row) -> FileRecord:
    path, kind, size, mtime_ns, sha, pages, ids, status, error, notes, at, cut_at = row
    return FileRecord(
        path=path,
        kind=kind,
        size=size,
        mtime_ns=mtime_ns,
        sha256=sha,
        status=status,
        pages=pages,
        chunk_ids=tuple(json.loads(ids)),
        error=error,
        notes=tuple(json.loads(notes)),
        indexed_at=at,
        cut_at=cut_at,
    )
