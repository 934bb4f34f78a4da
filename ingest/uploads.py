"""Files given to Quire by upload (the app): stored under QUIRE_HOME with safe names, once each."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

_UNSAFE = re.compile(r"[^\w.\- ()+,]+", re.UNICODE)
MAX_NAME = 120


@dataclass(frozen=True)
class Saved:
    """Where an upload went; `duplicate` is True when the same bytes were already there."""

    path: Path
    duplicate: bool


def safe_name(name: str) -> str:
    """A file name that stays inside its folder: no path parts, no leading dots, no controls.

    `../../etc/x.md` becomes `x.md`; `C:\\Users\\a\\notes.txt` becomes `notes.txt`."""
    name = unicodedata.normalize("NFKC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ext[:16]
    stem = stem[: MAX_NAME - len(ext) - 1].strip(" .") or "upload"
    return f"{stem}.{ext}" if ext else stem


def save_upload(folder: Path, name: str, data: bytes) -> Saved:
    """Write `data` into `folder` under a safe form of `name`, atomically.

    The same bytes uploaded again (under any name) are not stored twice: the existing file is
    returned with `duplicate=True`. A different file with a name already taken gets `name (2)`."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    for existing in folder.iterdir():
        if existing.is_file() and existing.stat().st_size == len(data):
            if _sha256(existing) == digest:
                return Saved(existing, True)
    target = _free_path(folder, safe_name(name))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    assert target.resolve().parent == folder.resolve()
    return Saved(target, False)


def _free_path(folder: Path, name: str) -> Path:
    path = folder / name
    stem, ext = os.path.splitext(name)
    n = 2
    while path.exists():
        path = folder / f"{stem} ({n}){ext}"
        n += 1
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
