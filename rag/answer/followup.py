"""Follow-up questions in a chat: which depend on it, and what to search for when one does.

A question with no pronoun and no ellipsis is searched for exactly as typed, whatever came
before it, so changing the subject never drags retrieval back to the old one. A question that
may lean on the chat (a pronoun such as it/they/this, an ellipsis such as "and on macOS?", or
a single search word) is searched for as typed AND in context, and the lists are fused
(`Retriever.search_many`): the chat's latest standalone question joined with it, it with that
question's search words, and it with the names that question mentions (`context_forms`); a
model's rewrite joins them only when it passes `check_rewrite`. Fusing with the question as
typed keeps a question that did not need the chat where it belongs (measured with `quire bench
conversation`, BENCHMARKS.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.retrieval.lexical import STOPWORDS, query_terms


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a chat: what was asked, answered, and searched for."""

    question: str
    answer: str = ""
    searched: str = ""  # the standalone form retrieval used ("" = the question itself)

    @property
    def subject(self) -> str:
        return self.searched or self.question


def turns(history: Sequence) -> list[Turn]:
    """`history` as Turns: it may hold Turns or (question, answer[, searched]) tuples."""
    out = []
    for h in history:
        out.append(h if isinstance(h, Turn) else Turn(*h))
    return out


_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d.,]*")
# Words that stand for something said before. "that" is left out: it is far more often a
# relative pronoun ("the function that returns") than a reference to the chat.
_PRONOUNS = {
    "it", "its", "itself", "they", "them", "their", "theirs", "themselves",
    "he", "him", "his", "himself", "she", "her", "hers", "herself",
    "this", "these", "those",
}  # fmt: skip
# Words that start an elliptical follow-up ("and on macOS?", "what about Windows?").
_ELLIPSIS_STARTS = (
    "and ", "or ", "but ", "also ", "what about ", "how about ", "same for ", "same ",
    "what else", "why is that", "why not", "how so", "tell me more", "more about ",
    "and what", "and how", "and why", "and when", "and where", "and who", "then ",
)  # fmt: skip
_WH = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
_FINAL_PROFORMS = {"one", "ones", "that", "there", "then"}  # as a question's last word
_ONE_AFTER = {"which", "this", "that", "another", "other", "the"}
_EXPLETIVE = re.compile(
    r"\b(is|was|isn't|wasn't) it (true|possible|necessary|worth|better|safe|ok|okay)\b", re.I
)


def depends_on_chat(question: str) -> bool:
    """Whether `question` may lean on the chat before it: an elliptical start, at most one
    search word, or a pronoun or pro-form ("When were they in Normandy?", "how do I write
    one?"). Measured on SQuAD follow-ups: requiring the pronoun to come before any noun of the
    question caught 23.5% of them; any pronoun catches nearly all, and costs a question that
    did not need the chat nothing, since it is also searched for as typed."""
    if not question.strip():
        return False
    if elliptical(question):
        return True
    words = [w.lower() for w in words_of(question)]
    if words and words[-1] in _FINAL_PROFORMS:  # "how do I write one?", "why is that?"
        return True
    for i, w in enumerate(words):
        if w in ("one", "ones") and i > 0 and words[i - 1] in _ONE_AFTER:  # "which one is"
            return True
        if w in _PRONOUNS:
            return True
    return False


def elliptical(question: str) -> bool:
    """An elliptical start ("and on macOS?"), or at most one search word."""
    q = " ".join(question.strip().lower().split())
    return q.startswith(_ELLIPSIS_STARTS) or (
        len([t for t in query_terms(question) if t not in _PRONOUNS]) <= 1
    )


def words_of(question: str) -> list[str]:
    """The question's words as typed, an expletive "is it true" left out."""
    return [w.strip("'’-") for w in _WORD.findall(_EXPLETIVE.sub(" ", question))]


def anchor(history: Sequence[Turn]) -> str:
    """The chat's latest question that stood alone (so a chain of follow-ups keeps its
    subject without growing), else the last turn's search."""
    return next((t.question for t in reversed(history) if not t.searched), history[-1].subject)


def contextual(question: str, history: Sequence[Turn]) -> str:
    """The question joined with what the chat is about: its latest standalone question."""
    if not history:
        return question
    return f"{anchor(history)} {question}"


_NAME = re.compile(
    r"\b[A-Z][\w'’.+-]*(?:\s+(?:of|the|de|and|for)?\s*[A-Z0-9][\w'’.+-]*)*"  # Super Bowl 50
    r"|\b\w*\d\w*\b"  # sqlite3, Q4, 2022
    r"|`[^`\n]{1,60}`|\"[^\"\n]{1,60}\""  # `json_each`, "quoted"
)


def names(text: str) -> list[str]:
    """What a question names: capitalised phrases (not its first word), words with digits,
    quoted or code spans."""
    body = text.strip()
    first = re.match(r"\s*\S+", body)
    rest = body[first.end() :] if first else body
    found = (m.group(0).strip('`"') for m in _NAME.finditer(rest))
    return list(dict.fromkeys(n for n in found if n.lower() not in STOPWORDS and len(n) > 1))


def context_forms(question: str, history: Sequence[Turn]) -> list[str]:
    """The in-context forms a follow-up is also searched for: the latest standalone question
    joined with it (`contextual`); it with that question's other search words; it with the
    names that question mentions. (On SQuAD follow-ups, hit@5 with the question as typed: the
    first form alone 0.900 / 0.860, all three 0.935 / 0.910, seeds 0 / 1; BENCHMARKS.md.)"""
    if not history:
        return []
    subject = anchor(history)
    own = set(query_terms(question))
    words = [w for w in query_terms(subject) if w not in own]
    named = [n for n in names(subject) if not set(query_terms(n)) <= own]
    forms = [contextual(question, history)]
    if words:
        forms.append(f"{question} {' '.join(words)}")
    if named:
        forms.append(f"{question} {' '.join(named)}")
    return list(dict.fromkeys(forms))


def check_rewrite(rewrite: str, question: str, history: Sequence[Turn]) -> bool:
    """Whether a model's standalone rewrite can be trusted for retrieval: one line, no markup,
    not much longer than the question and its context, every search word of the question
    kept, and at least one word from the chat added (else it resolved nothing)."""
    text = rewrite.strip()
    if not text or "\n" in text or "<" in text or "[" in text:
        return False
    if len(text) > 2 * (len(question) + len(history[-1].subject if history else "")) + 20:
        return False
    own = {t for t in query_terms(question) if t not in _PRONOUNS}
    got = set(query_terms(text))
    if not own <= got:
        return False
    context = set()
    for t in history[-3:]:
        context |= set(query_terms(t.subject))
    return bool((got - own) & context)
