import pytest

from quire.chat.chats import ChatStore, Message, answer_data
from rag.answer.answerer import Answer
from rag.answer.citations import Citation
from rag.answer.followup import Turn
from rag.errors import QuireError
from rag.types import Chunk, Hit


def test_chats_survive_a_restart(tmp_path):
    store = ChatStore(tmp_path / "chats.sqlite3")
    chat = store.create()
    store.add(chat.id, Message("user", "Where did I write about   sourdough starters?"))
    store.add(chat.id, Message("assistant", "In bread.md [1].", {"citations": [{"n": 1}]}))
    store.close()
    again = ChatStore(tmp_path / "chats.sqlite3")
    [got] = again.chats()
    assert got.title == "Where did I write about sourdough starters?"  # named by its question
    msgs = again.messages(got.id)
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[1].data == {"citations": [{"n": 1}]}
    assert again.history(got.id) == [Turn(msgs[0].text, "In bread.md [1].")]


def test_rename_delete_and_order(tmp_path):
    store = ChatStore(tmp_path / "c.sqlite3")
    a, b = store.create(), store.create()
    store.add(a.id, Message("user", "first"))  # a is now the most recently used
    assert [c.id for c in store.chats()] == [a.id, b.id]
    store.rename(b.id, "  Tax   notes ")
    assert store.get(b.id).title == "Tax notes"
    with pytest.raises(QuireError):
        store.rename(b.id, "   ")
    store.add(b.id, Message("user", "a question that does not rename it"))
    assert store.get(b.id).title == "Tax notes"
    store.delete(a.id)
    assert [c.id for c in store.chats()] == [b.id] and store.messages(a.id) == []


def test_long_first_question_gives_a_short_title(tmp_path):
    store = ChatStore(tmp_path / "c.sqlite3")
    chat = store.create()
    store.add(chat.id, Message("user", "word " * 40))
    assert len(store.get(chat.id).title) <= 60 and store.get(chat.id).title.endswith("…")


def test_answer_data_keeps_what_the_cards_need():
    chunk = Chunk(
        source="/n/a.pdf",
        page=3,
        start=100,
        end=140,
        text="Alpha beta. Gamma delta.",
        heading=("Intro",),
    )
    cite = Citation(1, "/n/a.pdf", 3, ("Intro",), "Gamma delta.", chunk.id, 112, 124)
    answer = Answer(
        "q",
        "Gamma [1].",
        [cite],
        [Hit(chunk, 0.9, dense=0.8)],
        [chunk],
        False,
        "llm",
        "q",
        {"total_ms": 12.345},
    )
    d = answer_data(answer)
    c = d["citations"][0]
    assert c["excerpt"] == chunk.text and c["excerpt_start"] == 100 and c["page"] == 3
    assert c["excerpt"][c["start"] - c["excerpt_start"] :][: len(c["quote"])] == c["quote"]
    assert d["passages"][0]["dense"] == 0.8 and d["timings"]["total_ms"] == 12.35
    assert d["refused"] is False


def test_a_question_left_unanswered_is_answered_in_its_place(tmp_path):
    """The app stores a question, then its answer; a second question sent while the first was
    being answered interrupts it. Both stay, and each answer lands after its own question."""
    store = ChatStore(tmp_path / "c.sqlite3")
    chat = store.create()
    first = store.add(chat.id, Message("user", "first?"))
    second = store.add(chat.id, Message("user", "second?"))
    assert [m.text for m in store.unanswered(chat.id)] == ["first?", "second?"]
    assert store.history(chat.id) == []
    store.answer(chat.id, first.id, Message("assistant", "one", {"standalone_question": "first?"}))
    [waiting] = store.unanswered(chat.id)
    assert waiting.text == "second?" and waiting.id != second.id  # moved after the answer
    assert store.history(chat.id, before=waiting.id) == [Turn("first?", "one")]
    store.answer(chat.id, waiting.id, Message("assistant", "two"))
    assert [m.text for m in store.messages(chat.id)] == ["first?", "one", "second?", "two"]
    assert store.unanswered(chat.id) == []
