"""Follow-up questions: which lean on the chat, what is searched for, when a rewrite is used."""

from __future__ import annotations

import pytest

from rag.answer.answerer import AnswerSettings
from rag.answer.followup import (
    Turn,
    check_rewrite,
    context_forms,
    contextual,
    depends_on_chat,
    names,
)
from rag.answer.generate import ScriptedGenerator
from tests.helpers import write


@pytest.mark.parametrize(
    "question",
    [
        "When were they in Normandy?",
        "Where did it take place?",
        "and on macOS?",
        "What about Windows?",
        "Why?",
        "How do I install it?",
        "What does this mean?",
        "Who founded them?",
        "And its license?",
        "how do I write one?",
        "Which one is faster?",
        "Why is that?",
        "Compile it on macOS",
    ],
)
def test_questions_that_lean_on_the_chat(question):
    assert depends_on_chat(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is a blob literal in SQLite?",
        "How do I compile sqlite3 on Ubuntu?",
        "Which NFL team represented the AFC at Super Bowl 50?",
        "Is it true that sourdough needs a starter?",
        "What is the function that returns the row id?",
    ],
)
def test_questions_that_stand_alone(question):
    assert not depends_on_chat(question)


def test_contextual_form_carries_the_last_subject():
    past = [Turn("How do I compile sqlite3 on Ubuntu?", "Run make.", "")]
    assert contextual("and on macOS?", past) == "How do I compile sqlite3 on Ubuntu? and on macOS?"
    chained = [*past, Turn("and on macOS?", "Use brew.", contextual("and on macOS?", past))]
    assert "sqlite3" in contextual("what about Windows?", chained)


def test_rewrite_is_checked():
    past = [Turn("How do I compile sqlite3 on Ubuntu?", "Run make.")]
    q = "and on macOS?"
    assert check_rewrite("How do I compile sqlite3 on macOS?", q, past)
    # drops the question's own word
    assert not check_rewrite("How do I compile sqlite3 on Ubuntu?", q, past)
    # adds nothing from the chat: resolved nothing
    assert not check_rewrite("What about macOS?", q, past)
    # the 135M model's failure seen in the app: markup and junk
    assert not check_rewrite("You run ./configure and make (1) (1) (1)", q, past)
    assert not check_rewrite('<excerpt n="1"> macOS sqlite3', q, past)
    assert not check_rewrite("macOS sqlite3 " * 40, q, past)


@pytest.fixture
def library(tmp_path, make_engine):
    d = tmp_path / "lib"
    write(d / "compile.md", "# Compiling sqlite3\n\nOn Ubuntu run ./configure and make.\n")
    write(d / "macos.md", "# macOS\n\nOn macOS, compile sqlite3 with Xcode command line tools.\n")
    write(d / "blob.md", "# Blob literals\n\nA blob literal in SQLite is X'53514C'.\n")
    gen = ScriptedGenerator("You run ./configure and make (1) (1) (1)")
    engine = make_engine(generator=gen)
    engine.answerer.settings = AnswerSettings(min_relevance=0.0, mode="quotes")
    engine.ingest([str(d)])
    return engine, gen, d


def test_a_new_subject_is_searched_as_typed_and_the_model_is_not_asked(library):
    engine, gen, d = library
    past = [Turn("How do I compile sqlite3 on Ubuntu?", "Run ./configure and make [1].")]
    alone = engine.ask("What is a blob literal in SQLite?").result()
    stream = engine.ask("What is a blob literal in SQLite?", past)
    answer = stream.result()
    assert stream.searched == answer.standalone_question == "What is a blob literal in SQLite?"
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in alone.hits]
    assert answer.hits[0].chunk.source == str(d / "blob.md")
    assert gen.calls == []  # no rewrite asked


def test_a_follow_up_is_searched_in_context_and_fused(library):
    engine, gen, d = library
    past = [Turn("How do I compile sqlite3 on Ubuntu?", "Run ./configure and make [1].")]
    answer = engine.ask("and on macOS?", past).result()
    assert answer.standalone_question == "How do I compile sqlite3 on Ubuntu? and on macOS?"
    sources = [h.chunk.source for h in answer.hits[:2]]
    assert str(d / "macos.md") in sources
    assert gen.calls == []  # a fake model's policy does not rewrite


def test_a_capable_models_rewrite_is_used_only_when_it_passes_the_check(library):
    engine, gen, d = library
    gen.kind = "server"  # a model the user set: its rewrites may be used, once checked
    past = [Turn("How do I compile sqlite3 on Ubuntu?", "Run ./configure and make [1].")]
    junk = engine.ask("and on macOS?", past).result()
    assert len(gen.calls) == 1  # asked, but its junk was not used
    assert junk.standalone_question == "How do I compile sqlite3 on Ubuntu? and on macOS?"
    gen.reply = "How do I compile sqlite3 on macOS?"
    good = engine.ask("and on macOS?", past).result()
    assert good.standalone_question == "How do I compile sqlite3 on macOS?"
    assert good.hits[0].chunk.source == str(d / "macos.md")


def test_context_forms_carry_the_subject_three_ways():
    past = [Turn("Which NFL team represented the AFC at Super Bowl 50?", "Denver [1].")]
    forms = context_forms("Where did it take place?", past)
    assert (
        forms[0] == "Which NFL team represented the AFC at Super Bowl 50? Where did it take place?"
    )
    assert "nfl" in forms[1].lower() and "represented" in forms[1]
    assert forms[2] == "Where did it take place? NFL AFC Super Bowl 50"
    assert names("How do I compile sqlite3 on Ubuntu with `make -j4`?") == [
        "sqlite3",
        "Ubuntu",
        "make -j4",
    ]


def test_a_pronoun_with_its_own_subject_still_finds_its_own_note(library):
    """'their' makes a question search in context too; fused with the question as typed, a
    new subject still wins over the chat's old one."""
    engine, gen, d = library
    past = [Turn("How do I compile sqlite3 on Ubuntu?", "Run ./configure and make [1].")]
    answer = engine.ask("What are blob literals and what is their syntax?", past).result()
    assert depends_on_chat("What are blob literals and what is their syntax?")
    assert answer.hits[0].chunk.source == str(d / "blob.md")
