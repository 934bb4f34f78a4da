"""Chunking: exact offsets, token sizes, overlap, headings, and the embedding-model limit."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunk import chunk_document, split_span
from ingest.load import load
from rag.retrieval.embed import HashEmbedder
from rag.tokens import encoding
from rag.types import Document, Section

FAKE = HashEmbedder()


def ntok(text: str) -> int:
    return len(encoding().encode_ordinary(text))


def prose(n: int, seed: str = "w") -> str:
    """n sentences in paragraphs of five, each sentence numbered so spans are unique."""
    sentences = [f"Sentence {seed}{i} talks about topic {i % 7} in plain words." for i in range(n)]
    paras = [" ".join(sentences[i : i + 5]) for i in range(0, n, 5)]
    return "\n\n".join(paras) + "\n"


def chunks_of(doc: Document, size=64, overlap=8, counter=FAKE.count_tokens, limit=10_000):
    return chunk_document(doc, "/src/x", size, overlap, counter, limit)


def test_every_chunk_is_an_exact_span_of_its_page():
    text = prose(60)
    doc = Document("text", (text,), (Section(None, 0, len(text)),))
    chunks = chunks_of(doc)
    assert len(chunks) > 5
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.text == c.text.strip() and c.text


def test_chunks_respect_token_size_and_overlap():
    text = prose(80)
    doc = Document("text", (text,), (Section(None, 0, len(text)),))
    chunks = chunks_of(doc, size=50, overlap=10)
    assert max(ntok(c.text) for c in chunks) <= 50
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end, "neighbours must overlap"
        assert b.start > a.start


def test_chunks_cover_all_text():
    text = prose(45)
    doc = Document("text", (text,), (Section(None, 0, len(text)),))
    covered = set()
    for c in chunks_of(doc, size=40, overlap=5):
        covered.update(range(c.start, c.end))
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
    assert missing == []


def test_cuts_prefer_paragraph_breaks():
    text = prose(40)
    doc = Document("text", (text,), (Section(None, 0, len(text)),))
    chunks = chunks_of(doc, size=60, overlap=0)
    ends_at_paragraph = [c for c in chunks[:-1] if text[c.end : c.end + 2] == "\n\n"]
    assert len(ends_at_paragraph) >= len(chunks[:-1]) - 1


def test_markdown_chunks_keep_heading_paths():
    md = (
        "# Garden\n\nIntro.\n\n## Tomatoes\n\n"
        + prose(30, "t")
        + "\n## Beans\n\nBeans need poles.\n"
    )
    doc = load("notes.md", md.encode())
    chunks = chunks_of(doc, size=40)
    headings = {c.heading for c in chunks}
    assert ("Garden",) in headings
    assert ("Garden", "Tomatoes") in headings
    assert ("Garden", "Beans") in headings
    beans = [c for c in chunks if c.heading == ("Garden", "Beans")]
    assert "Beans need poles." in beans[0].text
    tomato = [c for c in chunks if c.heading == ("Garden", "Tomatoes")]
    assert all("Beans need" not in c.text for c in tomato), "chunks never cross a heading"


def test_pdf_offsets_are_relative_to_their_page():
    pages = ("Page one text about apples.", "Second page, pears and plums.", "Third: cherries.")
    sections = tuple(Section(i + 1, 0, len(p)) for i, p in enumerate(pages))
    doc = Document("pdf", pages, sections, unit="page")
    chunks = chunks_of(doc)
    assert [c.page for c in chunks] == [1, 2, 3]
    for c in chunks:
        assert pages[c.page - 1][c.start : c.end] == c.text
        assert c.line_start is None


def test_python_chunks_carry_symbol_and_line_range():
    src = "import os\n\n\ndef first():\n    return 1\n\n\nclass Second:\n    x = 2\n"
    doc = load("m.py", src.encode())
    chunks = chunks_of(doc)
    by_head = {c.heading[0]: c for c in chunks}
    assert set(by_head) == {"<module>", "def first", "class Second"}
    assert (by_head["def first"].line_start, by_head["def first"].line_end) == (4, 5)
    assert (by_head["class Second"].line_start, by_head["class Second"].line_end) == (8, 9)
    assert by_head["class Second"].text.startswith("class Second:")


def test_chunks_over_the_model_limit_are_split_not_truncated():
    # A counter that sees every character as a token: the tiktoken-sized chunks are too long.
    text = prose(20)
    doc = Document("text", (text,), (Section(None, 0, len(text)),))
    limit = 90

    def by_chars(texts):
        return [len(t) + 2 for t in texts]

    unconstrained = chunks_of(doc, size=64, overlap=8)
    assert max(by_chars([c.text for c in unconstrained])) > limit  # the test has teeth
    chunks = chunks_of(doc, size=64, overlap=8, counter=by_chars, limit=limit)
    assert max(by_chars([c.text for c in chunks])) <= limit
    for c in chunks:
        assert text[c.start : c.end] == c.text
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_a_single_unbreakable_token_run_is_still_split():
    blob = "x" * 3000  # no spaces, no breaks
    doc = Document("text", (blob,), (Section(None, 0, len(blob)),))
    chunks = chunks_of(doc, size=64, overlap=8, counter=lambda ts: [len(t) for t in ts], limit=100)
    assert all(len(c.text) <= 100 for c in chunks)
    assert sum(len(c.text) for c in chunks) >= 3000


def test_chunk_ids_are_content_hashes():
    text = prose(10)
    doc = Document("text", (text,), (Section(None, 0, len(text)),))
    a = chunks_of(doc)
    b = chunks_of(doc)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    other = chunk_document(doc, "/src/other", 64, 8, FAKE.count_tokens, 10_000)
    assert {c.id for c in other}.isdisjoint(c.id for c in a)


def test_whitespace_only_section_gives_no_chunks():
    assert split_span("   \n\n  ", 0, 7, 10, 2) == []


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",)),
        min_size=1,
        max_size=1500,
    ),
    st.integers(min_value=16, max_value=80),
)
def test_property_spans_are_exact_and_fit(text, size):
    doc = Document("text", (text,), (Section(None, 0, len(text)),))
    overlap = size // 4

    def counter(texts):
        return [len(re.findall(r"\S+", t)) * 2 + 2 for t in texts]

    chunks = chunk_document(doc, "/s", size, overlap, counter, 60)
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.text.strip()
        assert counter([c.text])[0] <= 60 or len(c.text) == 1
    nonspace = [i for i, ch in enumerate(text) if not ch.isspace()]
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i in nonspace)


def test_parts_split_again_for_the_model_are_never_repeated():
    import random
    from collections import Counter

    rng = random.Random(1)
    words = ["alpha", "beta", "gamma", "x", "|", "+---+"]
    rows = ["   | " + " ".join(rng.choice(words) for _ in range(12)) + " |" for _ in range(60)]
    doc = load("t.md", ("# T\n\n" + "\n".join(rows) + "\n").encode())
    for limit in (30, 40, 50, 60, 80):  # a model that sees tables as twice as many tokens
        chunks = chunk_document(doc, "/t.md", 200, 32, lambda ts: [len(t) // 2 for t in ts], limit)
        assert max(Counter(c.id for c in chunks).values()) == 1, limit
        assert all(len(c.text) // 2 <= limit for c in chunks)
