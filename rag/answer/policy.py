"""Per-model choices, in one place: which answer mode `auto` means, whether the model may
rewrite follow-up questions, and how many prompt tokens of excerpts it is given.

The rules and the measurements behind them are in README.md ("Which answer you get") and
BENCHMARKS.md. The bundled SmolLM2-135M answers SQuAD questions less accurately than quotes
mode does, and cannot rewrite a follow-up question into one that keeps its own words; a model
the user chose (a GGUF file of 1B parameters or more, or a server they run) is trusted to.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_PARAMS = 1_000_000_000  # a GGUF smaller than this is treated like the bundled model


@dataclass(frozen=True)
class ModelPolicy:
    """What Quire does with one answer model."""

    writes: bool  # `auto` answers with this model's prose (else with quotes)
    rewrites: bool  # follow-up questions may be rewritten by it (checked before use)
    prompt_tokens: int  # budget for the whole prompt, excerpts included
    k: int  # hits retrieved, of which as many as fit the budget are shown
    reason: str  # one line for the user: why `auto` answers as it does


def policy(gen, answer_tokens: int = 160) -> ModelPolicy:
    """The policy for generator `gen` (reads its `kind`, `params` and `context_size`)."""
    kind = getattr(gen, "kind", "gguf")
    params = getattr(gen, "params", None)
    room = max(256, gen.context_size - answer_tokens)
    if kind == "bundled":
        return ModelPolicy(
            False,
            False,
            min(560, room),
            6,
            "the bundled 135M model answers less accurately than the quoted sentences "
            "(BENCHMARKS.md), so answers are quotes; choose a bigger model for written answers",
        )
    if kind == "fake":
        return ModelPolicy(True, False, min(560, room), 6, "a scripted test model")
    if kind == "gguf" and params is not None and params < MIN_PARAMS:
        return ModelPolicy(
            False,
            False,
            min(560, room),
            6,
            f"this model has {params / 1e6:.0f}M parameters: under 1B, small models answer "
            "less accurately than the quoted sentences, so answers are quotes",
        )
    if kind == "server":
        # A server usually runs on faster hardware and a bigger context: more, longer excerpts.
        budget = min(3000, room)
        return ModelPolicy(
            True, True, budget, 10, "your model server writes the answers, checked against sources"
        )
    # A GGUF of 1B+ in this process: prompt evaluation is ~10x slower than the 135M's on a
    # laptop CPU, so the budget stays moderate to keep the first token within seconds.
    return ModelPolicy(
        True, True, min(1200, room), 8, "your model writes the answers, checked against sources"
    )


def resolve_mode(mode: str, gen) -> tuple[str, str]:
    """(`llm` or `quotes`, why) for a requested mode; an explicit choice always wins."""
    if mode == "auto":
        p = policy(gen)
        return ("llm" if p.writes else "quotes"), p.reason
    return mode, "chosen in the settings"
