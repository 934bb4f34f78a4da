"""The `quire` command line. With app.py, the only place that talks to a person: one module
per group of commands (library, watching, search, chat, bench), each adding its own
subcommands; everything printed goes through `quire.cli.output.say`.

Exit codes: 0 done; 1 done, but some files failed (the report says which and why);
2 the command could not run (bad usage, bad settings, an index built with other settings).
"""

from __future__ import annotations

import argparse
import os
import sys

from quire.cli import bench, chat, library, search, session, watching
from quire.cli.output import clean_terminal, one_line, say, summary  # noqa: F401  (API)
from rag.errors import QuireError, is_disk_full
from rag.home import private_files, private_home

READ_ONLY = {"search", "related", "ask"}
NO_HOME = {"models", "bench", "prepare"}  # commands that never open QUIRE_HOME


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    private_files()
    try:
        if args.command not in NO_HOME:
            from rag.settings import Settings

            private_home(Settings.from_env().home)  # refused if another user owns or may write it
        return args.func(args)
    except QuireError as exc:
        say(f"quire: {one_line(str(exc))}", err=True)
        return 2
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        say(f"quire: the disk is full ({one_line(str(exc))})", err=True)
        return 2
    except KeyboardInterrupt:
        say("quire: interrupted; run the same command again to finish", err=True)
        return 130


def run() -> None:
    """The `quire` command. A command that only reads (search, related, ask) starts opening
    the store in a child process at once (`quire.engine.early_store`), and ends without
    tearing its libraries down (measured: 0.2-0.3 s of a 1.5 s cold search went to Chroma's
    and ONNX Runtime's teardown); their writes are committed by then."""
    argv = sys.argv[1:]
    read_only = bool(argv) and argv[0] in READ_ONLY
    if read_only:
        from quire.engine import early_store

        session.early = early_store(argv[0])
    try:
        code = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:  # `quire search ... | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    if read_only:
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


class Parser(argparse.ArgumentParser):
    """argparse, whose messages quote what was typed ("unrecognized arguments: ..."), printed
    as safely as everything else."""

    def _print_message(self, message: str, file=None) -> None:
        if message:
            try:
                (file or sys.stderr).write(clean_terminal(message))
            except (AttributeError, OSError):
                pass


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="quire",
        description="Quire: ask questions of your own notes, PDFs and code, offline.",
        epilog="Data lives under $QUIRE_HOME (default ~/.local/share/quire).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (library, watching, search, chat, bench):
        group.add(sub)
    return p
