"""`quire bench answers DIR`: answer quality, citation precision, refusals and speed on SQuAD.

DIR is the SQuAD v1.1 dev folder (`beir/` and `answers.jsonl`). Every sixth article is left out
of the index: its questions must be refused; the others must be answered. The refusal threshold
is calibrated on one half of the questions and its rates are reported on the other half.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import string
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from quire.bench.retrieval import corpus_files, percentile, read_beir
from rag.answer.citations import MARKER
from rag.errors import QuireError
from rag.settings import Settings

HELD_OUT_EVERY = 6  # article index % 6 == 0: 8 of SQuAD dev's 48 articles


def normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower-case, no punctuation or articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    p, g = normalize(prediction).split(), normalize(gold).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def contains(prediction: str, golds: list[str]) -> bool:
    text = normalize(prediction)
    return any(normalize(g) and normalize(g) in text for g in golds)


def best_threshold(answerable: list[float], unanswerable: list[float]) -> float:
    """The relevance cut that maximises balanced accuracy (mean of the two correct rates)."""
    candidates = sorted(set(answerable + unanswerable))
    best, best_score = 0.0, -1.0
    for t in candidates:
        answered = sum(r >= t for r in answerable) / len(answerable)
        refused = sum(r < t for r in unanswerable) / len(unanswerable)
        if (answered + refused) / 2 > best_score:
            best, best_score = t, (answered + refused) / 2
    return best


def run_answers(
    folder: Path,
    settings: Settings,
    questions: int = 200,
    llm_questions: int = 60,
    seed: int = 0,
    log: Callable[[str], None] = lambda s: None,
    budgets: tuple[int, ...] = (),
) -> dict:
    """Index the kept articles, then measure refusals, the default (auto) mode, quotes mode
    and llm mode (at each prompt budget in `budgets` too)."""
    from quire.engine import build_engine

    beir = folder / "beir"
    if not (folder / "answers.jsonl").is_file() or not beir.is_dir():
        raise QuireError(f"{folder} is not the SQuAD folder: beir/ and answers.jsonl are needed")
    corpus, queries, _ = read_beir(beir)
    answers = [json.loads(line) for line in open(folder / "answers.jsonl", encoding="utf-8")]
    held = {did for did in corpus if int(did.split("_")[0]) % HELD_OUT_EVERY == 0}
    kept = {did: corpus[did] for did in corpus if did not in held}
    rnd = random.Random(seed)
    inside = rnd.sample([a for a in answers if a["corpus-id"] not in held], questions)
    outside = rnd.sample([a for a in answers if a["corpus-id"] in held], questions)
    with tempfile.TemporaryDirectory(prefix="quire-answers-") as tmp:
        tmp = Path(tmp)
        doc_of = corpus_files(kept, tmp / "docs")
        engine = build_engine(replace(settings, home=tmp / "home"))
        try:
            log(f"ingesting {len(kept)} paragraphs ({len(held)} of held-out articles left out)")
            engine.ingest([str(tmp / "docs")])
            result = _measure(
                engine, queries, corpus, inside, outside, doc_of, llm_questions, log, budgets
            )
        finally:
            engine.close()
    result.update(
        paragraphs_indexed=len(kept),
        paragraphs_held_out=len(held),
        questions_per_side=questions,
        seed=seed,
        llm=engine.generator().name,
        embedder=engine.embedder.name,
    )
    return result


def _measure(
    engine, queries, corpus, inside, outside, doc_of, llm_questions, log, budgets=()
) -> dict:
    answerer = engine.answerer
    log("relevance of the best hit, answerable and unanswerable questions")

    def relevance(a) -> float:
        hits = engine.retriever.search(queries[a["_id"]], _k(engine))
        return max((h.dense or 0.0 for h in hits), default=0.0)

    rel_in = [relevance(a) for a in inside]
    rel_out = [relevance(a) for a in outside]
    half = len(inside) // 2
    threshold = best_threshold(rel_in[:half], rel_out[:half])
    test_in, test_out = rel_in[half:], rel_out[half:]
    refusal = {
        "threshold_calibrated": round(threshold, 4),
        "threshold_in_use": answerer.settings.min_relevance,
        "calibration_questions": 2 * half,
        "answered_when_answerable": round(sum(r >= threshold for r in test_in) / len(test_in), 4),
        "refused_when_not_in_index": round(sum(r < threshold for r in test_out) / len(test_out), 4),
        "answerable_relevance_median": round(statistics.median(rel_in), 4),
        "unanswerable_relevance_median": round(statistics.median(rel_out), 4),
    }
    modes = {}
    runs = (("auto", inside), ("quotes", inside), ("llm", inside[:llm_questions]))
    for mode, sample in runs:
        log(f"{mode} mode on {len(sample)} answerable questions")
        modes[mode] = _quality(engine, queries, corpus, sample, doc_of, mode)
    from rag.answer.policy import resolve_mode

    resolved, why = resolve_mode("auto", engine.generator())  # what the default answers with
    modes["auto"]["resolved_to"], modes["auto"]["reason"] = resolved, why
    for budget in budgets:
        log(f"llm mode with a {budget}-token prompt budget on {llm_questions} questions")
        saved = answerer.settings
        answerer.settings = replace(saved, prompt_tokens=budget, k=max(6, budget // 90))
        try:
            row = _quality(engine, queries, corpus, inside[:llm_questions], doc_of, "llm")
        finally:
            answerer.settings = saved
        modes[f"llm, budget {budget}"] = row
    log("speed side by side with plain llama-cpp-python")
    return {
        "refusal": refusal,
        "modes": modes,
        "speed": speed_side_by_side(engine, queries, inside),
    }


def _k(engine) -> int:
    """Hits retrieved per question, as `ask` retrieves them with the configured model."""
    from rag.answer.policy import policy

    return engine.answerer.settings.k or policy(engine.generator()).k


def _quality(engine, queries, corpus, sample, doc_of, mode) -> dict:
    contained, f1s, precise, refused, ttft, tps, ptoks = [], [], [], 0, [], [], []
    for a in sample:
        answer = engine.answerer.ask(queries[a["_id"]], mode=mode)
        if answer.refused:
            refused += 1
        golds = a["answers"]
        said = MARKER.sub("", answer.text)  # "[2]" must not count as the answer "2"
        contained.append(contains(said, golds))
        f1s.append(max(token_f1(said, g) for g in golds))
        for c in answer.citations:
            gold_doc = doc_of.get(c.source) == a["corpus-id"]
            has_answer = contains(corpus_text(engine, c), golds)
            precise.append(gold_doc or has_answer)
        if "first_token_ms" in answer.timings and not answer.refused:
            ttft.append(answer.timings["first_token_ms"])
        if answer.timings.get("tokens_per_second"):
            tps.append(answer.timings["tokens_per_second"])
        if "prompt_tokens" in answer.timings:
            ptoks.append(answer.timings["prompt_tokens"])
    n = len(sample) or 1
    out = {
        "questions": len(sample),
        "answer_containment": round(sum(contained) / n, 4),
        "token_f1": round(sum(f1s) / n, 4),
        "citations": len(precise),
        "citation_precision": round(sum(precise) / len(precise), 4) if precise else None,
        "refused": refused,
        "first_token_ms_p50": round(statistics.median(ttft), 1) if ttft else None,
        "first_token_ms_p95": round(percentile(ttft, 95), 1) if ttft else None,
    }
    if tps:
        out["tokens_per_second_median"] = round(statistics.median(tps), 1)
    if ptoks:
        out["prompt_tokens_median"] = statistics.median(ptoks)
    return out


def corpus_text(engine, citation) -> str:
    """The whole indexed chunk a citation points into (the quote is one sentence of it)."""
    for chunk, _ in engine.lexical.search(citation.quote, 5):
        if chunk.id == citation.chunk_id:
            return chunk.text
    return citation.quote


def speed_side_by_side(engine, queries, sample, runs: int = 5) -> dict:
    """Time to first token and generation speed on the same packed prompts: through Quire's
    generator, and through a plain llama-cpp-python `Llama` in the same process."""
    gen = engine.generator()
    if not hasattr(gen, "warm_up") or not hasattr(gen, "path"):
        return {}
    from llama_cpp import Llama

    plain = Llama(
        model_path=str(gen.path), n_ctx=gen.n_ctx, n_threads=gen.threads, verbose=False, seed=0
    )
    rows = {"quire": [], "plain": [], "quire, prefix cache cleared": []}
    sizes = []
    for a in sample[:runs]:
        q = queries[a["_id"]]
        msgs, _ = engine.answerer.pack(q, engine.retriever.search(q, _k(engine)))
        sizes.append(sum(len(plain.tokenize(m["content"].encode())) for m in msgs))
        rows["quire"].append(_time_stream(lambda m=msgs: gen.stream(m, 64)))
        gen.warm_up().reset()  # forget the evaluated prompt: no shared system-prompt prefix
        rows["quire, prefix cache cleared"].append(_time_stream(lambda m=msgs: gen.stream(m, 64)))
        rows["plain"].append(
            _time_stream(
                lambda m=msgs: (
                    p["choices"][0].get("delta", {}).get("content") or ""
                    for p in plain.create_chat_completion(
                        messages=m, max_tokens=64, temperature=0.0, stream=True
                    )
                )
            )
        )
    out = {}
    for who, got in rows.items():
        out[who] = {
            "first_token_ms_median": round(statistics.median(g[0] for g in got), 1),
            "generation_tokens_per_second_median": round(statistics.median(g[1] for g in got), 1),
        }
    out["prompts"] = len(rows["quire"])
    out["prompt_tokens_median"] = statistics.median(sizes)  # message contents, no template
    return out


def _time_stream(make) -> tuple[float, float]:
    began = time.perf_counter()
    first, n = None, 0
    for piece in make():
        if piece:
            if first is None:
                first = time.perf_counter()
            n += 1
    end = time.perf_counter()
    if first is None:
        return (end - began) * 1000, 0.0
    return (first - began) * 1000, (n - 1) / (end - first) if n > 1 and end > first else 0.0


def format_answers(r: dict) -> str:
    ref = r["refusal"]
    lines = [
        f"SQuAD v1.1 dev: {r['paragraphs_indexed']} paragraphs indexed, "
        f"{r['paragraphs_held_out']} (every {HELD_OUT_EVERY}th article) left out; "
        f"{r['questions_per_side']} questions each side, seed {r['seed']}",
        f"LLM {r['llm']}, embedder {r['embedder']}",
        "",
        f"refusal threshold (best dense cosine), calibrated on {ref['calibration_questions']} "
        f"questions: {ref['threshold_calibrated']} (in use: {ref['threshold_in_use']})",
        f"  on the other half: answered when answerable {ref['answered_when_answerable']:.3f}, "
        f"refused when not in the index {ref['refused_when_not_in_index']:.3f}",
        f"  median relevance: answerable {ref['answerable_relevance_median']}, "
        f"unanswerable {ref['unanswerable_relevance_median']}",
        "",
        f"{'mode':16} {'n':>4} {'contain':>8} {'F1':>6} {'cites':>6} {'cite prec':>9} "
        f"{'refused':>7} {'TTFT p50':>9} {'TTFT p95':>9} {'tok/s':>6} {'prompt':>6}",
    ]
    for mode, m in r["modes"].items():
        prec = f"{m['citation_precision']:.3f}" if m["citation_precision"] is not None else "-"
        p50 = f"{m['first_token_ms_p50']:.0f} ms" if m["first_token_ms_p50"] is not None else "-"
        p95 = f"{m['first_token_ms_p95']:.0f} ms" if m["first_token_ms_p95"] is not None else "-"
        tps = (
            f"{m.get('tokens_per_second_median', 0):.0f}"
            if "tokens_per_second_median" in m
            else "-"
        )
        ptok = f"{m['prompt_tokens_median']:.0f}" if "prompt_tokens_median" in m else "-"
        lines.append(
            f"{mode:16} {m['questions']:4} {m['answer_containment']:8.3f} {m['token_f1']:6.3f} "
            f"{m['citations']:6} {prec:>9} {m['refused']:7} {p50:>9} {p95:>9} {tps:>6} {ptok:>6}"
        )
    auto = r["modes"].get("auto", {})
    if "resolved_to" in auto:
        lines.append(f"auto (the default) answered with {auto['resolved_to']}: {auto['reason']}")
    sp = r.get("speed") or {}
    if sp:
        lines.append("")
        lines.append(f"same {sp['prompts']} packed prompts, warm models, 64 new tokens at most:")
        for who in ("quire", "plain", "quire, prefix cache cleared"):
            m = sp[who]
            lines.append(
                f"  {who:28} first token {m['first_token_ms_median']:.0f} ms (median), "
                f"generation {m['generation_tokens_per_second_median']:.1f} tokens/s"
            )
    return "\n".join(lines)
