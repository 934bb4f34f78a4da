"""A persistent keyword index: SQLite FTS5 with BM25, updated chunk by chunk like the vectors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from rag.sqlite import open_db, transaction
from rag.types import Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    page INTEGER,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    line_start INTEGER,
    line_end INTEGER,
    unit TEXT NOT NULL DEFAULT '',
    page_name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS rows_source ON rows(source);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    name, heading, text, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""
# Column weights for bm25(): the file's name and folders, its heading path, its text; chosen
# on four corpora (BENCHMARKS.md, "Retrieval choices across four corpora"). A file's name is
# short and often its title: on the notes set, 8 beat 4, 2 and 1 and no other corpus lost.
WEIGHTS = (8.0, 2.0, 1.0)
_SEP = "\x1f"
_WORD = re.compile(r"\w+", re.UNICODE)
# A number as written with separators (1,355; 737,877.50; 3.14): searched as a phrase of its
# parts, which FTS5 indexes as separate words, so "1,355" does not match every "1".
_NUMBER = re.compile(r"\d+(?:[.,]\d+)+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])")
# Words too common to help a keyword match; they only slow FTS5's OR queries.
STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have how i if in
    into is it its may might more most no not of on or our should so such than that the their them
    then there these they this those to was we were what when where which who whom why will with
    would you your""".split()
)


class LexicalIndex:
    """BM25 over chunk headings and text, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_db(path, _SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(rows)")}
        for column in ("unit", "page_name"):  # an index made before these existed
            if column not in have:
                self._db.execute(f"ALTER TABLE rows ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
        if "name" not in {row[1] for row in self._db.execute("PRAGMA table_info(fts)")}:
            self._add_names()

    def _add_names(self) -> None:
        """An index made before file names were searched: rebuild its FTS table with them
        (from the stored sources; no document is read again)."""
        with transaction(self._db) as db:
            db.execute("ALTER TABLE fts RENAME TO fts_old")
            db.execute(_SCHEMA[_SCHEMA.index("CREATE VIRTUAL") :])
            rows = db.execute(
                "SELECT r.rowid, r.source, o.heading, o.text FROM rows r"
                " JOIN fts_old o ON o.rowid = r.rowid"
            )
            db.executemany(
                "INSERT INTO fts (rowid, name, heading, text) VALUES (?,?,?,?)",
                ((rowid, name_words(source), h, t) for rowid, source, h, t in rows),
            )
            db.execute("DROP TABLE fts_old")

    def close(self) -> None:
        self._db.close()

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        with transaction(self._db) as db:
            self._delete([c.id for c in chunks])
            for c in chunks:
                cur = db.execute(
                    'INSERT INTO rows (id, source, kind, page, start, "end", line_start,'
                    " line_end, unit, page_name) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (c.id, c.source, c.kind, c.page, c.start, c.end, c.line_start, c.line_end,
                     c.unit, c.page_name),
                )  # fmt: skip
                db.execute(
                    "INSERT INTO fts (rowid, name, heading, text) VALUES (?,?,?,?)",
                    (cur.lastrowid, name_words(c.source), _SEP.join(c.heading), c.text),
                )

    def delete(self, ids: Iterable[str]) -> None:
        with transaction(self._db):
            self._delete(list(ids))

    def _delete(self, ids: list[str]) -> None:
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            rowids = [
                r[0]
                for r in self._db.execute(f"SELECT rowid FROM rows WHERE id IN ({marks})", part)
            ]
            if rowids:
                rmarks = ",".join("?" * len(rowids))
                self._db.execute(f"DELETE FROM fts WHERE rowid IN ({rmarks})", rowids)
                self._db.execute(f"DELETE FROM rows WHERE rowid IN ({rmarks})", rowids)

    def ids_for_source(self, source: str) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT id FROM rows WHERE source = ?", (source,))}

    def ids(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT id FROM rows")}

    def document_words(self, source: str, most: int = 24) -> str:
        """What a file is about, as a keyword query: its name's words, its headings, and its
        `most` most frequent words that are not stop words (for `related`)."""
        rows = self._db.execute(
            "SELECT f.heading, f.text FROM rows r JOIN fts f ON f.rowid = r.rowid"
            " WHERE r.source = ? ORDER BY r.page, r.start",
            (source,),
        ).fetchall()
        if not rows:
            return ""
        headings = list(dict.fromkeys(h for h, _ in rows if h))[:8]
        counts: dict[str, int] = {}
        for _, text in rows:
            for w in _WORD.findall(text.lower()):
                if len(w) > 2 and not w.isdigit() and w not in STOPWORDS:
                    counts[w] = counts.get(w, 0) + 1
        frequent = sorted(counts, key=lambda w: -counts[w])[:most]
        return " ".join([name_words(source), *(h.replace(_SEP, " ") for h in headings), *frequent])

    def coverage(
        self, query: str, ids: Sequence[str], titles: bool = False
    ) -> tuple[int, dict[str, float]]:
        """(how many words `query` is searched by, and for each chunk id in `ids` the share of
        them it contains, in its file name, heading or text, or with `titles` in its file name
        or heading only; stemmed as the index stems them)."""
        match = match_expression(query)
        phrases = match.split(" OR ") if match else []
        ids = list(dict.fromkeys(ids))
        if not phrases or not ids:
            return len(phrases), {i: 0.0 for i in ids}
        rows = dict(
            self._db.execute(
                f"SELECT rowid, id FROM rows WHERE id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
        )
        found = {i: 0 for i in ids}
        if rows:
            marks = ",".join("?" * len(rows))
            for phrase in phrases:
                sql = f"SELECT rowid FROM fts WHERE fts MATCH ? AND rowid IN ({marks})"
                where = f"{{name heading}} : {phrase}" if titles else phrase
                for (rowid,) in self._db.execute(sql, [where, *rows]):
                    found[rows[rowid]] += 1
        return len(phrases), {i: n / len(phrases) for i, n in found.items()}

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM rows").fetchone()[0]

    def reset(self) -> None:
        with transaction(self._db) as db:
            db.execute("DELETE FROM rows")
            db.execute("DELETE FROM fts")

    def search(
        self,
        query: str,
        k: int,
        sources: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        weights: Sequence[float] = WEIGHTS,
    ) -> list[tuple[Chunk, float]]:
        """Best `k` chunks for the words of `query` (any word may match), BM25 score, best first.

        `sources` / `kinds` restrict the hits to those files / file kinds; `weights` are the
        name, heading and text columns' weights.
        """
        match = match_expression(query)
        if not match or k <= 0:
            return []
        bm25 = "bm25(fts, {:g}, {:g}, {:g})".format(*map(float, weights))
        columns = (
            'r.id, r.source, r.kind, r.page, r.start, r."end", r.line_start, r.line_end, r.unit,'
            " r.page_name"
        )
        if sources is None and not kinds:
            # Rank inside FTS5 first and read text for the best `k` only, not for every
            # match (100k synthetic chunks: p50 66 -> 57 ms, same results).
            sql = (
                f"SELECT {columns}, f.heading, f.text, m.score FROM"
                f" (SELECT rowid, {bm25} AS score FROM fts WHERE fts MATCH ?"
                " ORDER BY score LIMIT ?) m"
                " JOIN rows r ON r.rowid = m.rowid JOIN fts f ON f.rowid = m.rowid"
                " ORDER BY m.score"
            )
            return self._chunks(self._db.execute(sql, [match, k]))
        sql = (
            f"SELECT {columns}, fts.heading, fts.text, {bm25} AS score"
            " FROM fts JOIN rows r ON r.rowid = fts.rowid WHERE fts MATCH ?"
        )
        args: list = [match]
        if sources is not None:
            if not sources:
                return []
            sql += f" AND r.source IN ({','.join('?' * len(sources))})"
            args += list(sources)
        if kinds:
            sql += f" AND r.kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        sql += " ORDER BY score LIMIT ?"
        args.append(k)
        return self._chunks(self._db.execute(sql, args))

    @staticmethod
    def _chunks(rows) -> list[tuple[Chunk, float]]:
        out = []
        for row in rows:
            cid, source, kind, page, start, end, l0, l1, unit, page_name, heading, text, score = row
            chunk = Chunk(
                source=source,
                text=text,
                start=start,
                end=end,
                page=page,
                heading=tuple(heading.split(_SEP)) if heading else (),
                line_start=l0,
                line_end=l1,
                kind=kind,
                id=cid,
                unit=unit or "",
                page_name=page_name or "",
            )
            out.append((chunk, -score))  # FTS5's bm25() is negative: lower is better
        return out


def name_words(source: str) -> str:
    """The words of a file's path, for keyword search: `/notes/sqlite/blob-literals.md` ->
    `notes sqlite blob literals md`; `MeetingNotes2023.docx` adds `Meeting Notes 2023`."""
    words = []
    for w in _WORD.findall(source.replace("_", " ")):
        words.append(w)
        parts = _CAMEL.split(w)
        if len(parts) > 1:
            words.extend(parts)
    return " ".join(words)


def query_terms(query: str) -> list[str]:
    """The distinct words of a query that are worth matching, in order."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(query.lower()):
        if w not in STOPWORDS and w not in seen:
            seen[w] = None
    return list(seen)


MAX_TERMS = 64  # a query of more distinct words only slows FTS5's OR query down


def match_expression(query: str) -> str:
    """An FTS5 MATCH string: every distinct query word quoted (so no word is read as syntax),
    OR-ed, at most MAX_TERMS of them; stop words only when the query has nothing else. A
    number written with separators (1,355) is one phrase of its parts ("1 355")."""
    numbers = list(dict.fromkeys(_NUMBER.findall(query)))
    rest = _NUMBER.sub(" ", query)
    terms = query_terms(rest) or list(dict.fromkeys(_WORD.findall(rest.lower())))
    if not terms and not numbers:
        return ""
    phrases = [" ".join(_WORD.findall(n)) for n in numbers] + terms
    return " OR ".join(f'"{t}"' for t in phrases[:MAX_TERMS])
