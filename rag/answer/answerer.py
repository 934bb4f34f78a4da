"""Questions in, cited answers out: retrieve, refuse or pack excerpts, generate, check citations."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from rag.answer.citations import Citation, check
from rag.answer.excerpts import excerpt_block, trim_to_fit
from rag.answer.followup import (
    Turn,
    anchor,
    check_rewrite,
    context_forms,
    depends_on_chat,
    turns,
)
from rag.answer.generate import Generator, Message, prompt_tokens
from rag.answer.guard import (
    LEAD_LABEL,
    MarkerFilter,
    Sanitizer,
    degenerate_at,
    safe_length,
    strip_markup,
)
from rag.answer.policy import policy, resolve_mode
from rag.answer.prompts import render
from rag.answer.quotes import pick_quotes
from rag.answer.refusal import relevance, should_refuse
from rag.errors import QuireError
from rag.retrieval.retrieve import Filters, Retriever
from rag.types import Chunk, Hit

MODES = ("auto", "llm", "quotes")


@dataclass
class Answer:
    """The result of `ask`: text with checked `[n]` markers and what backs it."""

    question: str
    text: str
    citations: list[Citation]
    hits: list[Hit]  # what retrieval found, best first
    excerpts: list[Chunk]  # what the model was shown, numbered from 1
    refused: bool
    mode: str  # the mode that answered: "llm" or "quotes"
    standalone_question: str  # what retrieval searched for (the question itself if alone)
    timings: dict[str, float] = field(default_factory=dict)
    mode_reason: str = ""  # why this mode: chosen, or what `auto` decided and why
    note: str = ""  # e.g. the model wrote nothing usable, so quotes answered


@dataclass(frozen=True)
class AnswerSettings:
    """How answers are made; defaults chosen by the measurements in BENCHMARKS.md."""

    mode: str = "auto"  # auto: quotes for the bundled model, the model's prose for a capable one
    k: int | None = None  # hits retrieved (None: the model's policy, rag/answer/policy.py)
    prompt_tokens: int | None = None  # prompt budget (None: the model's policy)
    answer_tokens: int = 160
    # Best dense cosine below this: refuse without calling the model. Calibrated on SQuAD
    # (`quire bench answers`, BENCHMARKS.md): 0.448 maximised balanced accuracy.
    min_relevance: float = 0.45
    # Below it, the question's own words still count: answered if the best cosine is at
    # least this and one hit holds every one of 3+ of the question's words, or its file name
    # or heading holds every one of 2+ (a short note whose body wanders from its title, a
    # tiny library where BM25 weighs nothing). Measured with benchmarks/refusal_coverage.py:
    # SQuAD false refusals 0.100 -> 0.073, unanswerable refused 0.887 both, SciFact unchanged.
    min_relevance_with_words: float = 0.2


class AnswerStream:
    """Iterate for the answer's text as it is generated; `.answer` is set when it ends."""

    def __init__(self, tokens: Iterator[str], finish: Callable[[], Answer]) -> None:
        self._tokens = tokens
        self._finish = finish
        self.answer: Answer | None = None
        self.searched = ""  # what retrieval searched for, known before the first token
        self.mode = ""  # "llm" or "quotes"
        self.mode_reason = ""

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

    def ask(self, question: str, history: Sequence = (), **kw) -> Answer:
        return self.stream(question, history, **kw).result()

    def stream(
        self,
        question: str,
        history: Sequence = (),
        mode: str | None = None,
        filters: Filters | None = None,
    ) -> AnswerStream:
        """Start answering; `history` is the chat's earlier turns (Turns, or (question,
        answer[, searched]) tuples), oldest first."""
        s = self.settings
        requested = mode or s.mode
        if requested not in MODES:
            raise QuireError(f"unknown answer mode {requested!r}: use auto, llm or quotes")
        t0 = time.perf_counter()
        gen = self._generator_or_none(requested)
        mode, why = resolve_mode(requested, gen) if gen is not None else ("quotes", "chosen")
        if requested == "auto" and gen is None:
            why = "no answer model could be set up, so answers are quotes"
        k = s.k or (policy(gen, s.answer_tokens).k if gen is not None else 6)
        past = turns(history)
        searched, hits = self.retrieve(question, past, k, filters, gen)
        timings = {"retrieval_ms": (time.perf_counter() - t0) * 1000}
        timings["relevance"] = relevance(hits)
        ctx = _Context(question, searched, past, hits, mode, why, timings, t0)
        lexical = getattr(self.retriever, "lexical", None)
        limits = (s.min_relevance, s.min_relevance_with_words)
        if should_refuse(searched, hits, lexical, *limits):
            out = self._refusal(ctx)
        elif mode == "quotes":
            out = self._quotes(ctx)
        else:
            out = self._generate(ctx)
        out.searched, out.mode, out.mode_reason = searched, mode, why
        return out

    def _generator_or_none(self, mode: str) -> Generator | None:
        """The generator (not loaded), or None in quotes mode when none can be set up."""
        try:
            return self.generator
        except QuireError:
            if mode == "quotes" or mode == "auto":
                return None
            raise

    # --- follow-ups -------------------------------------------------------------------------

    def retrieve(
        self,
        question: str,
        past: Sequence[Turn],
        k: int,
        filters: Filters | None = None,
        gen: Generator | None = None,
    ) -> tuple[str, list[Hit]]:
        """(what was searched for, hits). A question that stands alone is searched as typed;
        one that leans on the chat is searched as typed and in context, fused."""
        if not past or not depends_on_chat(question):
            return question, self.retriever.search(question, k, filters)
        forms = context_forms(question, past)
        searched = forms[0]
        if gen is not None and policy(gen).rewrites:
            rewrite = self.rewrite(question, past, gen)
            if check_rewrite(rewrite, question, past):
                searched = rewrite
                forms.insert(0, rewrite)
        return searched, self.retriever.search_many([question, *forms], k, filters)

    def rewrite(self, question: str, past: Sequence[Turn], gen: Generator) -> str:
        """The model's standalone form of a follow-up question (unchecked; "" if none)."""
        lines = [f"User: {t.question}\nAssistant: {_short(t.answer)}" for t in past[-3:]]
        prompt = render("rewrite", history="\n".join(lines), question=question)
        out = "".join(gen.stream([{"role": "user", "content": prompt}], 48)).strip()
        out = strip_markup(out.splitlines()[0] if out else "", ())
        return out.strip().strip('"').strip()

    # --- answers ----------------------------------------------------------------------------

    def pack(
        self, question: str, hits: Sequence[Hit], earlier: str = ""
    ) -> tuple[list[Message], list[Chunk]]:
        """Messages with as many excerpts as fit the model's token budget, best first.
        `earlier` is the chat's previous question, for a follow-up that leans on it."""
        gen, s = self.generator, self.settings
        system = {"role": "system", "content": render("system")}
        context = f"(This follows the earlier question: {_short(earlier)})\n" if earlier else ""

        def messages(blocks: list[str]) -> list[Message]:
            user = render(
                "answer", excerpts="\n\n".join(blocks), question=question, context=context
            )
            return [system, {"role": "user", "content": user}]

        room = gen.context_size - s.answer_tokens
        budget = min(s.prompt_tokens or policy(gen, s.answer_tokens).prompt_tokens, room)
        blocks: list[str] = []
        shown: list[Chunk] = []
        for hit in hits:
            chunk = hit.chunk
            block = excerpt_block(len(shown) + 1, chunk)
            if prompt_tokens(gen, messages([*blocks, block])) <= budget:
                blocks.append(block)
                shown.append(chunk)
                continue
            trimmed = trim_to_fit(
                chunk,
                lambda c: (
                    prompt_tokens(gen, messages([*blocks, excerpt_block(len(shown) + 1, c)]))
                    <= budget
                ),
            )
            if trimmed is not None:
                blocks.append(excerpt_block(len(shown) + 1, trimmed))
                shown.append(trimmed)
            break
        return messages(blocks), shown

    def _generate(self, ctx: _Context) -> AnswerStream:
        s, timings, t0 = self.settings, ctx.timings, ctx.t0
        in_context = ctx.searched != ctx.question and not ctx.rewritten
        earlier = anchor(ctx.past) if in_context else ""  # the question the joined form used
        msgs, shown = self.pack(ctx.asked, ctx.hits, earlier)
        timings["prompt_tokens"] = prompt_tokens(self.generator, msgs)
        raw: list[str] = []
        filt = MarkerFilter(len(shown), shown)
        clean = Sanitizer(shown)
        said: list[str] = []
        fallback: list[AnswerStream] = []

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
                if label and not clean.released:  # "Excerpt 1:" echoed before the answer
                    text = text[label.end() :]
                    raw[:] = [text]
                cut = degenerate_at(text)
                if cut is not None:  # small models loop or echo the prompt: stop there
                    raw[:] = [text[:cut]]
                    break
                safe = safe_length(text)  # hold back what may turn out to be a repeat
                out = filt.feed(clean.feed(text[:safe]))
                if out:
                    said.append(out)
                    yield out
            text = "".join(raw)
            cut = degenerate_at(text, final=True)  # the last sentence is complete now
            if cut is not None:
                text = text[:cut]
                raw[:] = [text]
            tail = filt.feed(clean.feed(text, final=True)) + filt.flush()
            if tail:
                said.append(tail)
                yield tail
            end = time.perf_counter()
            timings["generated_tokens"] = n
            first = timings.get("first_token_ms", 0) / 1000 + t0
            # generation speed: the tokens after the first, over the time after the first
            timings["tokens_per_second"] = (n - 1) / (end - first) if n > 1 and end > first else 0.0
            timings["generation_ms"] = (end - start) * 1000
            if not "".join(said).strip() or not _has_words(clean.text):
                # the model wrote nothing usable (only markup or nothing): quote instead
                fallback.append(self._quotes(ctx))
                yield from fallback[0]

        def finish() -> Answer:
            if fallback:
                answer = fallback[0].result()
                answer.note = "the model wrote no usable answer, so these are quotes"
                return answer
            return ctx.answer(*check(clean.text, shown), shown, "llm")

        return AnswerStream(tokens(), finish)

    def _quotes(self, ctx: _Context) -> AnswerStream:
        """No model: the sentences of the top excerpts that best match the question."""
        # A follow-up's sentences are chosen by its own words (a checked rewrite's, if any).
        raw, shown = pick_quotes(ctx.asked, ctx.hits, self.retriever.embedder)
        ctx.timings["first_token_ms"] = (time.perf_counter() - ctx.t0) * 1000

        def finish() -> Answer:
            return ctx.answer(*check(raw, shown), shown, "quotes")

        return AnswerStream(iter([raw] if raw else []), finish)

    def _refusal(self, ctx: _Context) -> AnswerStream:
        text = render("refusal", question=ctx.question)
        ctx.timings["first_token_ms"] = (time.perf_counter() - ctx.t0) * 1000

        def finish() -> Answer:
            return ctx.answer(text, [], [], ctx.mode, refused=True)

        return AnswerStream(iter([text]), finish)


@dataclass
class _Context:
    """One question on its way to an answer."""

    question: str
    searched: str
    past: list[Turn]
    hits: list[Hit]
    mode: str
    why: str
    timings: dict[str, float]
    t0: float

    @property
    def rewritten(self) -> bool:
        """Whether retrieval searched for a model's checked rewrite (a joined form ends with
        the question itself; the question alone is itself)."""
        return self.searched != self.question and not self.searched.endswith(self.question)

    @property
    def asked(self) -> str:
        """The question to answer: a checked rewrite, else the question as typed."""
        return self.searched if self.rewritten else self.question

    def answer(self, text, citations, excerpts, mode: str, refused: bool = False) -> Answer:
        """The finished answer, its total time taken now."""
        self.timings["total_ms"] = (time.perf_counter() - self.t0) * 1000
        hits = list(self.hits)
        return Answer(
            self.question, text, citations, hits, excerpts, refused, mode, self.searched,
            self.timings, self.why,
        )  # fmt: skip


def _short(text: str, chars: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _has_words(text: str) -> bool:
    return bool(re.search(r"[^\W\d_]{2,}", text))
