"""Typed errors raised by the library; the CLI and UI turn them into messages."""


class QuireError(Exception):
    """Base of every error Quire raises on purpose."""


class SettingsError(QuireError):
    """An environment variable or setting has a value Quire cannot use."""


class IndexMismatchError(QuireError):
    """The index on disk was built with another embedder or chunker."""


class LoadError(QuireError):
    """A file could not be read or parsed; the message is the reason shown to the user."""


class DiskFullError(QuireError):
    """The disk holding QUIRE_HOME filled up: the run stopped, keeping what it had committed."""


def is_disk_full(exc: BaseException | None) -> bool:
    """True if `exc`, or an exception it came from, says the disk is full (an OSError with
    ENOSPC or EDQUOT, SQLite's "database or disk is full", or a library's wrapped message)."""
    import errno

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc).lower()
        if "disk is full" in text or "no space left on device" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def brief(exc: BaseException, limit: int = 160) -> str:
    """An exception as part of a one-line reason: its message, whitespace collapsed, cut to
    `limit` characters (its class name if it says nothing)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
