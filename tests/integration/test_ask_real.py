"""`ask` with the real bundled embedder and SmolLM2 on documents made here."""

from __future__ import annotations

import pytest

from ingest.load import load
from rag.answer.generate import LlamaGenerator
from rag.retrieval.store import ChromaStore
from tests.helpers import write
from tests.pdfs import FROG_GUIDE as PAGES
from tests.pdfs import make_pdf


@pytest.fixture(scope="module")
def llm():
    gen = LlamaGenerator(n_ctx=2048, threads=2)
    gen.warm_up()
    return gen


@pytest.fixture
def engine(tmp_path, make_engine, real_embedder, llm):
    lib = tmp_path / "lib"
    write(lib / "guide.pdf", make_pdf(PAGES))
    write(
        lib / "bread.md", "# Bread\n\nSourdough needs a starter fed daily with flour and water.\n"
    )
    e = make_engine(embedder=real_embedder, store=ChromaStore(tmp_path / "chroma"), generator=llm)
    e.ingest([str(lib)])
    e.lib = lib
    return e


def test_question_answered_on_page_3_cites_that_page(engine):
    stream = engine.ask("Which frog has a translucent belly?", mode="llm")
    streamed = "".join(stream)
    answer = stream.answer
    assert not answer.refused and streamed.strip()
    pdf = str(engine.lib / "guide.pdf")
    assert any(c.source == pdf and c.page == 3 for c in answer.citations), answer
    pages = load("guide.pdf", (engine.lib / "guide.pdf").read_bytes()).pages
    for c in answer.citations:  # every quote is a verbatim span of its page
        assert pages[c.page - 1][c.start : c.end] == c.quote
    assert answer.timings["first_token_ms"] > 0 and answer.timings["prompt_tokens"] <= 560


def test_the_default_with_the_bundled_model_is_quotes_and_says_why(engine):
    stream = engine.ask("Which frog has a translucent belly?")
    assert stream.mode == "quotes" and "bundled" in stream.mode_reason
    answer = stream.result()
    assert answer.mode == "quotes" and answer.mode_reason == stream.mode_reason
    assert any(c.page == 3 for c in answer.citations)


def test_question_about_something_absent_is_refused_without_the_model(engine, llm, monkeypatch):
    def no_model(*a, **k):
        raise AssertionError("the model must not be called for a refusal")

    monkeypatch.setattr(llm, "stream", no_model)
    answer = engine.ask("What is the population of Ulaanbaatar?").result()
    assert answer.refused and answer.citations == []
    assert "do not seem to contain" in answer.text


def test_invented_marker_never_reaches_the_user(engine, llm):
    class Inventive:  # the real model's tokens, with an invented citation spliced in
        name = "inventive"
        context_size = llm.context_size
        count_tokens = staticmethod(llm.count_tokens)

        def stream(self, messages, max_tokens):
            yield from ["See", " [", "9", "]", " and [1", "2]."]
            yield from llm.stream(messages, max_tokens)

    engine._generator = Inventive()
    stream = engine.ask("Which frog has a translucent belly?", mode="llm")
    streamed = "".join(stream)
    assert "[9]" not in streamed and "[12]" not in streamed
    assert "[9]" not in stream.answer.text and "[12]" not in stream.answer.text


def test_quotes_mode_is_verbatim_and_cites_page_3(engine):
    answer = engine.ask("Which frog has a translucent belly?", mode="quotes").result()
    assert answer.citations[0].page == 3
    pages = load("guide.pdf", (engine.lib / "guide.pdf").read_bytes()).pages
    for c in answer.citations:
        text = pages[c.page - 1] if c.page else (engine.lib / "bread.md").read_text()
        assert text[c.start : c.end] == c.quote
        assert c.quote in answer.text
