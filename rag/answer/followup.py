"""Follow-up questions in a chat: which depend on it, and what to search for when one does.

A question that names its own subject is searched for exactly as typed, whatever came before
it, so changing the subject never drags retrieval back to the old one. Only a question that
leans on the chat (a pronoun with nothing in the question to refer to, or an ellipsis such as
"and on macOS?") gets a contextual form: the previous question's search words joined with
this one's (or a model's rewrite, used only when it passes `check_rewrite`). Retrieval then
fuses the question as asked with that contextual form (`Retriever.search_many`).
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
    """Whether `question` cannot be understood without the chat before it.

    True for an elliptical start, for a question of at most one search word, and for a
    pronoun that comes before any search word of the question (in "When were they in
    Normandy?" nothing before "they" can be what it means; in "What did the Normans call
    their land?" the Normans can)."""
    q = " ".join(question.strip().lower().split())
    if not q:
        return False
    if q.startswith(_ELLIPSIS_STARTS):
        return True
    content = [t for t in query_terms(question) if t not in _PRONOUNS]
    if len(content) <= 1:
        return True
    seen_content = False
    stop = STOPWORDS
    as_typed = [w.strip("'’-") for w in _WORD.findall(_EXPLETIVE.sub(" ", question))]
    words = [w.lower() for w in as_typed]
    if words and words[-1] in _FINAL_PROFORMS:  # "how do I write one?", "why is that?"
        return True
    for i, w in enumerate(words):
        if w in ("one", "ones") and i > 0 and words[i - 1] in _ONE_AFTER:  # "which one is"
            return True
        if w in _PRONOUNS:
            if not seen_content:
                return True
            continue
        if w not in stop and w not in _WH and len(w) > 1:
            # only a pronoun with nothing before it that it could mean is read as pointing
            # outside the question; possessives after a noun are the common case
            seen_content = seen_content or _nounish(as_typed[i] if i else w)
    return False


def _nounish(word: str) -> bool:
    """A word that can name what a later pronoun refers to: a capitalised word, a number, or
    a word with a digit (sqlite3, Q4), or any other word not ending like a verb form."""
    if word[:1].isupper() or any(ch.isdigit() for ch in word):
        return True
    return not word.lower().endswith(("ing", "ed")) and word.lower() not in _VERBS


# Common verbs a question puts before its object pronoun ("how do I install it").
_VERBS = {
    "do", "does", "did", "done", "make", "makes", "made", "get", "gets", "got", "use", "uses",
    "install", "compile", "build", "run", "set", "configure", "fix", "find", "call", "called",
    "mean", "means", "say", "says", "said", "work", "works", "happen", "happened", "write",
    "wrote", "written", "read", "start", "started", "stop", "take", "took", "give", "gave",
    "have", "has", "had", "be", "been", "is", "are", "was", "were", "can", "could", "should",
    "would", "will", "may", "might", "must", "know", "cost", "costs", "change", "changed",
    "compare", "create", "created", "remove", "update", "open", "close", "cite", "describe",
    "explain", "define", "defined", "see", "show", "tell", "i", "you", "we",
}  # fmt: skip


def contextual(question: str, history: Sequence[Turn]) -> str:
    """The question joined with what the chat is about: the latest question that stood alone
    (so a chain of follow-ups keeps its subject without growing)."""
    if not history:
        return question
    anchor = next((t.question for t in reversed(history) if not t.searched), None)
    return f"{anchor or history[-1].subject} {question}"


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
