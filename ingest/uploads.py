"""Files given to Quire by upload (the app): stored under QUIRE_HOME with safe names, once each,
and recorded, so that Quire deletes only files it created.

A file is written to a hidden temporary name, synced, then hard-linked to its final name,
which fails if the name is taken (so two uploads racing for one name never overwrite each
other, and a killed upload never leaves a half-written file under a real name). The record
(a small SQLite ledger) holds each created file's device, inode and SHA-256: a file the user
put in the folder, or one that replaced or changed Quire's, is never deleted by Quire.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.sqlite import open_db, transaction

_UNSAFE = re.compile(r"[^\w.\- ()+,]+", re.UNICODE)
MAX_NAME_BYTES = 200  # UTF-8 bytes; file systems allow 255, and " (12)" may be added
_TEMP = ".upload-"
_STALE_SECONDS = 3600  # a temporary file this old is left from a killed upload

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    path TEXT PRIMARY KEY,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_sha ON uploads(sha256);
"""


@dataclass(frozen=True)
class Saved:
    """Where an upload went; `duplicate` is True when the same bytes were already there."""

    path: Path
    duplicate: bool


def safe_name(name: str) -> str:
    """A file name that stays inside its folder: no path parts, no leading dots, no controls,
    at most MAX_NAME_BYTES bytes in UTF-8 (the extension kept).

    `../../etc/x.md` becomes `x.md`; `C:\\Users\\a\\notes.txt` becomes `notes.txt`."""
    name = unicodedata.normalize("NFKC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = _cut(ext, 16)
    stem = _cut(stem, MAX_NAME_BYTES - len(ext.encode()) - 1).strip(" .") or "upload"
    return f"{stem}.{ext}" if ext else stem


def _cut(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` bytes of UTF-8, never inside a character."""
    return text.encode()[: max(0, max_bytes)].decode("utf-8", "ignore")


class Uploads:
    """The uploads folder and its ledger. Thread-safe; several processes may share them."""

    def __init__(self, folder: Path, ledger: Path):
        self.folder = Path(folder)
        self._db = open_db(ledger, _SCHEMA)
        self._lock = threading.Lock()

    def save(self, name: str, data: bytes) -> Saved:
        """Store `data` under a safe form of `name`; the same bytes uploaded again (under any
        name) are not stored twice: the earlier file is returned with `duplicate=True`. A
        different file whose name is taken gets `name (2)`, `name (3)` ..."""
        self.folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(data).hexdigest()
        with self._lock, transaction(self._db):  # other processes saving wait their turn
            earlier = self._find(digest)
            if earlier is not None:
                return Saved(earlier, True)
            self._clean_temp()
            path = self._place(safe_name(name), data)
            st = os.lstat(path)
            self._db.execute(
                "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?, ?)",
                (_key(path), st.st_dev, st.st_ino, digest, time.time()),
            )
        return Saved(path, False)

    def owns(self, path: str | Path) -> bool:
        """True if `path` is still the very file an upload created: a regular file (not a link
        to one) with the same device, inode and content (an inode number is reused when a
        file is deleted and another made)."""
        row = self._db.execute(
            "SELECT dev, ino, sha256 FROM uploads WHERE path = ?", (_key(path),)
        ).fetchone()
        if row is None:
            return False
        try:
            st = os.lstat(path)
        except OSError:
            return False
        same = (st.st_dev, st.st_ino) == tuple(row[:2]) and _is_regular(st)
        return same and _sha256(Path(path), st) == row[2]

    def delete(self, path: str | Path) -> bool:
        """Delete `path` from disk if Quire created it; True if it did. Any other file is
        left alone, whatever folder it is in."""
        with self._lock:
            owned = self.owns(path)
            if owned:
                Path(path).unlink(missing_ok=True)
            self._db.execute("DELETE FROM uploads WHERE path = ?", (_key(path),))
        return owned

    def close(self) -> None:
        self._db.close()

    # --- inside the lock ----------------------------------------------------------------

    def _find(self, digest: str) -> Path | None:
        rows = self._db.execute("SELECT path FROM uploads WHERE sha256 = ?", (digest,))
        for (path,) in rows.fetchall():
            if self.owns(path):
                return Path(path)
        return None

    def _place(self, name: str, data: bytes) -> Path:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=_TEMP)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            stem, ext = os.path.splitext(name)
            for n in range(1, 10_000):
                path = self.folder / (name if n == 1 else f"{stem} ({n}){ext}")
                if _claim(tmp, path):
                    return path
            raise OSError(errno.EEXIST, "no free name for this upload")
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _clean_temp(self) -> None:
        """Remove temporary files left by uploads that were killed while writing."""
        now = time.time()
        for p in self.folder.glob(_TEMP + "*"):
            try:
                if now - p.lstat().st_mtime > _STALE_SECONDS:
                    p.unlink()
            except OSError:
                pass


def _claim(tmp: str, path: Path) -> bool:
    """Give the written file at `tmp` the name `path` if nobody has it (atomically)."""
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    # No hard links here (FAT, some network shares): reserve the name, then move onto it.
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    os.replace(tmp, path)
    return True


def _key(path: str | Path) -> str:
    """The ledger's name for a file: its folder's real path (a symlinked uploads folder is
    resolved) and its own name (a symlink in the folder is not followed)."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(folder), name)


def _is_regular(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(st.st_mode)


def _sha256(path: Path, st: os.stat_result) -> str:
    """The SHA-256 of the file at `path` if it is still the regular file `st` describes ("" if
    not): opened without following a link or blocking on a FIFO put there meanwhile."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    h = hashlib.sha256()
    try:
        fd = os.open(path, flags)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as f:
        now = os.fstat(fd)
        if not _is_regular(now) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return ""
        try:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        except OSError:
            return ""
    return h.hexdigest()
