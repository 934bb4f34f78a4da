"""Search filters from what a person typed (the CLI's --path and --type, a warm request)."""

from __future__ import annotations

from collections.abc import Sequence

from rag.errors import QuireError
from rag.retrieval.retrieve import Filters


def make_filters(path: str | None = None, types: Sequence[str] = ()) -> Filters:
    """Search filters from what a user typed: a folder, file or glob, and file types by any
    name a format has ("md", ".PDF", "Excel"); QuireError for an unknown type."""
    from ingest.formats import kind_named
    from rag.retrieval.retrieve import Filters

    kinds = []
    for t in types:
        kind = kind_named(t)
        if kind is None:
            raise QuireError(
                f"unknown file type {t!r}: use a file name's ending, such as md, pdf, docx, "
                "xlsx, pptx, html, epub, ipynb, eml, csv, js"
            )
        kinds.append(kind)
    return Filters(path=path, kinds=tuple(dict.fromkeys(kinds)))
