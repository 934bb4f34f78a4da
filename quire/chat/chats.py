"""Conversations kept in SQLite under QUIRE_HOME: chats, and their questions and answers."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.answer.followup import Turn
from rag.errors import QuireError
from rag.sqlite import open_db, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_chat ON messages(chat_id, id);
"""
TITLE_CHARS = 60


@dataclass(frozen=True)
class Chat:
    id: int
    title: str
    created: float
    updated: float


@dataclass(frozen=True)
class Message:
    """One turn: `role` is "user" or "assistant"; `data` holds citations, passages, timings."""

    role: str
    text: str
    data: dict = field(default_factory=dict)
    id: int = 0


def answer_data(answer) -> dict:
    """What of an `Answer` is kept with the message, so a restarted app can show its sources."""
    passages = [
        {
            "source": h.chunk.source,
            "page": h.chunk.page,
            "location": h.chunk.location,
            "heading": list(h.chunk.heading),
            "text": h.chunk.text,
            "start": h.chunk.start,
            "score": round(h.score, 4),
            "dense": None if h.dense is None else round(h.dense, 4),
        }
        for h in answer.hits
    ]
    excerpts = {c.id: c for c in answer.excerpts}
    citations = []
    for c in answer.citations:
        item = asdict(c)
        item["heading"] = list(c.heading)
        chunk = excerpts.get(c.chunk_id)
        item["excerpt"] = chunk.text if chunk else c.quote
        item["excerpt_start"] = chunk.start if chunk else c.start
        citations.append(item)
    return {
        "citations": citations,
        "passages": passages,
        "refused": answer.refused,
        "mode": answer.mode,
        "question": answer.question,
        "standalone_question": answer.standalone_question,
        "mode_reason": answer.mode_reason,
        "note": answer.note,
        "timings": {k: round(v, 2) for k, v in answer.timings.items()},
    }


class ChatStore:
    """Chats and their messages; safe to share between the app's sessions (one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_db(path, _SCHEMA)
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def create(self, title: str = "New chat") -> Chat:
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO chats (title, created, updated) VALUES (?,?,?)", (title, now, now)
            )
        return Chat(cur.lastrowid, title, now, now)

    def chats(self) -> list[Chat]:
        """Every chat, the most recently used first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, title, created, updated FROM chats ORDER BY updated DESC, id DESC"
            ).fetchall()
        return [Chat(*r) for r in rows]

    def get(self, chat_id: int) -> Chat | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, title, created, updated FROM chats WHERE id = ?", (chat_id,)
            ).fetchone()
        return Chat(*row) if row else None

    def rename(self, chat_id: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise QuireError("a chat needs a name")
        with self._lock:
            self._db.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))

    def delete(self, chat_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    @contextmanager
    def _transaction(self):
        with self._lock, transaction(self._db) as db:
            yield db

    @staticmethod
    def _insert(db, chat_id: int, message: Message, now: float) -> int:
        cur = db.execute(
            "INSERT INTO messages (chat_id, role, text, data, created) VALUES (?,?,?,?,?)",
            (chat_id, message.role, message.text, json.dumps(message.data), now),
        )
        db.execute("UPDATE chats SET updated = ? WHERE id = ?", (now, chat_id))
        return cur.lastrowid

    def add(self, chat_id: int, message: Message) -> Message:
        """Append a message; a chat still called "New chat" is named after its first question."""
        now = time.time()
        with self._transaction() as db:
            mid = self._insert(db, chat_id, message, now)
            if message.role == "user":
                db.execute(
                    "UPDATE chats SET title = ? WHERE id = ? AND title = 'New chat'",
                    (_title(message.text), chat_id),
                )
        return Message(message.role, message.text, message.data, mid)

    def messages(self, chat_id: int) -> list[Message]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, role, text, data FROM messages WHERE chat_id = ? ORDER BY id",
                (chat_id,),
            ).fetchall()
        return [Message(role, text, json.loads(data), mid) for mid, role, text, data in rows]

    def history(self, chat_id: int, before: int | None = None) -> list[Turn]:
        """The chat's answered questions (those before message `before`, if given), oldest
        first, with what each searched for. A question left without an answer is left out."""
        pairs, question = [], None
        for m in self.messages(chat_id):
            if before is not None and m.id >= before:
                break
            if m.role == "user":
                question = m.text
            elif question is not None:
                searched = m.data.get("standalone_question") or ""
                pairs.append(Turn(question, m.text, searched if searched != question else ""))
                question = None
        return pairs

    def unanswered(self, chat_id: int) -> list[Message]:
        """Questions of the chat with no answer after them, oldest first (an answer that was
        interrupted, or a question sent while another was being answered)."""
        msgs = self.messages(chat_id)
        return [
            m
            for i, m in enumerate(msgs)
            if m.role == "user" and (i + 1 == len(msgs) or msgs[i + 1].role != "assistant")
        ]

    def answer(self, chat_id: int, question_id: int, message: Message) -> Message:
        """Store the answer to question `question_id`, right after it (ids give the order): a
        later question that came in first is moved after the answer."""
        now = time.time()
        with self._transaction() as db:
            later = db.execute(
                "SELECT role, text, data FROM messages WHERE chat_id = ? AND id > ? ORDER BY id",
                (chat_id, question_id),
            ).fetchall()
            db.execute("DELETE FROM messages WHERE chat_id = ? AND id > ?", (chat_id, question_id))
            mid = self._insert(db, chat_id, message, now)
            for role, text, data in later:
                self._insert(db, chat_id, Message(role, text, json.loads(data)), now)
        return Message(message.role, message.text, message.data, mid)

    def latest(self) -> Chat | None:
        """The most recently used chat, if any."""
        found = self.chats()
        return found[0] if found else None

    def counts(self) -> dict[int, int]:
        """Messages per chat."""
        with self._lock:
            rows = self._db.execute(
                "SELECT chat_id, COUNT(*) FROM messages GROUP BY chat_id"
            ).fetchall()
        return dict(rows)


def _title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"
