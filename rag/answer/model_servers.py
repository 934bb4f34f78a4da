"""Models of OpenAI-compatible servers listening on this computer (Ollama, LM Studio, llama.cpp
server, vLLM), and which user runs each; the only network touched is the loopback."""

from __future__ import annotations

import ipaddress
import json
import os
import struct
import threading
import time
from collections.abc import Mapping

from rag.answer.choice import OLLAMA, ModelChoice, label
from rag.answer.gguf import format_params
from rag.errors import QuireError

DEFAULT_PORTS = {11434: OLLAMA, 1234: "LM Studio", 8080: "llama.cpp server", 8000: "vLLM"}
MAX_BODY_BYTES = 1024 * 1024
MAX_MODELS = 200  # per server
MAX_ID_CHARS = 200
SCAN_SECONDS = 1.5  # the whole server scan, all ports together


def _loopback(host: str) -> str:
    """The host as written in a URL if it is this computer; QuireError for anything else."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is None or not ip.is_loopback:
        raise QuireError(f"model servers are only looked for on this computer, not on {host!r}")
    return f"[{ip}]" if ip.version == 6 else str(ip)


def _pos_int(value) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**53
    return value if ok else None


def _dig(value, *keys):
    """value[k1][k2]... through dicts only, else None."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _fetch(client, url: str, deadline: float, body: dict | None = None):
    """JSON from a GET (a POST of `body`), at most 1 MiB, read before the deadline; or None."""
    import httpx

    left = deadline - time.monotonic()
    if left <= 0:
        return None
    try:
        method = "GET" if body is None else "POST"
        with client.stream(method, url, json=body, timeout=min(client.timeout.read, left)) as resp:
            encoding = resp.headers.get("content-encoding", "identity")
            if resp.status_code != 200 or encoding not in ("identity", ""):
                return None
            data = bytearray()
            for chunk in resp.iter_raw():  # raw: a compressed bomb never expands here
                data += chunk
                if len(data) > MAX_BODY_BYTES or time.monotonic() > deadline:
                    return None
        return json.loads(data)
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError, RecursionError):
        return None


def _server_models(client, base: str, origin: str, deadline: float) -> dict[str, dict]:
    """Model id -> params, context_length, size_bytes, as far as the server tells them."""
    models: dict[str, dict] = {}
    listing = _dig(_fetch(client, f"{base}/v1/models", deadline), "data")
    for item in listing[: MAX_MODELS * 5] if isinstance(listing, list) else []:
        mid = _dig(item, "id")
        ok = isinstance(mid, str) and 0 < len(mid) <= MAX_ID_CHARS and mid.isprintable()
        if ok and mid not in models and len(models) < MAX_MODELS:
            trained = _pos_int(_dig(item, "meta", "n_ctx_train"))  # llama.cpp server
            models[mid] = {
                "params": _pos_int(_dig(item, "meta", "n_params")),
                "context_length": _pos_int(_dig(item, "max_model_len")) or trained,  # vLLM
                "size_bytes": _pos_int(_dig(item, "meta", "size")),
            }
    if len(models) == 1 and any(isinstance(_dig(i, "meta"), dict) for i in listing):
        # llama.cpp server: the context it runs with, rather than the trained one
        props = _fetch(client, f"{base}/props", deadline)
        n_ctx = _pos_int(_dig(props, "default_generation_settings", "n_ctx"))
        for m in models.values():
            m["context_length"] = n_ctx or m["context_length"]
    if origin == OLLAMA:
        for mid, m in models.items():
            info = _dig(_fetch(client, f"{base}/api/show", deadline, {"model": mid}), "model_info")
            arch = _dig(info, "general.architecture")
            m["context_length"] = _pos_int(_dig(info, f"{arch}.context_length"))
            m["params"] = _pos_int(_dig(info, "general.parameter_count"))
    return models


def _probe(client, host: str, port: int, origin: str, deadline: float) -> list[ModelChoice]:
    base = f"http://{host}:{int(port)}"
    models = _server_models(client, base, origin, deadline)
    others = listener_uids(host, port) - {os.geteuid()} if models else set()
    run_by = _user_name(min(others)) if others else ""
    mark = f"run by {run_by}, another user" if run_by else None
    return [
        ModelChoice(
            kind="server",
            origin=origin,
            label=label(mid, f"{origin} :{port}", format_params(m["params"]), mark),
            url=f"{base}/v1",
            model=mid,
            run_by=run_by,
            **m,
        )
        for mid, m in models.items()
    ]


def listener_uids(host: str, port: int) -> set[int]:
    """The user ids owning the TCP sockets that listen on `port` and would take a connection to
    `host` (an IP address), read from /proc/net/tcp and tcp6; empty when that cannot be told
    (not Linux, a server in another network namespace)."""
    target = ipaddress.ip_address(host.strip("[]"))
    uids = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as f:
                rows = f.read().splitlines()[1:]
        except (OSError, ValueError):
            continue
        for row in rows:
            # sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
            fields = row.split()
            if len(fields) < 8 or fields[3] != "0A":  # 0A: LISTEN
                continue
            address, _, hex_port = fields[1].partition(":")
            try:
                if int(hex_port, 16) == port and _takes(_proc_address(address), target):
                    uids.add(int(fields[7]))
            except ValueError:
                continue
    return uids


def _proc_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as /proc/net/tcp prints it: 32-bit words in the kernel's byte order."""
    words = [int(text[i : i + 8], 16) for i in range(0, len(text), 8)]
    return ipaddress.ip_address(b"".join(struct.pack("=I", w) for w in words))


def _takes(bound, target) -> bool:
    """Whether a socket listening on `bound` gets connections made to `target`."""
    if bound.version == 6 and bound.ipv4_mapped is not None:
        bound = bound.ipv4_mapped
    if bound == target:
        return True
    return bound.is_unspecified and (bound.version == 6 or target.version == 4)


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def _client(timeout: float):
    """An HTTP client that never uses a proxy, never follows redirects and reads bodies raw."""
    import ssl

    import httpx

    return httpx.Client(
        trust_env=False,  # no proxy from the environment, ever
        follow_redirects=False,
        timeout=timeout,
        headers={"Accept-Encoding": "identity"},
        # Plain HTTP only; an empty trust store skips loading certifi's (~0.1 s per client).
        verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
    )


def local_servers(
    ports: Mapping[int, str] = DEFAULT_PORTS,
    host: str = "127.0.0.1",
    timeout: float = 0.3,
    deadline: float = SCAN_SECONDS,
) -> list[ModelChoice]:
    """Models of OpenAI-compatible servers listening on this computer; ports probed together.

    Only loopback hosts are allowed (QuireError otherwise). The whole scan ends within `deadline`
    seconds (a little more for a request already under way); a closed or silent port is skipped."""
    host = _loopback(host)
    end = time.monotonic() + deadline
    results: dict[int, list[ModelChoice]] = {}
    client = _client(timeout)

    def run(port: int, origin: str) -> None:
        try:
            results[port] = _probe(client, host, port, origin, end)
        except Exception:  # one odd server never hides the others
            results[port] = []

    threads = [
        threading.Thread(target=run, args=(p, o), daemon=True, name=f"quire-probe-{p}")
        for p, o in ports.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    client.close()  # a probe still running past the deadline fails, and is ignored
    return [c for p in ports if p in results for c in results[p]]
