"""What the `quire` command prints: every line goes through `say`, which makes control
characters visible (a file name or a passage could otherwise drive the terminal)."""

from __future__ import annotations

import json
import os
import re
import sys
import time

from rag.types import FAILED, SKIPPED, FileResult, IngestReport


def say(text: str = "", *, err: bool = False, end: str = "\n", flush: bool = False) -> None:
    """Print `text` on stdout (stderr with `err`), made safe for a terminal: every line this
    command prints goes through here, since most of them carry a file name, a passage or an
    error that quotes one."""
    print(clean_terminal(text), end=end, file=sys.stderr if err else sys.stdout, flush=flush)


# Control characters but tab and newline, DEL, C1, bidi overrides and isolates (U+202A-E,
# U+2066-9: "evil\u202etxt.exe" shows as "evilexe.txt"), and lone surrogates (the bytes of a
# file name that is not UTF-8; print() would fail on them).


# Control characters but tab and newline, DEL, C1, bidi overrides and isolates (U+202A-E,
# U+2066-9: "evil\u202etxt.exe" shows as "evilexe.txt"), and lone surrogates (the bytes of a
# file name that is not UTF-8; print() would fail on them).
_UNSAFE = re.compile(r"\r\n?|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SPACES = "\x0b\x0c\x1c\x1d\x1e\x1f\x85"  # whitespace to Python: a PDF's page break, say


def clean_terminal(text: str) -> str:
    """Text safe to print: no escape or control sequence (a document could otherwise write the
    clipboard, set the window title or rewrite the screen). Carriage returns become newlines,
    other white space a space, and the rest is shown escaped (`\\x1b`), so a name stays
    recognisable."""
    return _UNSAFE.sub(_visible, text)


def _visible(match: re.Match) -> str:
    char = match.group()
    if char[0] == "\r":
        return "\n"
    if char in _SPACES:
        return " "
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str) -> str:
    return " ".join(text.split())


def print_documents(docs, query: str, as_json: bool, none: str) -> int:
    """Ranked documents, each with where its best passage is and a snippet of it."""
    if as_json:
        rows = [
            {
                "source": d.source,
                "score": round(d.score, 4),
                "chunk": chunk_dict(d.chunk),
                "hits": [hit_dict(h) for h in d.hits],
            }
            for d in docs
        ]
        say(json.dumps(rows, indent=2))
        return 0
    if not docs:
        say(none)
    for i, d in enumerate(docs, start=1):
        places = [h.chunk.location or " > ".join(h.chunk.heading) for h in d.hits]
        where = "; ".join(dict.fromkeys(p for p in places if p))
        where = f"   ({where})" if where else ""
        say(f"{i:2}. {rel(d.source)}   score {d.score:.4f}{where}")
        say(f"    {snippet(d.chunk.text, query)}")
    return 0


def chunk_dict(c) -> dict:
    return {
        "id": c.id,
        "source": c.source,
        "kind": c.kind,
        "page": c.page,
        "unit": c.unit or ("page" if c.page is not None else ""),
        "page_name": c.page_name,
        "location": c.location,
        "heading": list(c.heading),
        "start": c.start,
        "end": c.end,
        "line_start": c.line_start,
        "line_end": c.line_end,
        "text": c.text,
    }


def hit_dict(h) -> dict:
    return {
        "score": round(h.score, 6),
        "dense": None if h.dense is None else round(h.dense, 4),
        "keyword": None if h.keyword is None else round(h.keyword, 4),
        **chunk_dict(h.chunk),
    }


def where(c) -> str:
    parts = [c.location] if c.location else []
    if c.heading:
        parts.append(" > ".join(c.heading))
    return f"  ({'; '.join(parts)})" if parts else ""


def snippet(text: str, query: str, width: int = 240) -> str:
    """One line of the passage, centred on the first query word it contains."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    from rag.retrieval.lexical import query_terms

    lower = flat.lower()
    positions = [lower.find(t) for t in query_terms(query)]
    positions = [p for p in positions if p >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    start = min(start, len(flat) - width)
    piece = flat[start : start + width]
    return ("..." if start else "") + piece + ("..." if start + width < len(flat) else "")


def finish(report: IngestReport, as_json: bool, verb: str) -> int:
    if as_json:
        say(json.dumps(report.to_dict(), indent=2))
    else:
        say(summary(report, verb))
    return 1 if report.count(FAILED) else 0


def summary(report: IngestReport, verb: str = "Ingested") -> str:
    """The human report: one count line, then every failure and note with its file."""
    c = report.counts
    lines = [
        f"{verb} {len(report.files)} files in {report.seconds:.1f} s: "
        f"{c['added']} added, {c['updated']} updated, {c['unchanged']} unchanged, "
        f"{c['removed']} removed, {c['failed']} failed, {c['skipped']} skipped; "
        f"{report.chunks} chunks embedded ({report.chunks_per_second:.1f} chunks/s)"
    ]
    failed = [f for f in report.files if f.status == FAILED]
    if failed:
        lines.append("Failed:")
        lines += [f"  {rel(f.path)}: {f.reason}" for f in failed]
    skipped = [f for f in report.files if f.status == SKIPPED]
    if skipped:
        lines.append(
            f"Skipped {len(skipped)} file(s) of types Quire does not index, "
            f"e.g. {rel(skipped[0].path)}"
        )
    if report.links:
        from ingest.files import links_summary

        lines += links_summary(report.links)
    noted = [f for f in report.files if f.notes]
    if noted:
        lines.append("Notes:")
        lines += [f"  {rel(f.path)}: {'; '.join(f.notes)}" for f in noted]
    return "\n".join(lines)


def rel(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


class Bar:
    """A tqdm progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.bar = None
        self.began = time.perf_counter()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def start(self, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=self.what, unit="file", file=sys.stderr, disable=None)

    def advance(self, result: FileResult) -> None:
        if self.bar is not None:
            self.bar.update(1)
            name = clean_terminal(os.path.basename(result.path))[:30]
            self.bar.set_postfix_str(name, refresh=False)
