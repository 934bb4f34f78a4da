"""Office files and e-books are zip archives: before a library opens one, its declared sizes
are checked, so a zip bomb is refused instead of inflated (Python's zipfile never reads past a
member's declared size, so the declaration bounds the work)."""

from __future__ import annotations

import io
import zipfile

from rag.errors import LoadError

MAX_TOTAL = 512 * 2**20  # bytes, all members inflated
MAX_RATIO = 1000  # inflated / compressed, for a member over MAX_PLAIN
MAX_PLAIN = 32 * 2**20
MAX_MEMBERS = 100_000


def checked_zip(data: bytes, what: str) -> zipfile.ZipFile:
    """The archive, if it is one and is not a bomb; else LoadError with the reason."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise LoadError(f"damaged or truncated {what} ({exc})") from None
    if len(infos) > MAX_MEMBERS:
        raise LoadError(f"{what} with {len(infos):,} parts: refused (a zip bomb?)")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_PLAIN and ratio > MAX_RATIO:
            raise LoadError(
                f"{what} whose part {info.filename[:80]!r} inflates {ratio:,.0f} times, to "
                f"{info.file_size / 2**20:,.0f} MB: refused (a zip bomb?)"
            )
        if info.flag_bits & 0x1:
            raise LoadError(f"{what} with encrypted parts: it needs a password")
    if total > MAX_TOTAL:
        raise LoadError(
            f"{what} that inflates to {total / 2**20:,.0f} MB, over {MAX_TOTAL / 2**20:,.0f} MB: "
            "refused (a zip bomb?)"
        )
    return z
