"""Answer models the user already has: the bundled GGUF, GGUF files on disk, local LLM servers.

Nothing here downloads anything, and the only network it touches is this computer's loopback.
The files are found by `model_files`, the servers by `model_servers`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from rag.answer.choice import ModelChoice, file_choice
from rag.answer.generate import bundled_gguf_path
from rag.answer.gguf import read_gguf_cached
from rag.answer.model_files import MIN_BYTES, local_gguf_files
from rag.answer.model_servers import DEFAULT_PORTS, local_servers
from rag.errors import QuireError


def bundled_choice() -> ModelChoice | None:
    """The model shipped with Quire (SmolLM2-135M-Instruct), or None if it is not installed."""
    try:
        path = bundled_gguf_path()
    except QuireError:
        return None
    info = read_gguf_cached(path, MIN_BYTES)
    if info is None:
        return None
    name = path.name.removesuffix(".gguf").removesuffix(f".{info.quantization}")
    return file_choice("bundled", "bundled", name, path, info)


def discover(
    include_servers: bool = True,
    roots: Mapping[str, Sequence[str | os.PathLike[str]]] | None = None,
    ports: Mapping[int, str] = DEFAULT_PORTS,
    home: str | os.PathLike[str] | None = None,
) -> list[ModelChoice]:
    """Every answer model usable offline: the bundled one, then GGUF files here, then servers."""
    bundled = bundled_choice()
    choices = [bundled] if bundled else []
    taken = {os.path.realpath(bundled.path)} if bundled and bundled.path else set()
    choices += [c for c in local_gguf_files(roots, home) if os.path.realpath(c.path) not in taken]
    if include_servers:
        choices += local_servers(ports)
    return choices
