"""Typed errors raised by the library; the CLI and UI turn them into messages."""


class QuireError(Exception):
    """Base of every error Quire raises on purpose."""


class SettingsError(QuireError):
    """An environment variable or setting has a value Quire cannot use."""


class IndexMismatchError(QuireError):
    """The index on disk was built with another embedder or chunker."""


class LoadError(QuireError):
    """A file could not be read or parsed; the message is the reason shown to the user."""
