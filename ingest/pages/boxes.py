"""Where the words of OCR'd pages are on the page: kept per file (its path and content's
SHA-256) under QUIRE_HOME/boxes/, so the app can highlight a quote on a scanned page or an
image."""

from __future__ import annotations

import json
import os
from pathlib import Path


def _path(home: Path, source: str, sha256: str) -> Path:
    import hashlib

    key = hashlib.sha256(f"{source}\0{sha256}".encode("utf-8", "surrogatepass")).hexdigest()
    return home / "boxes" / f"{key}.json"


def save(home: Path, source: str, sha256: str, boxes) -> None:
    """Write the boxes ((page, start, end, x0, y0, x1, y1) ...) atomically."""
    path = _path(home, source, sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps([list(b) for b in boxes]), encoding="ascii")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def delete(home: Path, source: str, sha256: str) -> None:
    _path(home, source, sha256).unlink(missing_ok=True)


def of_span(
    home: Path, source: str, sha256: str, page: int | None, start: int, end: int
) -> list[tuple]:
    """The boxes of the words of `page` (0 for a file without pages) overlapping
    [start, end), as (x0, y0, x1, y1); [] when there are none (not OCR'd)."""
    try:
        rows = json.loads(_path(home, source, sha256).read_text(encoding="ascii"))
    except (OSError, ValueError):
        return []
    want = page or 0
    return [
        tuple(r[3:7])
        for r in rows
        if isinstance(r, list) and len(r) == 7 and r[0] == want and r[1] < end and r[2] > start
    ]
