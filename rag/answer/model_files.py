"""GGUF models already on disk: model folders (LM Studio, GPT4All, the Hugging Face cache,
~/models) and Ollama stores, walked within bounds; nothing is downloaded."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from rag.answer.choice import OLLAMA, ModelChoice, file_choice
from rag.answer.gguf import GGUFInfo, clean_text, read_gguf_cached, read_model_file

MIN_BYTES = 1024 * 1024  # smaller "models" are test files or stubs
MAX_DEPTH = 6
MAX_ENTRIES = 20_000  # directory entries looked at per root
MAX_MANIFEST_BYTES = 1024 * 1024
OLLAMA_MODEL = "application/vnd.ollama.image.model"
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")


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
                        found.append(file_choice("gguf", origin, name, path, info))
            except Exception:  # an odd folder never hides the others' models
                continue
    return found
