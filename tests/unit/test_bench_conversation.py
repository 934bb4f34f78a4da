"""The conversation and refusal benchmarks: follow-ups made from title questions, chats played on
tiny SQuAD-like and BEIR-like folders made here, and the jointly calibrated refusal threshold."""

from __future__ import annotations

import json
import random
import re

import pytest

from quire.bench.conversation import (
    FIRST,
    FOLLOWUP,
    SUBJECT_CHANGE,
    format_conversation,
    is_plural,
    make_followup,
    run_conversation,
    squad_chats,
    title_phrase,
)
from quire.bench.refusal import (
    balanced_accuracy,
    choose_threshold,
    format_refusal,
    run_refusal,
    split_queries,
)
from rag.answer.followup import depends_on_chat
from rag.answer.generate import ScriptedGenerator
from rag.errors import QuireError
from rag.settings import Settings
from tests.helpers import write

ARTICLES = {
    "Rhine": (
        [
            "The Rhine is a European river that begins in the Swiss Alps and flows to the sea.",
            "The Rhine is about 1,230 kilometres long, one of the longest rivers in Europe.",
            "Barges on the Rhine carry coal and grain past many castles on the hills.",
        ],
        [
            ("How long is the Rhine?", 1),
            ("What do barges carry on the Rhine?", 2),
            ("Where does the Rhine begin in the Swiss Alps?", 0),
            ("Which rivers in Europe are longer than the Rhine?", 1),
        ],
    ),
    "Normans": (
        [
            "The Normans were descended from Norse raiders who settled in Normandy in France.",
            "In 1066 England fell to the Normans after the Battle of Hastings.",
            "Stone castles and cathedrals in Sicily were built by the Normans.",
        ],
        [
            ("Who were the Normans descended from?", 0),
            ("When did England fall to the Normans?", 1),
            ("What was built by the Normans in Sicily?", 2),
            ("Where in France did the Normans settle?", 0),
        ],
    ),
    "Super_Bowl_50": (
        [
            "Super Bowl 50 was played at Levi's Stadium in Santa Clara, California, in 2016.",
            "The Denver Broncos defeated the Carolina Panthers in Super Bowl 50.",
            "Coldplay headlined the halftime show of Super Bowl 50 with Beyonce.",
        ],
        [
            ("Where did Super Bowl 50 take place?", 0),
            ("Which team was defeated in Super Bowl 50?", 1),
            ("Who headlined the halftime show of Super Bowl 50?", 2),
            ("In which stadium was Super Bowl 50 played?", 0),
        ],
    ),
    "Oxygen": (
        [
            "Oxygen is a chemical element with atomic number 8 and the symbol O.",
            "Plants release oxygen during photosynthesis, using sunlight to split water.",
            "Joseph Priestley and Carl Scheele discovered oxygen in the 1770s.",
        ],
        [
            ("What is the atomic number of oxygen?", 0),
            ("When is oxygen released by plants?", 1),
            ("Who discovered oxygen in the 1770s?", 2),
            ("What symbol does oxygen have?", 0),
        ],
    ),
}


def tiny_squad(root):
    """A SQuAD-like folder: answers.jsonl and beir/ with one document per paragraph."""
    corpus, queries, qrels, answers = [], [], ["query-id\tcorpus-id\tscore"], []
    for a, (title, (paragraphs, questions)) in enumerate(ARTICLES.items()):
        for p, text in enumerate(paragraphs):
            did = f"{a:02d}_{p:03d}"
            corpus.append({"_id": did, "title": title.replace("_", " "), "text": text})
        for n, (question, p) in enumerate(questions):
            qid = f"q{a}{n}"
            did = f"{a:02d}_{p:03d}"
            queries.append({"_id": qid, "text": question})
            qrels.append(f"{qid}\t{did}\t1")
            answers.append({"_id": qid, "answers": ["x"], "corpus-id": did, "title": title})
    _jsonl(root / "beir" / "corpus.jsonl", corpus)
    _jsonl(root / "beir" / "queries.jsonl", queries)
    write(root / "beir" / "qrels" / "test.tsv", "\n".join(qrels) + "\n")
    _jsonl(root / "answers.jsonl", answers)
    return root


CLAIMS = {
    "owl": ("Owls are nocturnal birds of prey that hunt mice.", "Owls hunt mice at night."),
    "bee": ("Bees pollinate flowers and make honey in hives.", "Bees make honey."),
    "oak": ("Oak trees grow acorns and live for centuries.", "Oak trees grow acorns."),
    "salmon": ("Salmon swim upstream to spawn in rivers.", "Salmon spawn in rivers."),
    "comet": ("Comets are icy bodies with tails near the sun.", "Comets have icy tails."),
    "moss": ("Moss grows on damp stones in shady forests.", "Moss grows on damp stones."),
    "ant": ("Ants build colonies with a queen and workers.", "Ant colonies have a queen."),
    "whale": ("Whales sing songs that travel far underwater.", "Whales sing underwater."),
    "cactus": ("Cacti store water in thick stems in deserts.", "Cacti store water."),
    "bat": ("Bats find insects by echolocation in the dark.", "Bats use echolocation."),
}


def tiny_beir(root):
    """A SciFact-like folder: one abstract per topic, one claim per abstract."""
    corpus, queries, qrels = [], [], ["query-id\tcorpus-id\tscore"]
    for i, (name, (text, claim)) in enumerate(CLAIMS.items()):
        corpus.append({"_id": str(100 + i), "title": name.title(), "text": text})
        queries.append({"_id": str(i), "text": claim})
        qrels.append(f"{i}\t{100 + i}\t1")
    _jsonl(root / "corpus.jsonl", corpus)
    _jsonl(root / "queries.jsonl", queries)
    write(root / "qrels" / "test.tsv", "\n".join(qrels) + "\n")
    return root


def _jsonl(path, rows):
    write(path, "".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def fake_settings(tmp_path):
    return Settings(home=tmp_path / "h", embedder="fake", llm="fake")


# --- follow-ups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question, title, expected",
    [
        ("Where did Super Bowl 50 take place?", "Super_Bowl_50", "Where did it take place?"),
        ("What is Kenya's literacy rate?", "Kenya", "What is its literacy rate?"),
        ("How long is the Rhine?", "Rhine", "How long is it?"),
        (
            "The Rhine and what other river formed a frontier?",
            "Rhine",
            "It and what other river formed a frontier?",
        ),  # fmt: skip
        ("When were the Normans in Normandy?", "Normans", "When were they in Normandy?"),
        (
            "Who controlled Sicily before the Normans?",
            "Normans",
            "Who controlled Sicily before them?",
        ),  # fmt: skip
        ("Who was the Normans' main enemy?", "Normans", "Who was their main enemy?"),
        ("Who discovered oxygen?", "Oxygen", "Who discovered it?"),
        (
            "How far is Fresno from the coast?",
            "Fresno,_California",
            "How far is it from the coast?",
        ),
        ("What is the capital of victoria?", "Victoria_(Australia)", "What is the capital of it?"),
        ("Why did SUPER BOWL 50 move?", "Super_Bowl_50", "Why did it move?"),
    ],
)
def test_followup_replaces_the_title_with_a_pronoun(question, title, expected):
    assert make_followup(question, title_phrase(title)) == expected


@pytest.mark.parametrize(
    "question, title",
    [
        ("When did the Warsaw Uprising begin?", "Warsaw"),  # T modifies a noun
        ("What Doctor Who spin-off was a pilot?", "Doctor_Who"),
        ("What chemist made liquid oxygen?", "Oxygen"),  # an adjective before T
        ("What would require a teacher to supervise?", "Teacher"),
        ("What are Sky+ HD boxes?", "Sky_(United_Kingdom)"),
        ("Where is the University of Warsaw?", "Warsaw"),  # T ends a longer name
        ("What is the atomic number of the element oxygen?", "Oxygen"),
        ("What immune system is activated first?", "Immune_system"),
        ("How long is the Nile?", "Rhine"),  # no title at all
    ],
)
def test_no_followup_where_a_pronoun_cannot_stand(question, title):
    assert make_followup(question, title_phrase(title)) is None


def test_title_phrase_and_plural():
    assert title_phrase("Super_Bowl_50") == "Super Bowl 50"
    assert title_phrase("Sky_(United_Kingdom)") == "Sky"
    assert title_phrase("Fresno,_California") == "Fresno"
    assert title_phrase("Newcastle_upon_Tyne") == "Newcastle upon Tyne"
    assert is_plural("Normans") and is_plural("Scottish Highlands")
    for singular in ("Genghis Khan", "1973 oil crisis", "Chess", "Super Bowl 50", "Genus"):
        assert not is_plural(singular), singular


def test_squad_chats_pair_two_articles_and_never_reuse_a_question(tmp_path):
    root = tiny_squad(tmp_path / "squad")
    answers = [json.loads(line) for line in open(root / "answers.jsonl")]
    queries = {
        json.loads(line)["_id"]: json.loads(line)["text"]
        for line in open(root / "beir" / "queries.jsonl")
    }
    plan, qualifying = squad_chats(answers, queries, 10, random.Random(0))
    assert qualifying == 4 and 2 <= len(plan) <= 4  # 16 questions, 4 per chat
    used = [t.qid for chat in plan for t in chat]
    assert len(used) == len(set(used))
    for chat in plan:
        assert [t.group for t in chat] == [FIRST, FOLLOWUP, SUBJECT_CHANGE, FOLLOWUP]
        a, b = chat[0].article, chat[2].article
        assert a != b and chat[1].article == a and chat[3].article == b
        for t in (chat[0], chat[2]):
            assert t.typed == t.original  # asked exactly as written
        for t in (chat[1], chat[3]):
            assert t.typed != t.original
            assert re.search(r"\b(it|its|they|them|their)\b", t.typed, re.I)
            title = next(x for i, x in enumerate(ARTICLES) if f"{i:02d}" == t.article)
            assert title_phrase(title).lower() not in t.typed.lower()


# --- conversation runs ------------------------------------------------------------------------


class Rewriter(ScriptedGenerator):
    """A fake model whose rewrite is the question followed by the previous one."""

    def stream(self, messages, max_tokens):
        prompt = messages[-1]["content"]
        last = re.search(r"Last question: (.*)", prompt).group(1)
        self.reply = f"{last} {re.findall(r'User: (.*)', prompt)[-1]}"
        yield from super().stream(messages, max_tokens)


def test_conversation_on_squad_like_folder(tmp_path, fake_settings, monkeypatch):
    monkeypatch.setattr("quire.engine.make_generator", lambda s: Rewriter())
    folder = tiny_squad(tmp_path / "squad")
    r = run_conversation(
        folder, fake_settings, chats=3, rewrite_questions=2, workdir=tmp_path / "w"
    )
    assert r["kind"] == "squad" and r["corpus"] == "squad" and r["chats"] == 3
    assert r["documents"] == 12 and r["turns"] == 12 and r["embedder"] == "fake-hash"
    assert r["min_relevance"] == 0.45 and "'it'" in r["followup_rule"]
    g = r["groups"]
    assert set(g) == {FIRST, FOLLOWUP, SUBJECT_CHANGE}
    assert (g[FIRST]["n"], g[FOLLOWUP]["n"], g[SUBJECT_CHANGE]["n"]) == (3, 6, 3)
    for stats in g.values():
        for key, value in stats.items():
            if key.startswith(("hit_", "article_", "refused_")) or key == "dependent":
                assert 0.0 <= value <= 1.0, key
    first = g[FIRST]
    # A first question has no chat before it: in the chat is the same search as alone.
    assert first["hit_chat"] == first["hit_alone"] == first["hit_typed"]
    assert first["diff_points"] == 0.0
    # A subject change is typed as written, so typed alone is the original alone.
    assert g[SUBJECT_CHANGE]["hit_typed"] == g[SUBJECT_CHANGE]["hit_alone"]
    for e in r["examples"]:
        assert e["typed"] != e["original"]
        if depends_on_chat(e["typed"]):
            assert e["searched"] != e["typed"] and e["searched"].endswith(e["typed"])
        else:
            assert e["searched"] == e["typed"]
    rw = r["rewrites"]
    assert rw["asked"] == 2 and rw["passed_check"] == 2  # the fake's rewrites keep every word
    assert all(e["rewrite"].startswith(e["question"]) for e in rw["examples"])
    text = format_conversation(r)
    assert "follow-up" in text and "subject change" in text and "2 of 2 follow-ups" in text
    # the documents and the index stay in the workdir: a second run embeds nothing
    again = run_conversation(folder, fake_settings, chats=3, rewrite_questions=0,
                             workdir=tmp_path / "w")  # fmt: skip
    assert again["chunks_embedded"] == 0 and again["rewrites"] is None
    assert again["groups"][FIRST] == first


def test_conversation_skips_rewrites_when_no_model_loads(tmp_path, fake_settings, monkeypatch):
    def no_model(settings):
        raise QuireError("no GGUF model file")

    monkeypatch.setattr("quire.engine.make_generator", no_model)
    r = run_conversation(tiny_squad(tmp_path / "squad"), fake_settings, chats=2)
    assert "no GGUF model file" in r["rewrites"]["skipped"]
    assert r["groups"][FOLLOWUP]["n"] == 4
    assert "skipped" in format_conversation(r)


def test_conversation_on_beir_folder_has_subject_changes_only(tmp_path, fake_settings):
    r = run_conversation(tiny_beir(tmp_path / "scifact"), fake_settings, chats=5)
    assert r["kind"] == "beir" and r["chats"] == 2  # 10 claims make two chats of four
    assert set(r["groups"]) == {FIRST, SUBJECT_CHANGE}
    assert r["groups"][SUBJECT_CHANGE]["n"] == 6 and "no follow-ups" in r["note"]
    assert r["rewrites"] is None and r["followup_rule"] is None
    assert "article_alone" not in r["groups"][FIRST]
    assert "subject change" in format_conversation(r)


# --- refusal ----------------------------------------------------------------------------------


def test_threshold_maximises_mean_balanced_accuracy_over_corpora():
    a = ([0.8, 0.9], [0.2, 0.3])
    b = ([0.5, 0.6], [0.1, 0.55])
    assert balanced_accuracy(*a, 0.5) == 1.0 and balanced_accuracy(*b, 0.5) == 0.75
    assert choose_threshold([a]) == 0.8  # the lowest relevance that separates a perfectly
    assert choose_threshold([b]) == 0.5
    assert choose_threshold([a, b]) == 0.5  # 0.875 mean; 0.6 ties, the lower one wins


def test_split_leaves_out_whole_groups_within_the_budget():
    corpus = {f"{a}_{p}": ("", "") for a in range(6) for p in range(3)}  # 6 articles of 3
    qrels = {f"q{a}{n}": {f"{a}_{n}": 1} for a in range(6) for n in range(3)}
    qids = list(qrels)
    random.Random(1).shuffle(qids)
    unans, ans, out = split_queries(qids, qrels, corpus, 5, lambda d: d.split("_")[0], 0.34)
    assert len(out) == 6 and len({d.split("_")[0] for d in out}) == 2  # two whole articles
    assert len(unans) == 5 and len(ans) == 5 and not set(unans) & set(ans)
    assert all(set(qrels[q]) <= out for q in unans)
    assert all(set(qrels[q]) - out for q in ans)


def test_refusal_on_two_corpora(tmp_path, fake_settings):
    squad, beir = tiny_squad(tmp_path / "squad"), tiny_beir(tmp_path / "scifact")
    r = run_refusal([squad, beir], fake_settings, queries=8, held_out_share=0.5)
    assert [c["corpus"] for c in r["corpora"]] == ["squad", "scifact"]
    sq, sf = r["corpora"]
    assert sq["grouped_by"] == "article" and sf["grouped_by"] == "document"
    assert sq["documents_left_out"] % 3 == 0 and sq["documents_left_out"] > 0  # whole articles
    for c in r["corpora"]:
        assert c["documents_indexed"] + c["documents_left_out"] == c["documents"]
        assert 1 <= c["answerable"] <= 4 and 1 <= c["unanswerable"] <= 4
        for kind in ("joint", "own", "in_use"):
            m = c["test"][kind]
            assert 0.0 <= m["false_refusal"] <= 1.0 and 0.0 <= m["true_refusal"] <= 1.0
    th = r["threshold"]
    assert th["in_use"] == 0.45 and r["corpora"][0]["test"]["in_use"]["threshold"] == 0.45
    calibration = []
    for c in r["corpora"]:
        ans, un = c["relevance"]["answerable"], c["relevance"]["unanswerable"]
        cal = (ans[: len(ans) // 2], un[: len(un) // 2])
        calibration += [*cal[0], *cal[1]]
        # a corpus's own threshold does at least as well on its calibration half as the joint
        assert balanced_accuracy(*cal, c["own_threshold"]) >= balanced_accuracy(*cal, th["joint"])
    assert th["joint"] in calibration  # chosen from the observed relevances
    text = format_refusal(r)
    assert "squad" in text and "scifact" in text and "jointly calibrated" in text


def test_refusal_refuses_a_folder_it_cannot_split(tmp_path, fake_settings):
    with pytest.raises(QuireError):
        run_refusal([tiny_beir(tmp_path / "b")], fake_settings, queries=8, held_out_share=0.0)


def test_capped_threshold_keeps_false_refusals_under_the_cap():
    from quire.bench.refusal import capped_threshold

    answerable = [0.3, 0.5, 0.6, 0.7, 0.8, 0.8, 0.9, 0.9, 0.9, 0.9] * 2  # 20 values
    unanswerable = [0.2, 0.3, 0.4, 0.55]
    t = capped_threshold([(answerable, unanswerable)], cap=0.05)
    assert t == 0.3  # at 0.5, 2 of 20 (10%) answerable would be refused
    assert capped_threshold([(answerable, unanswerable)], cap=0.10) == 0.5
    other = [0.35] * 3 + [0.9] * 17  # a second corpus that 0.5 would hurt more
    assert capped_threshold([(answerable, unanswerable), (other, [])], cap=0.10) == 0.35


def test_bench_answers_runs_the_default_path_and_budgets(tmp_path, fake_settings):
    """`quire bench answers` on a SQuAD-like folder with fakes: every mode row, the default's
    resolution, and a budget row are there."""
    from quire.bench.answers import format_answers, run_answers

    folder = tiny_squad(tmp_path / "squad")
    r = run_answers(folder, fake_settings, questions=2, llm_questions=1, budgets=(300,))
    assert set(r["modes"]) == {"auto", "quotes", "llm", "llm, budget 300"}
    assert r["modes"]["auto"]["resolved_to"] == "llm"  # the scripted fake writes
    assert r["modes"]["llm, budget 300"]["questions"] == 1
    assert "auto (the default) answered with llm" in format_answers(r)


def test_bench_commands_run_from_the_cli(tmp_path, monkeypatch, capsys):
    from quire.cli import main

    monkeypatch.setenv("QUIRE_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("QUIRE_EMBEDDER", "fake")
    monkeypatch.setenv("QUIRE_LLM", "fake")
    squad = tiny_squad(tmp_path / "squad")
    beir = tiny_beir(tmp_path / "beir")
    assert main(["bench", "conversation", str(squad), "--chats", "2", "--rewrites", "0"]) == 0
    assert "hit@5" in capsys.readouterr().out
    assert main(["bench", "refusal", str(squad), str(beir), "--queries", "6", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["benchmark"] == "refusal"
    assert main(["bench", "answers", str(squad), "--questions", "2", "--llm-questions", "1"]) == 0
    assert "auto (the default)" in capsys.readouterr().out
