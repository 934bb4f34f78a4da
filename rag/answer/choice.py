"""One answer model the user could pick, and how it is labelled in lists."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from rag.answer.gguf import GGUFInfo, format_params

OLLAMA = "Ollama"  # an origin: files in an Ollama store, or its server


@dataclass(frozen=True)
class ModelChoice:
    """One answer model the user could pick: a GGUF file to run here, or a local server's model."""

    kind: str  # "bundled" | "gguf" | "server"
    origin: str  # "bundled", "Ollama", "LM Studio", "Hugging Face cache", "llama.cpp server", ...
    label: str
    path: str | None = None
    url: str | None = None
    model: str = ""
    params: int | None = None
    context_length: int | None = None
    size_bytes: int | None = None
    run_by: str = ""  # a server run by another user of this computer: that user's name

    def to_dict(self) -> dict:
        """A plain dict (for JSON and the CLI)."""
        return asdict(self)


def label(name: str, origin: str, *details: str | None) -> str:
    """How a model reads in a list: "name (origin, details...)", empty details left out."""
    extra = ", ".join(d for d in (origin, *details) if d)
    return f"{name} ({extra})"


def file_choice(kind: str, origin: str, name: str, path: Path, info: GGUFInfo) -> ModelChoice:
    """The choice of a GGUF file to run here, labelled with its size and quantisation."""
    return ModelChoice(
        kind=kind,
        origin=origin,
        label=label(name, origin, format_params(info.params), info.quantization),
        path=str(path),
        params=info.params,
        context_length=info.context_length,
        size_bytes=info.size_bytes,
    )
