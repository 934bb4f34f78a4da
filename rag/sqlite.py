"""How Quire opens its SQLite files (manifest, keyword index)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_db(path: Path, schema: str) -> sqlite3.Connection:
    """Autocommit connection in WAL mode (readers never block the writer), waiting up to 30 s
    for a lock, with `schema` applied. Usable from any thread (the app runs each script run on
    a new one); SQLite itself serialises calls on one connection."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db
