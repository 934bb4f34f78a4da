"""Every file type Quire reads: a registry from file name suffix to the loader of its family.

A loader takes the file's bytes, the `Limits` and the `Options` and returns a `Document`, or
raises LoadError with the reason. Loaders are imported when first needed, so a library that
reads one format costs nothing until a file of that format comes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from ingest.limits import Limits, Options
from rag.types import Document


@dataclass(frozen=True)
class Format:
    kind: str  # stored with every chunk; `quire search --type` filters on it
    suffixes: tuple[str, ...]
    loader: str  # "module:function"
    label: str  # how the app's uploader names it

    def load(self, data: bytes, limits: Limits, options: Options) -> Document:
        module, function = self.loader.split(":")
        return getattr(importlib.import_module(module), function)(data, limits, options)


FORMATS = (
    Format("markdown", (".md", ".markdown"), "ingest.formats.text:load_markdown", "Markdown"),
    Format("text", (".txt",), "ingest.formats.text:load_text", "text"),
    Format("pdf", (".pdf",), "ingest.formats.pdf:load", "PDF"),
    Format("python", (".py",), "ingest.formats.code:load_python", "Python"),
)
_BY_SUFFIX = {suffix: f for f in FORMATS for suffix in f.suffixes}
KINDS = frozenset(f.kind for f in FORMATS)


def format_for(path: str | Path) -> Format | None:
    """The format of a file, by its name, or None if Quire does not read that type."""
    return _BY_SUFFIX.get(Path(path).suffix.lower())


def suffixes() -> list[str]:
    """Every suffix Quire reads, without the dot (for the app's uploader)."""
    return sorted(s.lstrip(".") for s in _BY_SUFFIX)
