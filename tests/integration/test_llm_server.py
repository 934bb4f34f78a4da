"""The OpenAI-compatible path against a real server on 127.0.0.1: llama-cpp-python's own,
serving the bundled model, started by the test."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from rag.answer.generate import bundled_gguf_path
from rag.answer.server import OpenAIGenerator
from rag.retrieval.store import ChromaStore
from tests.helpers import write


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("server") / "server.log", "w+b")  # a pipe would fill up
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(bundled_gguf_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        log.seek(0)
        printed = log.read().decode(errors="replace")[-2000:]
        raise RuntimeError(f"waited 120 s for the server's /v1/models; it printed:\n{printed}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_generator_streams_from_the_server(server):
    gen = OpenAIGenerator(server, model="smollm2")
    pieces = list(gen.stream([{"role": "user", "content": "Say hello."}], 16))
    assert len(pieces) >= 2 and "".join(pieces).strip()


def test_ask_through_the_server(server, tmp_path, make_engine, real_embedder):
    lib = tmp_path / "lib"
    write(lib / "owls.md", "# Owls\n\nOwls hunt mice at night and fly without a sound.\n")
    engine = make_engine(
        embedder=real_embedder,
        store=ChromaStore(tmp_path / "chroma"),
        generator=OpenAIGenerator(server, model="smollm2"),
    )
    engine.ingest([str(lib)])
    answer = engine.ask("What do owls hunt at night?").result()
    assert not answer.refused and answer.text.strip()
    assert all(c.source.endswith("owls.md") for c in answer.citations)
    assert "tokens_per_second" in answer.timings


def test_unreachable_server_is_a_clear_error():
    from rag.errors import QuireError

    gen = OpenAIGenerator(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(QuireError, match="cannot reach the LLM server"):
        list(gen.stream([{"role": "user", "content": "hi"}], 4))
