"""What one `quire` command shares between its parts: the engine it builds, and the store a
read-only command's child process opened meanwhile (`quire.engine.early_store`)."""

from __future__ import annotations

from quire.cli.output import say

early = None  # the store a child process opens while this one loads the embedder


def settings(follow_links: bool = False):
    """The settings from the environment (`--follow-links` turns link following on)."""
    import dataclasses

    from rag.settings import Settings

    s = Settings.from_env()
    return dataclasses.replace(s, follow_links=True) if follow_links else s


def engine(follow_links: bool = False):
    """The engine for this command, saying so when another process holds the write lock."""
    from quire.engine import build_engine  # heavy imports wait until a command needs them

    built = build_engine(settings(follow_links), store=early)
    built.ingestor.on_wait = lambda who: say(
        f"quire: {who} is changing this library ({built.settings.home}); waiting for it to finish",
        err=True,
        flush=True,
    )
    return built
