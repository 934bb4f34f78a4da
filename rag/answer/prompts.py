"""Prompt templates from `prompts/*.txt`, rendered by one function that refuses gaps."""

from __future__ import annotations

import functools
import string
from pathlib import Path

from rag.errors import QuireError

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


@functools.cache
def template(name: str) -> str:
    """The text of `prompts/<name>.txt`."""
    path = PROMPTS_DIR / f"{name}.txt"
    if not path.is_file():
        raise QuireError(f"no prompt template {name!r} in {PROMPTS_DIR}")
    return path.read_text(encoding="utf-8").rstrip("\n")


def render(name: str, **values: object) -> str:
    """Fill template `name`; a variable the template uses but `values` lacks is an error,
    and so is a value the template never uses (a typo in a caller)."""
    text = template(name)
    wanted = {field for _, field, _, _ in string.Formatter().parse(text) if field}
    missing = wanted - values.keys()
    if missing:
        raise QuireError(f"prompt {name!r} needs {', '.join(sorted(missing))}")
    unused = values.keys() - wanted
    if unused:
        raise QuireError(f"prompt {name!r} has no {', '.join(sorted(unused))}")
    return text.format(**values)
