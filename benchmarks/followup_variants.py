"""Which follow-up questions to search in context, and with which forms: the variants behind
the choice in rag/answer/followup.py, on the SQuAD chats of `quire bench conversation`.

Usage: .venv/bin/python benchmarks/followup_variants.py ../shared/eval/squad-v1.1-dev WORKDIR
WORKDIR is a `quire bench conversation --workdir` folder (its index is reused). Prints hit@5
and refusals for follow-ups and subject changes, seed 0 (100 chats) and seed 1 (150 chats).
History turns carry what was searched for, not answers (the forms do not use answers).
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import replace
from pathlib import Path

from quire.bench.conversation import _hit, _relevance, squad_chats
from quire.bench.retrieval import corpus_files, read_beir
from quire.engine import build_engine
from rag.answer import followup as F
from rag.answer.followup import Turn
from rag.retrieval.lexical import STOPWORDS
from rag.settings import Settings

K, THRESHOLD = 6, 0.45
# The first version's list of verbs a question puts before its object pronoun.
VERBS = set(
    """do does did done make makes made get gets got use uses install compile build run set
    configure fix find call called mean means say says said work works happen happened write
    wrote written read start started stop take took give gave have has had be been is are was
    were can could should would will may might must know cost costs change changed compare
    create created remove update open close cite describe explain define defined see show tell
    i you we""".split()
)


def first_version(question: str) -> bool:
    """The retired rule: elliptical or one search word, or a pronoun before any word of the
    question that could be what it means (capitalised past the first word, with a digit, or a
    word that is neither a verb form nor a common verb)."""
    if not question.strip():
        return False
    if F.elliptical(question):
        return True
    seen = False
    for i, word in enumerate(F.words_of(question)):
        w = word.lower()
        if w in F._PRONOUNS:
            if not seen:
                return True
            continue
        if w not in STOPWORDS and w not in F._WH and len(w) > 1:
            shaped = word if i else w
            seen = seen or (
                shaped[:1].isupper()
                or any(ch.isdigit() for ch in shaped)
                or (not w.endswith(("ing", "ed")) and w not in VERBS)
            )
    return False


def prefix(q, past):
    return [q, F.context_forms(q, past)[0]]


def prefix_words(q, past):
    return [q, *F.context_forms(q, past)[:2]]


def kept(q, past):
    return [q, *F.context_forms(q, past)]


def prefix_only(q, past):
    return [F.context_forms(q, past)[0]]


def drop_typed(q, past):
    forms = F.context_forms(q, past)
    return forms if first_version(q) else [q, *forms]


def twice(q, past):
    forms = F.context_forms(q, past)
    return [q, *forms, *forms[1:]]


def no_prefix(q, past):
    forms = F.context_forms(q, past)
    return [q, *forms[1:]] if len(forms) > 1 else [q, *forms]


VARIANTS = {
    "pronoun before any noun; joined question": (first_version, prefix),
    "any pronoun; joined question": (F.depends_on_chat, prefix),
    "any pronoun; + its words": (F.depends_on_chat, prefix_words),
    "any pronoun; + names (kept)": (F.depends_on_chat, kept),
    "any pronoun; joined question only, not fused with typed": (F.depends_on_chat, prefix_only),
    "any pronoun; kept, typed dropped when unresolved": (F.depends_on_chat, drop_typed),
    "any pronoun; kept, words and names twice": (F.depends_on_chat, twice),
    "any pronoun; words and names, no joined question": (F.depends_on_chat, no_prefix),
}


def main(folder: Path, workdir: Path) -> None:
    corpus, queries, qrels = read_beir(folder / "beir")
    answers = [json.loads(line) for line in open(folder / "answers.jsonl", encoding="utf-8")]
    doc_of = corpus_files(corpus, workdir / "docs")
    engine = build_engine(replace(Settings.from_env(), home=workdir / "home"))
    retriever = engine.retriever
    for seed, chats in ((0, 100), (1, 150)):
        plan, _ = squad_chats(answers, queries, chats, random.Random(seed))
        alone = {}
        for chat in plan:
            for t in chat:
                hits = retriever.search(t.original, K)
                alone.setdefault(t.group, []).append(
                    (_hit(hits, qrels[t.qid], doc_of), _relevance(hits) < THRESHOLD)
                )
        print(f"seed {seed}, {len(plan)} chats: hit@5 / refused")
        print(f"  {'alone (the original question)':58} {_cells(alone)}")
        for name, (dependent, forms) in VARIANTS.items():
            rows: dict[str, list] = {}
            for chat in plan:
                past: list[Turn] = []
                for t in chat:
                    searched = ""
                    if past and dependent(t.typed):
                        hits = retriever.search_many(forms(t.typed, past), K)
                        searched = F.context_forms(t.typed, past)[0]
                    else:
                        hits = retriever.search(t.typed, K)
                    rows.setdefault(t.group, []).append(
                        (_hit(hits, qrels[t.qid], doc_of), _relevance(hits) < THRESHOLD)
                    )
                    past.append(Turn(t.typed, "", searched))
            print(f"  {name:58} {_cells(rows)}", flush=True)


def _cells(rows: dict) -> str:
    out = []
    for group in ("follow-up", "subject change"):
        got = rows.get(group, [])
        hit = sum(h for h, _ in got) / len(got)
        refused = sum(r for _, r in got) / len(got)
        out.append(f"{group} {hit:.3f} / {refused:.3f}")
    return "   ".join(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
