"""Which answer `auto` gives, and the prompt budget, per model; an explicit choice wins."""

from __future__ import annotations

from rag.answer.generate import LlamaGenerator, ScriptedGenerator
from rag.answer.policy import policy, resolve_mode
from rag.answer.server import OpenAIGenerator
from tests.gguf import llama_meta, write_gguf


def test_the_bundled_model_gets_quotes_in_auto_and_the_measured_reason():
    gen = LlamaGenerator()  # not loaded: the policy needs no model in memory
    assert gen.kind == "bundled" and gen._llm is None
    mode, why = resolve_mode("auto", gen)
    assert mode == "quotes" and "135M" in why and "BENCHMARKS" in why
    assert resolve_mode("llm", gen) == ("llm", "chosen in the settings")  # the user wins
    assert policy(gen).prompt_tokens == 560 and not policy(gen).rewrites


def test_a_gguf_is_judged_by_the_parameters_in_its_header(tmp_path):
    small = write_gguf(tmp_path / "small.gguf", llama_meta(), [("w", [1000, 1000], 3)])
    big = write_gguf(tmp_path / "big.gguf", llama_meta(), [("w", [50000, 40000], 3)])
    s, b = LlamaGenerator(small), LlamaGenerator(big)
    assert s.kind == b.kind == "gguf" and s.params == 1_000_000 and b.params == 2_000_000_000
    assert resolve_mode("auto", s)[0] == "quotes" and "1M parameters" in resolve_mode("auto", s)[1]
    assert resolve_mode("auto", b)[0] == "llm"
    assert policy(b).rewrites and policy(b).prompt_tokens == 1200


def test_a_server_writes_and_sees_more_excerpts_within_its_context():
    server = OpenAIGenerator("http://127.0.0.1:9", n_ctx=8192)
    assert resolve_mode("auto", server)[0] == "llm"
    assert policy(server).prompt_tokens == 3000 and policy(server).k == 10
    tight = OpenAIGenerator("http://127.0.0.1:9", n_ctx=2048)
    assert policy(tight).prompt_tokens == 2048 - 160  # never past the context
    assert resolve_mode("quotes", server) == ("quotes", "chosen in the settings")


def test_a_scripted_fake_writes():
    assert resolve_mode("auto", ScriptedGenerator())[0] == "llm"
