"""Answer models the user already has: the bundled GGUF, GGUF files on disk, local LLM servers.

Nothing here downloads anything, and the only network it touches is this computer's loopback."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import struct
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.answer.generate import bundled_gguf_path
from rag.answer.gguf import GGUFInfo, clean_text, format_params, read_gguf_cached, read_model_file
from rag.errors import QuireError

DEFAULT_PORTS = {11434: "Ollama", 1234: "LM Studio", 8080: "llama.cpp server", 8000: "vLLM"}
OLLAMA = "Ollama"
MIN_BYTES = 1024 * 1024  # smaller "models" are test files or stubs
MAX_DEPTH = 6
MAX_ENTRIES = 20_000  # directory entries looked at per root
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_BODY_BYTES = 1024 * 1024
MAX_MODELS = 200  # per server
MAX_ID_CHARS = 200
SCAN_SECONDS = 1.5  # the whole server scan, all ports together
OLLAMA_MODEL = "application/vnd.ollama.image.model"
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")


@dataclass(frozen=True)
class ModelChoice:
    """One answer model the user could pick: a GGUF file to run here, or a local server's model."""

    kind: str  # "bundled" | "gguf" | "server"
    origin: str  # "bundled", "Ollama", "LM Studio", "Hugging Face cache", "llama.cpp server", ...
    label: str
    path: str | None = None
    url: str | None = None
    model: str = ""
    params: int | None = None
    context_length: int | None = None
    size_bytes: int | None = None
    run_by: str = ""  # a server run by another user of this computer: that user's name

    def to_dict(self) -> dict:
        """A plain dict (for JSON and the CLI)."""
        return asdict(self)


def _label(name: str, origin: str, *details: str | None) -> str:
    extra = ", ".join(d for d in (origin, *details) if d)
    return f"{name} ({extra})"


def _file_choice(kind: str, origin: str, name: str, path: Path, info: GGUFInfo) -> ModelChoice:
    return ModelChoice(
        kind=kind,
        origin=origin,
        label=_label(name, origin, format_params(info.params), info.quantization),
        path=str(path),
        params=info.params,
        context_length=info.context_length,
        size_bytes=info.size_bytes,
    )


def bundled_choice() -> ModelChoice | None:
    """The model shipped with Quire (SmolLM2-135M-Instruct), or None if it is not installed."""
    try:
        path = bundled_gguf_path()
    except QuireError:
        return None
    info = read_gguf_cached(path, MIN_BYTES)
    if info is None:
        return None
    name = path.name.removesuffix(".gguf").removesuffix(f".{info.quantization}")
    return _file_choice("bundled", "bundled", name, path, info)


def default_roots(
    home: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, list[Path]]:
    """Where Ollama, LM Studio, GPT4All and the Hugging Face cache keep models, and ~/models."""
    env = os.environ if env is None else env
    try:
        base = Path(home) if home else Path.home()
    except (RuntimeError, KeyError):  # no home at all: only the system-wide places
        base = Path("/nonexistent")
    if env.get("OLLAMA_MODELS"):
        ollama = [Path(env["OLLAMA_MODELS"])]
    else:  # the user's own store, then the Linux service's
        ollama = [base / ".ollama/models", Path("/usr/share/ollama/.ollama/models")]
    hf_home = Path(env["HF_HOME"]) if env.get("HF_HOME") else base / ".cache/huggingface"
    return {
        OLLAMA: ollama,
        "LM Studio": [base / ".lmstudio/models", base / ".cache/lm-studio/models"],
        "GPT4All": [
            base / ".local/share/nomic.ai/GPT4All",
            base / "Library/Application Support/nomic.ai/GPT4All",
        ],
        "Hugging Face cache": [Path(env.get("HF_HUB_CACHE") or hf_home / "hub")],
        "folder": [base / "models"],
    }


class _Budget:
    """Directory entries left to look at, and directories already visited (loops, shared dirs)."""

    def __init__(self, seen: set | None = None) -> None:
        self.left = MAX_ENTRIES
        self.seen: set[tuple[int, int]] = set() if seen is None else seen

    def first_visit(self, path: Path) -> bool:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return False
        key = (st.st_dev, st.st_ino)
        if not stat.S_ISDIR(st.st_mode) or key in self.seen:
            return False
        self.seen.add(key)
        return True

    def scan(self, path: Path) -> list[os.DirEntry]:
        """Entries of a directory, sorted by name; [] if unreadable or out of budget."""
        out = []
        try:
            with os.scandir(path) as it:
                for entry in it:
                    if self.left <= 0:
                        break
                    self.left -= 1
                    out.append(entry)
        except (OSError, ValueError):
            return []
        return sorted(out, key=lambda e: e.name)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _gguf_paths(root: Path, budget: _Budget) -> Iterator[Path]:
    """Files named *.gguf under root: bounded depth and entries, each directory visited once."""
    stack = [(root, 0)]
    while stack and budget.left > 0:
        folder, depth = stack.pop()
        if not budget.first_visit(folder):
            continue
        subdirs = []
        for entry in budget.scan(folder):
            if entry.name.startswith("."):
                continue
            if _is_dir(entry):
                if depth < MAX_DEPTH:
                    subdirs.append((Path(entry.path), depth + 1))
            elif entry.name.lower().endswith(".gguf"):
                yield Path(entry.path)
        stack.extend(reversed(subdirs))


def _read_small(path: Path, limit: int) -> bytes | None:
    """A regular file's bytes if it holds at most `limit` of them (FIFOs and devices: None)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            data = f.read(limit + 1)
            return data if len(data) <= limit else None
    except OSError:
        return None


def _ollama_name(host: str, namespace: str, model: str, tag: str) -> str:
    name = f"{model}:{tag}"
    if namespace != "library" or host != "registry.ollama.ai":
        name = f"{namespace}/{name}"
    if host != "registry.ollama.ai":
        name = f"{host}/{name}"
    return name


def _ollama_blob(manifest: Path, store: Path) -> Path | None:
    """The model layer's blob named by an Ollama manifest (untrusted: size and digest checked)."""
    data = _read_small(manifest, MAX_MANIFEST_BYTES)
    try:
        layers = json.loads(data)["layers"] if data else None
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    for layer in layers if isinstance(layers, list) else []:
        if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL:
            digest = layer.get("digest")
            match = _DIGEST.fullmatch(digest) if isinstance(digest, str) else None
            return store / "blobs" / f"sha256-{match.group(1)}" if match else None
    return None


def _ollama_models(store: Path, budget: _Budget) -> Iterator[tuple[str, Path]]:
    """(name, blob) for each manifest: manifests/<host>/<namespace>/<model>/<tag>."""
    manifests = store / "manifests"
    if not budget.first_visit(manifests):
        return
    for host in filter(_is_dir, budget.scan(manifests)):
        for ns in filter(_is_dir, budget.scan(Path(host.path))):
            for model in filter(_is_dir, budget.scan(Path(ns.path))):
                for tag in budget.scan(Path(model.path)):
                    name = clean_text(_ollama_name(host.name, ns.name, model.name, tag.name))
                    blob = _ollama_blob(Path(tag.path), store)
                    if name and blob:
                        yield name, blob


def local_gguf_files(
    roots: Mapping[str, Sequence[str | os.PathLike[str]]] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> list[ModelChoice]:
    """GGUF models already on this computer, recognised by their header; never raises.

    `roots` maps an origin label to folders (default: `default_roots(home)`). Under the "Ollama"
    label a folder is an Ollama store: its manifests name blobs (no extension), which are taken
    when their header is GGUF. Elsewhere only files named *.gguf are read, then kept only if
    their header is valid. Files under 1 MiB are skipped, a file reached twice (symlinks, shared
    folders) is listed once, and a split model is listed by its first part."""
    try:
        return _local_gguf_files(default_roots(home) if roots is None else roots)
    except Exception:  # discovery must never break the app
        return []


def _candidates(origin: str, root: Path, budget: _Budget) -> Iterator[tuple[str, Path, GGUFInfo]]:
    if origin == OLLAMA:
        for name, blob in _ollama_models(root, budget):
            if info := read_gguf_cached(blob, MIN_BYTES):
                yield name, blob, info
    else:
        for path in _gguf_paths(root, budget):
            if named := read_model_file(path, MIN_BYTES):
                yield named[0], path, named[1]


def _local_gguf_files(roots: Mapping[str, Sequence[str | os.PathLike[str]]]) -> list[ModelChoice]:
    found: list[ModelChoice] = []
    listed: set[str] = set()
    seen: set[tuple[int, int]] = set()  # directories visited, across roots
    for origin, folders in roots.items():
        for folder in folders:
            budget = _Budget(seen=seen)
            try:
                for name, path, info in _candidates(origin, Path(folder).expanduser(), budget):
                    real = os.path.realpath(path)
                    if real not in listed:
                        listed.add(real)
                        found.append(_file_choice("gguf", origin, name, path, info))
            except Exception:  # an odd folder never hides the others' models
                continue
    return found


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
            label=_label(mid, f"{origin} :{port}", format_params(m["params"]), mark),
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


def discover(
    include_servers: bool = True,
    roots: Mapping[str, Sequence[str | os.PathLike[str]]] | None = None,
    ports: Mapping[int, str] = DEFAULT_PORTS,
    home: str | os.PathLike[str] | None = None,
) -> list[ModelChoice]:
    """Every answer model usable offline: the bundled one, then GGUF files here, then servers."""
    bundled = bundled_choice()
    choices = [bundled] if bundled else []
    taken = {os.path.realpath(bundled.path)} if bundled and bundled.path else set()
    choices += [c for c in local_gguf_files(roots, home) if os.path.realpath(c.path) not in taken]
    if include_servers:
        choices += local_servers(ports)
    return choices
