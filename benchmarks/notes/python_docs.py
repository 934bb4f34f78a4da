"""Build a known-item notes set from Python's documentation sources (Debian's python3.11-doc).

Each page's reStructuredText source becomes a note at its own path (`library/sqlite3.rst`)
with its title taken out; the title, with its markup removed, is the query ("where did I write
about sqlite3, the DB-API 2.0 interface for SQLite databases?"). The answer is that one note.
Output: a BEIR folder (corpus.jsonl with a "path" per document, queries.jsonl, qrels/test.tsv)
that `quire bench retrieval` and benchmarks/llamaindex_side.py both read.

    python benchmarks/notes/python_docs.py DEST
"""

from __future__ import annotations

import json
import posixpath
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "python3.11-doc"
SOURCES = "usr/share/doc/python3.11/html/_sources"
_UNDERLINE = re.compile(r"^([=\-~*#^\"'+`:.])\1{2,}\s*$")
_ROLE = re.compile(r":[\w:.-]+:`([^`]*)`")
_SEEALSO = re.compile(r"^\.\. seealso::(.*(?:\n(?:[ \t]+.*|[ \t]*))*)", re.M)
_TARGET = re.compile(r":(mod|doc):`!?~?([^`<]*?)\s*(?:<([^>]+)>)?`")
_MIN_BODY = 300  # characters: pages that are only a table of contents say nothing to find


def title_and_body(text: str) -> tuple[str, str] | None:
    """The page's first section title and the text without it (None: no title)."""
    lines = text.splitlines()
    for i in range(len(lines) - 1):
        line, under = lines[i], lines[i + 1]
        if not line.strip() or line.startswith((".. ", "   ")):
            continue
        if _UNDERLINE.match(under) and len(under.rstrip()) >= len(line.rstrip()) - 1:
            first = i - 1 if i > 0 and _UNDERLINE.match(lines[i - 1]) else i  # overline
            body = "\n".join(lines[:first] + lines[i + 2 :])
            return line.strip(), body
    return None


def plain_title(title: str) -> str:
    """`:mod:`sqlite3` --- DB-API 2.0 ...` -> `sqlite3 - DB-API 2.0 ...`."""
    title = _ROLE.sub(lambda m: m.group(1).lstrip("!~").split(" <")[0], title)
    title = title.replace("---", "-").replace("``", "").replace("*", "")
    return " ".join(title.split())


def related_pages(pages) -> dict[str, list[str]]:
    """For `related`: the pages each page's "see also" boxes point to (a module's page, or a
    document), as its authors' own judgement of what is related."""
    have = {path for path, _, _ in pages}
    links = {}
    for path, _, body in pages:
        found = []
        for block in _SEEALSO.findall(body):
            for role, text, target in _TARGET.findall(block):
                name = (target or text).strip()
                if role == "mod":
                    cand = f"library/{name.split('.')[0]}.rst"
                elif name.startswith("/"):
                    cand = name.lstrip("/") + ".rst"
                else:
                    cand = (
                        posixpath.normpath(posixpath.join(posixpath.dirname(path), name)) + ".rst"
                    )
                if cand in have and cand != path and cand not in found:
                    found.append(cand)
        if found:
            links[path] = found
    return links


def build(dest: Path) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, check=True)
        deb = next(Path(tmp).glob(f"{PACKAGE}_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(Path(tmp) / "x")], check=True)
        root = Path(tmp) / "x" / SOURCES
        pages = []
        for src in sorted(root.rglob("*.rst.txt")):
            found = title_and_body(src.read_text(encoding="utf-8"))
            if not found or len(found[1].strip()) < _MIN_BODY:
                continue
            title, body = found
            path = str(src.relative_to(root))[: -len(".txt")]
            pages.append((path, plain_title(title), body))
    counts: dict[str, int] = {}
    for _, title, _ in pages:
        counts[title.lower()] = counts.get(title.lower(), 0) + 1
    (dest / "qrels").mkdir(exist_ok=True)
    with (
        open(dest / "corpus.jsonl", "w", encoding="utf-8") as corpus,
        open(dest / "queries.jsonl", "w", encoding="utf-8") as queries,
        open(dest / "qrels" / "test.tsv", "w", encoding="utf-8") as qrels,
    ):
        qrels.write("query-id\tcorpus-id\tscore\n")
        n = 0
        for path, title, body in pages:
            corpus.write(json.dumps({"_id": path, "title": "", "text": body, "path": path}) + "\n")
            if counts[title.lower()] > 1 or len(title.split()) < 2:
                continue  # a title two pages share ("Examples") names neither
            n += 1
            queries.write(json.dumps({"_id": f"q{n}", "text": title}) + "\n")
            qrels.write(f"q{n}\t{path}\t1\n")
    links = related_pages(pages)
    with open(dest / "qrels" / "related.tsv", "w", encoding="utf-8") as out:
        out.write("corpus-id\trelated-id\n")
        for path, targets in links.items():
            out.writelines(f"{path}\t{t}\n" for t in targets)
    print(f"{len(pages)} notes, {n} queries, {len(links)} notes with see-also links -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(build(Path(sys.argv[1] if len(sys.argv) > 1 else "python-docs")))
