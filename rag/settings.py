"""One frozen settings object, read once from environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rag.errors import SettingsError


@dataclass(frozen=True)
class Settings:
    """Every knob Quire has; build it with `Settings.from_env()`."""

    home: Path
    embedder: str = "local"
    embed_model: Path | None = None  # None: the bundled all-MiniLM-L6-v2
    llm_model: Path | None = None  # None: the bundled SmolLM2 GGUF
    chunk_tokens: int = 200
    chunk_overlap: int = 32
    embed_batch: int = 32
    max_file_mb: float = 64.0
    threads: int | None = None
    fusion: str = "convex"
    rerank_model: Path | None = None
    llm: str = "local"
    llm_url: str = ""
    llm_name: str = ""
    llm_key: str = ""
    ctx: int = 2048
    answer_mode: str = "auto"
    chroma_url: str = ""  # a Chroma server (`chroma run`) instead of the store under home
    embed_precision: str = "auto"  # ingest: auto (bf16 where the CPU has it, else int8) or one
    embed_backend: str = "auto"  # auto (ONNX Runtime for queries and int8/fp32), onnx or torch
    cache: Path | None = None  # derived files (the ONNX embedder); None: ~/.cache/quire
    pdf_engine: str = "auto"  # auto (PDFium, pypdf as fallback) or pypdf
    parse_ahead: int = 8  # files read and parsed ahead of the embedder, on a second thread
    parse_worker: str = "process"  # process (a child with limits) or inline (no protection)
    parse_memory_mb: int = 2048  # the parse worker's address-space limit
    parse_seconds: float = 300.0  # one file's whole parse, all its pages (OCR: ~150 full ones)
    max_pages: int = 20_000  # per file
    max_chars: int = 50_000_000  # of text, per file
    max_chunks: int = 100_000  # per file
    ocr: bool = True  # images and PDF pages without a text layer
    ocr_languages: str = "eng"  # Tesseract's, joined by "+"
    cli_fork: bool = True  # read-only commands open Chroma in a child (rag/retrieval/forked.py)
    watch_quiet: float = 1.0  # seconds a changed file must be still before it is indexed
    watch_rescan: float = 600.0  # seconds between full syncs of every watched folder
    app_watch: bool = True  # the app keeps the watched folders in sync while it runs
    warm_search: bool = True  # `quire watch` answers `quire search` on QUIRE_HOME/search.sock
    follow_links: bool = False  # follow links inside a folder that lead out of it

    def __post_init__(self) -> None:
        if self.embedder not in ("local", "fake"):
            raise SettingsError(f"QUIRE_EMBEDDER must be 'local' or 'fake', not {self.embedder!r}")
        if self.chunk_tokens < 16:
            raise SettingsError("QUIRE_CHUNK_TOKENS must be at least 16")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise SettingsError("QUIRE_CHUNK_OVERLAP must be >= 0 and under half the chunk size")
        if self.fusion not in ("rrf", "convex"):
            raise SettingsError(f"QUIRE_FUSION must be 'rrf' or 'convex', not {self.fusion!r}")
        if self.llm not in ("local", "fake"):
            raise SettingsError(f"QUIRE_LLM must be 'local' or 'fake', not {self.llm!r}")
        if self.answer_mode not in ("auto", "llm", "quotes"):
            raise SettingsError(
                f"QUIRE_ANSWER_MODE must be auto, llm or quotes, not {self.answer_mode!r}"
            )
        if self.embed_precision not in ("auto", "fp32", "bf16", "int8"):
            raise SettingsError(
                "QUIRE_EMBED_PRECISION must be auto, fp32, bf16 or int8, "
                f"not {self.embed_precision!r}"
            )
        if self.embed_backend not in ("auto", "onnx", "torch"):
            raise SettingsError(
                f"QUIRE_EMBED_BACKEND must be auto, onnx or torch, not {self.embed_backend!r}"
            )
        if self.pdf_engine not in ("auto", "pypdf"):
            raise SettingsError(f"QUIRE_PDF_ENGINE must be auto or pypdf, not {self.pdf_engine!r}")
        if self.ctx < 512:
            raise SettingsError("QUIRE_CTX must be at least 512")
        if self.parse_ahead < 0:
            raise SettingsError("QUIRE_PARSE_AHEAD must be 0 or more")
        if self.parse_worker not in ("process", "inline"):
            raise SettingsError(
                f"QUIRE_PARSE_WORKER must be process or inline, not {self.parse_worker!r}"
            )
        if self.parse_memory_mb < 256 or self.parse_seconds <= 0:
            raise SettingsError(
                "QUIRE_PARSE_MEMORY_MB must be at least 256 and QUIRE_PARSE_SECONDS positive"
            )
        if min(self.max_pages, self.max_chars, self.max_chunks) < 1:
            raise SettingsError(
                "QUIRE_MAX_PAGES, QUIRE_MAX_CHARS and QUIRE_MAX_CHUNKS must be positive"
            )
        if not 0 < self.watch_quiet <= 60 or self.watch_rescan < 10:
            raise SettingsError(
                "QUIRE_WATCH_QUIET must be over 0 and at most 60, QUIRE_WATCH_RESCAN at least 10"
            )
        if self.embed_batch < 1 or self.max_file_mb <= 0:
            raise SettingsError("QUIRE_EMBED_BATCH and QUIRE_MAX_FILE_MB must be positive")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the QUIRE_* variables; unset ones take their documented default."""
        env = os.environ if env is None else env
        home = env.get("QUIRE_HOME") or "~/.local/share/quire"
        return cls(
            home=Path(home).expanduser().resolve(),
            embedder=env.get("QUIRE_EMBEDDER", "local").strip().lower(),
            embed_model=_path(env, "QUIRE_EMBED_MODEL"),
            llm_model=_path(env, "QUIRE_MODEL"),
            chunk_tokens=_number(env, "QUIRE_CHUNK_TOKENS", 200, int),
            chunk_overlap=_number(env, "QUIRE_CHUNK_OVERLAP", 32, int),
            embed_batch=_number(env, "QUIRE_EMBED_BATCH", 32, int),
            max_file_mb=_number(env, "QUIRE_MAX_FILE_MB", 64.0, float),
            threads=_number(env, "QUIRE_THREADS", None, int),
            fusion=env.get("QUIRE_FUSION", "convex").strip().lower(),
            rerank_model=_path(env, "QUIRE_RERANK_MODEL"),
            llm=env.get("QUIRE_LLM", "local").strip().lower(),
            llm_url=env.get("QUIRE_LLM_URL", "").strip(),
            llm_name=env.get("QUIRE_LLM_NAME", "").strip(),
            llm_key=env.get("QUIRE_LLM_KEY", "").strip(),
            ctx=_number(env, "QUIRE_CTX", 2048, int),
            answer_mode=env.get("QUIRE_ANSWER_MODE", "auto").strip().lower(),
            chroma_url=env.get("QUIRE_CHROMA_URL", "").strip(),
            embed_precision=env.get("QUIRE_EMBED_PRECISION", "auto").strip().lower(),
            embed_backend=env.get("QUIRE_EMBED_BACKEND", "auto").strip().lower(),
            cache=default_cache(env),
            pdf_engine=env.get("QUIRE_PDF_ENGINE", "auto").strip().lower(),
            parse_ahead=_number(env, "QUIRE_PARSE_AHEAD", 8, int),
            parse_worker=env.get("QUIRE_PARSE_WORKER", "process").strip().lower(),
            parse_memory_mb=_number(env, "QUIRE_PARSE_MEMORY_MB", 2048, int),
            parse_seconds=_number(env, "QUIRE_PARSE_SECONDS", 300.0, float),
            max_pages=_number(env, "QUIRE_MAX_PAGES", 20_000, int),
            max_chars=_number(env, "QUIRE_MAX_CHARS", 50_000_000, int),
            max_chunks=_number(env, "QUIRE_MAX_CHUNKS", 100_000, int),
            ocr=_flag(env, "QUIRE_OCR", True),
            ocr_languages=env.get("QUIRE_OCR_LANGUAGES", "eng").strip() or "eng",
            cli_fork=_flag(env, "QUIRE_CLI_FORK", True),
            watch_quiet=_number(env, "QUIRE_WATCH_QUIET", 1.0, float),
            watch_rescan=_number(env, "QUIRE_WATCH_RESCAN", 600.0, float),
            app_watch=_flag(env, "QUIRE_APP_WATCH", True),
            warm_search=_flag(env, "QUIRE_WARM_SEARCH", True),
            follow_links=_flag(env, "QUIRE_FOLLOW_LINKS", False),
        )

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def manifest_path(self) -> Path:
        return self.home / "manifest.sqlite3"

    @property
    def lexical_path(self) -> Path:
        return self.home / "lexical.sqlite3"

    @property
    def chats_path(self) -> Path:
        return self.home / "chats.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        """Where files dropped into the app are kept (Quire's own copies)."""
        return self.home / "uploads"

    @property
    def uploads_ledger(self) -> Path:
        """Which files in `uploads_dir` Quire created (and so may delete)."""
        return self.home / "uploads.sqlite3"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def chunker_version(self) -> str:
        """Changes whenever chunk boundaries would change; stored with the index."""
        return f"chunker-2:{self.chunk_tokens}:{self.chunk_overlap}"


def default_cache(env: Mapping[str, str] | None = None) -> Path:
    """Where derived files (the ONNX embedder) are kept: QUIRE_CACHE, else
    $XDG_CACHE_HOME/quire, else ~/.cache/quire."""
    env = os.environ if env is None else env
    if env.get("QUIRE_CACHE"):
        return Path(env["QUIRE_CACHE"]).expanduser().resolve()
    return Path(env.get("XDG_CACHE_HOME") or "~/.cache").expanduser().resolve() / "quire"


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "on", "true", "yes"):
        return True
    if value in ("0", "off", "false", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, not {value!r}")


def _number(env: Mapping[str, str], name: str, default, kind):
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return kind(value)
    except ValueError:
        raise SettingsError(f"{name} must be a {kind.__name__}, not {value!r}") from None
