"""Excerpts as the model sees them: numbered, delimited as data, cut to fit a budget."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from rag.answer.citations import sentences
from rag.answer.prompts import render
from rag.types import Chunk

_TAG = re.compile(r"<(/?\s*excerpt)", re.IGNORECASE)


def _inert(text: str) -> str:
    """Document text that cannot close or open an excerpt block (a document may try to)."""
    return _TAG.sub(r"‹\1", text)


def _attr(text: str) -> str:
    return _inert(text).replace('"', "'").replace("\n", " ")


def excerpt_block(n: int, chunk: Chunk) -> str:
    where = []
    if chunk.page is not None:
        where.append(f' page="{chunk.page}"')
    if chunk.heading:
        where.append(f' section="{_attr(" > ".join(chunk.heading))}"')
    name = _attr(chunk.source.rsplit("/", 1)[-1])
    return render("excerpt", n=n, source=name, location="".join(where), text=_inert(chunk.text))


def trim_to_fit(chunk: Chunk, fits: Callable[[Chunk], bool]) -> Chunk | None:
    """The longest run of whole leading sentences of `chunk` that fits, or None."""
    spans = sentences(chunk.text)
    for k in range(len(spans) - 1, 0, -1):
        end = spans[k - 1][1]
        part = replace(chunk, text=chunk.text[:end], end=chunk.start + end)  # same id
        if fits(part):
            return part
    return None
