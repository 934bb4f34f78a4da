"""Citation checking: invented markers go, quotes are verbatim spans of the indexed text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.answer.citations import check, sentences
from rag.types import Chunk

PAGE = (
    "Intro line. The glass frog lives near waterfalls in the Andes. "
    "Its belly is translucent, so its heart is visible. Its call is a short whistle."
)


def excerpt(page_text, start, end, source="/docs/frogs.pdf", page=3):
    return Chunk(source=source, text=page_text[start:end], start=start, end=end, page=page)


FROG = excerpt(PAGE, 12, len(PAGE))
BREAD = Chunk(
    source="/notes/bread.md", text="Sourdough needs a starter fed daily.", start=0, end=36
)


def test_valid_citation_quotes_the_supporting_sentence_verbatim():
    text, cites = check("The frog's belly is translucent [1].", [FROG, BREAD])
    assert text == "The frog's belly is translucent [1]."
    [c] = cites
    assert (c.n, c.source, c.page, c.inferred) == (1, "/docs/frogs.pdf", 3, False)
    assert c.quote == "Its belly is translucent, so its heart is visible."
    assert PAGE[c.start : c.end] == c.quote  # an exact span of the page


def test_invented_markers_never_reach_the_user():
    text, cites = check(
        "Frogs whistle [9]. Bread needs a starter [2][0] and time [1, 7].", [FROG, BREAD]
    )
    assert "[9]" not in text and "[0]" not in text and "7" not in text
    # [1] points to the frog excerpt, which shares no word with the sentence: not support.
    assert text == "Frogs whistle. Bread needs a starter [2] and time."
    assert [c.n for c in cites] == [2]


def test_a_real_marker_on_an_unsupported_sentence_is_dropped():
    text, cites = check(
        "Bread needs a starter [1]. The frog belly is translucent [1].", [FROG, BREAD]
    )
    assert text == "Bread needs a starter. The frog belly is translucent [1]."
    quote = "Its belly is translucent, so its heart is visible."
    assert [(c.n, c.quote) for c in cites] == [(1, quote)]


def test_no_citation_lists_supporting_excerpts_as_inferred():
    text, cites = check("Sourdough needs a starter that is fed daily.", [FROG, BREAD])
    assert text == "Sourdough needs a starter that is fed daily."
    assert [(c.n, c.inferred) for c in cites] == [(2, True)]
    assert cites[0].quote == BREAD.text


def test_unsupported_uncited_answer_has_no_citations():
    assert check("Paris is the capital of France.", [FROG, BREAD])[1] == []


def test_sentences_trim_and_split():
    text = "One. Two!  Three?\n\nFour"
    assert [text[a:b] for a, b in sentences(text)] == ["One.", "Two!", "Three?", "Four"]


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=1, max_size=300), st.integers(0, 5))
def test_property_quotes_are_always_exact_spans(page_text, n):
    chunk = Chunk(source="/x", text=page_text, start=0, end=len(page_text))
    _, cites = check(f"claim about things [{n}]", [chunk])
    for c in cites:
        assert page_text[c.start : c.end] == c.quote


def test_a_marker_moves_to_the_excerpt_that_really_supports_the_sentence():
    # The sentence is copied from the bread excerpt but cites the frog one, which shares three
    # of its five content words (enough to count as support): the citation goes to bread.
    frog = Chunk(source="/f.md", text="Frogs need a daily starter call.", start=0, end=32)
    text, cites = check("Sourdough needs a starter fed daily [1].", [frog, BREAD])
    assert text == "Sourdough needs a starter fed daily [2]."
    assert [(c.n, c.source, c.quote) for c in cites] == [(2, BREAD.source, BREAD.text)]
    from rag.answer.guard import MarkerFilter

    f = MarkerFilter(2, [frog, BREAD])
    streamed = f.feed("Sourdough needs a starter fed daily [1].") + f.flush()
    assert streamed == text  # the stream shows the same number as the final answer


def test_quoted_text_keeps_its_own_spacing():
    """Only a space left before punctuation by a dropped marker goes: "run ./configure" stays."""
    chunk = Chunk(source="/n/a.md", text="Then run ./configure and make.", start=0, end=30)
    text, _ = check("Then run ./configure and make [1] .", [chunk])
    assert text == "Then run ./configure and make [1]."
    text, _ = check("Then run ./configure and make [7].", [chunk])
    assert text == "Then run ./configure and make."
