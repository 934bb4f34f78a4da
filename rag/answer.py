"""Questions in, cited answers out: retrieve, refuse or pack excerpts, generate, check citations."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from rag.citations import Citation, check, overlap, sentences
from rag.errors import QuireError
from rag.generate import Generator, Message, prompt_tokens
from rag.guard import LEAD_LABEL, MarkerFilter, degenerate_at, safe_length
from rag.prompts import render
from rag.retrieve import Filters, Hit, Retriever
from rag.types import Chunk

MODES = ("llm", "quotes")


@dataclass
class Answer:
    """The result of `ask`: text with checked `[n]` markers and what backs it."""

    question: str
    text: str
    citations: list[Citation]
    hits: list[Hit]  # what retrieval found, best first
    excerpts: list[Chunk]  # what the model was shown, numbered from 1
    refused: bool
    mode: str
    standalone_question: str
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AnswerSettings:
    """How answers are made; defaults chosen by the measurements in BENCHMARKS.md."""

    mode: str = "llm"
    k: int = 6  # hits retrieved; as many as fit the budget are shown to the model
    prompt_tokens: int = 560  # budget for the whole prompt: time to first token grows with it
    answer_tokens: int = 160
    # Best dense cosine below this: refuse without calling the model. Calibrated on SQuAD
    # (`quire bench answers`, BENCHMARKS.md): 0.448 maximised balanced accuracy.
    min_relevance: float = 0.45


class AnswerStream:
    """Iterate for the answer's text as it is generated; `.answer` is set when it ends."""

    def __init__(self, tokens: Iterator[str], finish: Callable[[], Answer]) -> None:
        self._tokens = tokens
        self._finish = finish
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._tokens
        self.answer = self._finish()

    def result(self) -> Answer:
        """Consume the stream (if not yet done) and return the answer."""
        if self.answer is None:
            for _ in self:
                pass
        return self.answer


class Answerer:
    """Answers questions from a retriever and (in llm mode) a generator."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Callable[[], Generator],
        settings: AnswerSettings = AnswerSettings(),
    ) -> None:
        self.retriever = retriever
        self._generator = generator  # a factory: the model loads only when first needed
        self.settings = settings

    @property
    def generator(self) -> Generator:
        return self._generator()

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), **kw) -> Answer:
        return self.stream(question, history, **kw).result()

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        mode: str | None = None,
        filters: Filters | None = None,
    ) -> AnswerStream:
        """Start answering; `history` is the earlier (question, answer) pairs of the chat."""
        s = self.settings
        mode = mode or s.mode
        if mode not in MODES:
            raise QuireError(f"unknown answer mode {mode!r}: use llm or quotes")
        t0 = time.perf_counter()
        standalone = self.standalone(question, history, mode)
        hits = self.retriever.search(standalone, s.k, filters)
        timings = {"retrieval_ms": (time.perf_counter() - t0) * 1000}
        relevance = max((h.dense or 0.0 for h in hits), default=0.0)
        timings["relevance"] = relevance
        if not hits or relevance < s.min_relevance:
            return self._refusal(question, standalone, hits, mode, timings, t0)
        if mode == "quotes":
            return self._quotes(question, standalone, hits, timings, t0)
        return self._generate(question, standalone, hits, timings, t0)

    # --- pieces -------------------------------------------------------------------------

    def standalone(self, question: str, history: Sequence[tuple[str, str]], mode: str) -> str:
        """The question rewritten to stand alone; the first question of a chat is kept."""
        if not history:
            return question
        if mode == "quotes":  # no model: carry the previous question's words along
            return f"{history[-1][0]} {question}"
        lines = [f"User: {q}\nAssistant: {a}" for q, a in history[-3:]]
        prompt = render("rewrite", history="\n".join(lines), question=question)
        out = "".join(self.generator.stream([{"role": "user", "content": prompt}], 48))
        out = out.strip().splitlines()[0].strip().strip('"') if out.strip() else ""
        return out if len(out) >= 3 else question

    def pack(self, question: str, hits: Sequence[Hit]) -> tuple[list[Message], list[Chunk]]:
        """Messages with as many excerpts as fit the token budget, best first."""
        gen, s = self.generator, self.settings
        system = {"role": "system", "content": render("system")}

        def messages(blocks: list[str]) -> list[Message]:
            user = render("answer", excerpts="\n\n".join(blocks), question=question)
            return [system, {"role": "user", "content": user}]

        budget = min(s.prompt_tokens, gen.context_size - s.answer_tokens)
        blocks: list[str] = []
        shown: list[Chunk] = []
        for hit in hits:
            chunk = hit.chunk
            block = _excerpt_block(len(shown) + 1, chunk)
            if prompt_tokens(gen, messages([*blocks, block])) <= budget:
                blocks.append(block)
                shown.append(chunk)
                continue
            trimmed = _trim_to_fit(
                chunk,
                lambda c: (
                    prompt_tokens(gen, messages([*blocks, _excerpt_block(len(shown) + 1, c)]))
                    <= budget
                ),
            )
            if trimmed is not None:
                blocks.append(_excerpt_block(len(shown) + 1, trimmed))
                shown.append(trimmed)
            break
        return messages(blocks), shown

    def _generate(self, question, standalone, hits, timings, t0) -> AnswerStream:
        s = self.settings
        msgs, shown = self.pack(standalone, hits)
        timings["prompt_tokens"] = prompt_tokens(self.generator, msgs)
        raw: list[str] = []
        released = [0]  # how much of the raw text has gone to the user
        filt = MarkerFilter(len(shown), shown)

        def tokens() -> Iterator[str]:
            start = time.perf_counter()
            n = 0
            for piece in self.generator.stream(msgs, s.answer_tokens):
                if n == 0:
                    timings["first_token_ms"] = (time.perf_counter() - t0) * 1000
                n += 1
                raw.append(piece)
                text = "".join(raw)
                label = LEAD_LABEL.match(text)
                if label and released[0] == 0:  # "Excerpt 1:" echoed before the answer
                    text = text[label.end() :]
                    raw[:] = [text]
                cut = degenerate_at(text)
                if cut is not None:  # small models loop or echo the prompt: stop there
                    raw[:] = [text[:cut]]
                    break
                safe = safe_length(text)  # hold back what may turn out to be a repeat
                if safe > released[0]:
                    out = filt.feed(text[released[0] : safe])
                    released[0] = safe
                    if out:
                        yield out
            text = "".join(raw)
            cut = degenerate_at(text, final=True)  # the last sentence is complete now
            if cut is not None:
                text = text[:cut]
                raw[:] = [text]
            tail = filt.feed(text[released[0] :]) + filt.flush()
            if tail:
                yield tail
            end = time.perf_counter()
            timings["generated_tokens"] = n
            first = timings.get("first_token_ms", 0) / 1000 + t0
            # generation speed: the tokens after the first, over the time after the first
            timings["tokens_per_second"] = (n - 1) / (end - first) if n > 1 and end > first else 0.0
            timings["generation_ms"] = (end - start) * 1000

        def finish() -> Answer:
            text, citations = check("".join(raw), shown)
            timings["total_ms"] = (time.perf_counter() - t0) * 1000
            return Answer(
                question, text, citations, list(hits), shown, False, "llm", standalone, timings
            )

        return AnswerStream(tokens(), finish)

    def _quotes(self, question, standalone, hits, timings, t0) -> AnswerStream:
        """No model: the sentences of the top excerpts that best match the question."""
        shown = [h.chunk for h in hits[:5]]
        prior = [h.score for h in hits[:5]]
        # Every sentence of the top excerpts, scored by the share of the question's words it
        # has, plus its embedding's cosine to the question's (one batch), plus half its
        # excerpt's retrieval score; ties go to the better-ranked excerpt. The best sentence
        # is the answer; a second one from another excerpt joins only if it scores as well.
        # (Three variants were compared on SQuAD: words only 0.775 citation precision, + cosine
        # 0.853, + retrieval score 0.870; see BENCHMARKS.md.)
        spans = [(n, a, b) for n, c in enumerate(shown, start=1) for a, b in sentences(c.text)]
        texts = [shown[n - 1].text[a:b] for n, a, b in spans]
        vectors = self.retriever.embedder.embed([standalone, *texts]) if texts else [[]]
        q = vectors[0]
        scored = []
        for (n, a, b), text, v in zip(spans, texts, vectors[1:]):
            cosine = sum(x * y for x, y in zip(q, v))
            scored.append((overlap(standalone, text) + cosine + 0.5 * prior[n - 1], -n, a, b))
        scored.sort(reverse=True)
        lines, used = [], set()
        for score, neg_n, a, b in scored[:2]:
            n = -neg_n
            if score <= 0 or n in used or (lines and score < scored[0][0]):
                continue
            used.add(n)
            lines.append(f"{shown[n - 1].text[a:b]} [{n}]")
        raw = "\n".join(lines)
        timings["first_token_ms"] = (time.perf_counter() - t0) * 1000

        def finish() -> Answer:
            text, citations = check(raw, shown)
            timings["total_ms"] = (time.perf_counter() - t0) * 1000
            return Answer(
                question, text, citations, list(hits), shown, False, "quotes", standalone, timings
            )

        return AnswerStream(iter([raw] if raw else []), finish)

    def _refusal(self, question, standalone, hits, mode, timings, t0) -> AnswerStream:
        text = render("refusal", question=question)
        timings["first_token_ms"] = (time.perf_counter() - t0) * 1000

        def finish() -> Answer:
            timings["total_ms"] = (time.perf_counter() - t0) * 1000
            return Answer(question, text, [], list(hits), [], True, mode, standalone, timings)

        return AnswerStream(iter([text]), finish)


_TAG = re.compile(r"<(/?\s*excerpt)", re.IGNORECASE)


def _inert(text: str) -> str:
    """Document text that cannot close or open an excerpt block (a document may try to)."""
    return _TAG.sub(r"‹\1", text)


def _attr(text: str) -> str:
    return _inert(text).replace('"', "'").replace("\n", " ")


def _excerpt_block(n: int, chunk: Chunk) -> str:
    where = []
    if chunk.page is not None:
        where.append(f' page="{chunk.page}"')
    if chunk.heading:
        where.append(f' section="{_attr(" > ".join(chunk.heading))}"')
    name = _attr(chunk.source.rsplit("/", 1)[-1])
    return render("excerpt", n=n, source=name, location="".join(where), text=_inert(chunk.text))


def _trim_to_fit(chunk: Chunk, fits: Callable[[Chunk], bool]) -> Chunk | None:
    """The longest run of whole leading sentences of `chunk` that fits, or None."""
    from dataclasses import replace

    spans = sentences(chunk.text)
    for k in range(len(spans) - 1, 0, -1):
        end = spans[k - 1][1]
        part = replace(chunk, text=chunk.text[:end], end=chunk.start + end)  # same id
        if fits(part):
            return part
    return None
