"""Small helpers shared by the tests."""

from __future__ import annotations

import os
from pathlib import Path


def write(path: Path, text: str | bytes) -> Path:
    """Write a file, making its folders; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def bump_mtime(path: Path, seconds: int = 5) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))
