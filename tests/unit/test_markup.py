"""Prompt markup never reaches the user: scripted models that emit each kind of it."""

from __future__ import annotations

import pytest

from rag.answer.answerer import AnswerSettings
from rag.answer.generate import ScriptedGenerator
from rag.answer.guard import Sanitizer, strip_markup
from rag.types import Chunk
from tests.helpers import write

ECHOES = [
    '<excerpt n="1" source="EXPLAINER_2023Q4_EARNINGS.pdf" page="8"> The store count was 1,355'
    " [1].",
    "The store count was 1,355 [1]. </excerpt>",
    "<|im_start|>assistant\nThe store count was 1,355 [1].<|im_end|>",
    "Assistant: The store count was 1,355 [1].",
    "Answer: The store count was 1,355 [1].",
    'The store count was 1,355 [1] (source="stores.md" page="2").',
    "According to EXPLAINER_2023Q4_EARNINGS.pdf, the store count was 1,355 [1].",
    "[INST] The store count was 1,355 [1]. [/INST]",
    "<start_of_turn>model\nThe store count was 1,355 [1].<end_of_turn>",
]
MARKUP = ["<excerpt", "</excerpt", "<|", "|>", "source=", "page=", "n=", "EXPLAINER", "[INST]",
          "Assistant:", "Answer:", "start_of_turn", "end_of_turn"]  # fmt: skip


@pytest.fixture
def library(tmp_path, make_engine):
    d = tmp_path / "lib"
    write(d / "stores.md", "# Stores\n\nThe store count was 1,355 at the end of fiscal 2022.\n")
    gen = ScriptedGenerator()
    engine = make_engine(generator=gen)
    engine.answerer.settings = AnswerSettings(min_relevance=0.0, mode="llm")
    engine.ingest([str(d)])
    return engine, gen


@pytest.mark.parametrize("reply", ECHOES)
def test_markup_is_never_streamed_nor_kept(library, reply):
    engine, gen = library
    gen.reply = reply
    stream = engine.ask("How many stores at the end of fiscal 2022?")
    pieces = list(stream)
    streamed = "".join(pieces)
    answer = stream.answer
    for text in (streamed, answer.text):
        assert not any(m.lower() in text.lower() for m in MARKUP), text
        assert "1,355" in text
    assert answer.citations and answer.citations[0].source.endswith("stores.md")


def test_markup_split_across_tokens_is_held_back():
    chunk = Chunk(source="/n/stores.md", text="The store count was 1,355.", start=0, end=26)
    s = Sanitizer([chunk])
    out = ""
    for end in range(1, len(ECHOES[0]) + 1):  # one character at a time
        out += s.feed(ECHOES[0][:end])
        assert "<" not in out and "=" not in out, out
    out += s.feed(ECHOES[0], final=True)
    assert out == "The store count was 1,355 [1]."


def test_names_the_excerpts_hold_are_kept():
    chunk = Chunk(
        source="/n/setup.md", text="Edit config.yaml, then run setup.py.", start=0, end=36
    )
    text = "Edit config.yaml in setup.md, not secrets.txt."
    assert strip_markup(text, [chunk]) == "Edit config.yaml in setup.md, not."


def test_a_reply_of_markup_only_falls_back_to_quotes(library):
    engine, gen = library
    gen.reply = '<excerpt n="1" source="x.pdf" page="8"></excerpt>'
    stream = engine.ask("How many stores at the end of fiscal 2022?")
    streamed = "".join(stream)
    answer = stream.answer
    assert answer.mode == "quotes" and "1,355" in streamed and "<" not in streamed
    assert answer.note and answer.citations
