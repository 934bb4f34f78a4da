"""The engine the CLI, the app and library users share, and `build_engine`: the only place
that chooses implementations (embedder backends, store, reranker, parse sandbox, generator,
the store a command opens in a child process). Everything else receives what it uses.

Importing this module is light: the classes an engine is made of are imported when one is
built, so a read-only command can fork its store's child (`early_store`) before it pays for
them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import QuireError
from rag.settings import Settings, default_cache

if TYPE_CHECKING:
    from ingest.pipeline import Ingestor, Progress
    from rag.answer.answerer import Answerer, AnswerStream
    from rag.answer.generate import Generator
    from rag.retrieval.documents import DocumentHit
    from rag.retrieval.embed import Embedder
    from rag.retrieval.retrieve import Filters, Retriever
    from rag.retrieval.store import Store
    from rag.types import DocumentInfo, Hit, IngestReport


class Engine:
    """Everything Quire does, over one embedder, two indexes and a manifest."""

    def __init__(
        self,
        settings: Settings,
        ingestor: Ingestor,
        retriever: Retriever,
        answerer: Answerer,
        generator: Generator | None = None,
    ):
        self.settings = settings
        self.ingestor = ingestor
        self.retriever = retriever
        self.answerer = answerer
        self._generator: Generator | None = generator
        # What the ingestor writes to and the retriever reads, for the app and the CLI.
        self.embedder, self.store = ingestor.embedder, ingestor.store
        self.lexical, self.manifest = ingestor.lexical, ingestor.manifest

    @property
    def sandbox(self):
        """The parse worker (`ingest.sandbox.Sandbox`): files are parsed and PDF pages
        rendered there, never in this process."""
        return self.ingestor.sandbox

    def generator(self) -> Generator:
        """The answer model, built (not loaded) on first use and then reused."""
        if self._generator is None:
            self._generator = make_generator(self.settings)
        return self._generator

    def ask(
        self,
        question: str,
        history=(),
        mode: str | None = None,
        filters=None,
        k: int | None = None,
        generator: Generator | None = None,
    ) -> AnswerStream:
        """Start answering `question`; iterate the result for text, then read `.answer`.

        `k` (excerpts) and `generator` override the engine's own for this question only."""
        self.ingestor.refresh()
        self.ingestor.check_index()
        answerer = self.answerer
        if k is not None or generator is not None:
            from rag.answer.answerer import Answerer

            answerer = Answerer(
                self.retriever,
                (lambda: generator) if generator is not None else self.generator,
                replace(answerer.settings, k=k or answerer.settings.k),
            )
        return answerer.stream(question, history, mode=mode, filters=filters)

    def ingest(self, paths: Sequence[str], progress: Progress | None = None) -> IngestReport:
        return self.ingestor.ingest(paths, progress)

    def sync(self, folder: str, progress: Progress | None = None) -> IngestReport:
        return self.ingestor.sync(folder, progress)

    def update(
        self, paths: Sequence[str], progress: Progress | None = None, folder: str | None = None
    ) -> IngestReport:
        return self.ingestor.update(paths, progress, folder)

    def indexed_under(self, folder: str) -> list[str]:
        """The indexed files (with failed ones) at or under `folder`."""
        return self.manifest.paths_under(folder)

    def watch_list(self):
        """The library's watched folders (`ingest.watch.folders.WatchList`)."""
        from ingest.watch.folders import WatchList

        return WatchList(self.settings.home)

    def watcher(self, log=None):
        """A watcher (`ingest.watch.watcher.Watcher`) keeping the watched folders in sync
        through this engine; `run(stop_event)` it on a thread of its own."""
        from ingest.watch.watcher import Watcher

        s = self.settings
        private = [s.home] + ([s.cache] if s.cache else [])
        return Watcher(self, self.watch_list(), s.watch_quiet, s.watch_rescan, log, None, private)

    def remove(self, path: str) -> IngestReport:
        return self.ingestor.remove(path)

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        return self.ingestor.reindex(progress)

    def documents(self) -> list[DocumentInfo]:
        return self.manifest.documents()

    def indexed_sources(self) -> list[str]:
        from ingest.manifest import INDEXED

        return [r.path for r in self.manifest.records() if r.status == INDEXED]

    def search(
        self, query: str, k: int = 10, filters: Filters | None = None, mode: str = "hybrid"
    ) -> list[Hit]:
        """Ranked chunks for `query` (hybrid by default)."""
        self.ingestor.refresh()
        self.ingestor.check_index()
        return self.retriever.search(query, k, filters, mode)

    def search_documents(
        self, query: str, k: int = 10, filters: Filters | None = None, mode: str = "hybrid"
    ) -> list[DocumentHit]:
        """Ranked documents for `query` ("which note was it?"), each with its best chunks."""
        self.ingestor.refresh()
        self.ingestor.check_index()
        return self.retriever.documents(query, k, filters, mode)

    def related(self, path: str, k: int = 10) -> list[DocumentHit]:
        """The indexed documents most similar to the indexed document `path`: a document search
        whose query is the document itself (its vector, and its name, headings and most
        frequent words)."""
        from ingest.manifest import INDEXED
        from rag.retrieval.documents import document_vector

        self.ingestor.refresh()
        self.ingestor.check_index()
        given = os.path.abspath(os.path.expanduser(path))
        source, rec = given, self.manifest.get(given)  # indexed under a link's own path
        if rec is None:
            source = os.path.realpath(given)
            rec = self.manifest.get(source)
        if rec is None or rec.status != INDEXED:
            raise QuireError(f"not in the index: {path} (add it with `quire ingest {path}`)")
        vector = document_vector(self.store, rec.chunk_ids)
        words = self.lexical.document_words(source)
        if vector is None or not words:
            return []
        return self.retriever.documents(words, k, vector=vector, exclude=source)

    def close(self) -> None:
        self.ingestor.sandbox.close()
        self.manifest.close()
        self.lexical.close()


def build_engine(
    settings: Settings | None = None,
    store: Store | None = None,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
) -> Engine:
    """An engine over the library the settings name: real classes, or fakes (QUIRE_EMBEDDER=
    fake, QUIRE_LLM=fake) for tests and demos. Pass `embedder` to share one loaded model
    between engines (the app's reader and writer), `store` or `generator` to use those."""
    from ingest.manifest import Manifest
    from ingest.pipeline import Ingestor
    from rag.answer.answerer import Answerer, AnswerSettings
    from rag.home import private_home
    from rag.retrieval.lexical import LexicalIndex
    from rag.retrieval.retrieve import Retriever

    settings = settings or Settings.from_env()
    private_home(settings.home)
    embedder = embedder or make_embedder(settings)
    store = store or make_store(settings)
    ingestor = Ingestor(
        settings,
        embedder,
        store,
        LexicalIndex(settings.lexical_path),
        Manifest(settings.manifest_path),
        make_sandbox(settings),
    )
    engine: Engine
    retriever = Retriever(
        embedder,
        store,
        ingestor.lexical,
        lambda: engine.indexed_sources(),
        fusion=settings.fusion,
        reranker=make_reranker(settings),
    )
    answerer = Answerer(
        retriever, lambda: engine.generator(), AnswerSettings(mode=settings.answer_mode)
    )
    engine = Engine(settings, ingestor, retriever, answerer, generator)
    return engine


def make_store(settings: Settings) -> Store:
    """The vector store: a Chroma server (QUIRE_CHROMA_URL) or Chroma on disk under home."""
    from rag.retrieval.store import ChromaStore

    url = settings.chroma_url
    return ChromaStore(url=url) if url else ChromaStore(settings.chroma_dir)


def early_store(command: str, settings: Settings | None = None) -> Store | None:
    """For a command that only reads (search, related, ask): the on-disk store opened in a
    child process while this one loads the embedder (`rag.retrieval.forked`), or None (a
    server store, the fake embedder, QUIRE_CLI_FORK=off, a watcher that answers the search
    warm, a home that is refused: the command then opens the store itself, or says why)."""
    from rag.home import check_home, private_files

    try:
        settings = settings or Settings.from_env()
    except QuireError:
        return None  # the command reports it
    if settings.chroma_url or settings.embedder != "local" or not settings.cli_fork:
        return None
    if command == "search" and settings.warm_search:
        from quire.warm import socket_path

        if socket_path(settings.home).exists():
            return None  # a running `quire watch` answers (quire/warm.py); no store to open
    try:
        check_home(settings.home)  # before the child creates anything there
    except QuireError:
        return None  # the command reports it
    private_files()  # before the child creates anything
    from rag.retrieval.forked import ForkedStore

    return ForkedStore.start(settings.chroma_dir)


def make_sandbox(settings: Settings):
    """Where files are parsed and pages rendered: a worker process with limits, or in this
    process (QUIRE_PARSE_WORKER=inline, no protection)."""
    from ingest.sandbox import Sandbox

    return Sandbox.from_settings(settings)


def make_reranker(settings: Settings):
    """A cross-encoder over the fused hits (QUIRE_RERANK_MODEL), or None."""
    if settings.rerank_model is None:
        return None
    from rag.retrieval.rerank import CrossEncoderReranker

    return CrossEncoderReranker(settings.rerank_model, threads=settings.threads)


def make_embedder(settings: Settings, log: Callable[[str], None] | None = None) -> Embedder:
    """The embedder the settings name, each job on its backend (README, "The embedder"):
    queries on ONNX Runtime at fp32 (loads in well under a second, no torch); documents at
    the precision chosen for this CPU (`QUIRE_EMBED_PRECISION=auto`: torch bf16 where the CPU
    computes bf16, else int8 on ONNX Runtime); token counts from the model's tokenizer.json.
    `QUIRE_EMBED_BACKEND=torch` puts everything on torch; a model ONNX Runtime cannot run
    falls back to torch (said once), unless the backend is `onnx`."""
    from rag.retrieval.backends.bundled import BUNDLED_EMBEDDER, bundled_embedder_path
    from rag.retrieval.backends.onnx import OnnxEmbedder, TokenCounter
    from rag.retrieval.embed import HashEmbedder, Lazy, LocalEmbedder, resolve_precision, say_once

    s = settings
    if s.embedder == "fake":
        return HashEmbedder()
    say = log or say_once
    model_dir = s.embed_model or bundled_embedder_path()
    name = BUNDLED_EMBEDDER if s.embed_model is None else str(s.embed_model)
    on_onnx = s.embed_backend != "torch"
    precision = resolve_precision(s.embed_precision, onnx=on_onnx)
    torch = {
        p: Lazy(lambda p=p: _torch(s.embed_model, s.embed_batch, s.threads, p))
        for p in ("fp32", "bf16")
    }
    if not on_onnx:
        return LocalEmbedder(name, torch["fp32"], torch[precision], torch["fp32"])
    fallback = None if s.embed_backend == "onnx" else torch["fp32"]
    cache = s.cache or default_cache()

    def onnx(p: str) -> Lazy:
        def make():
            made = _onnx_file(model_dir, cache, p, say)
            return OnnxEmbedder(model_dir, made, name, s.embed_batch, s.threads)

        return Lazy(make, fallback, say)

    queries = onnx("fp32")
    if precision == "bf16":  # the query files are made first (if missing): searches start fast
        documents = Lazy(torch["bf16"].get, first=queries.get)
    else:
        documents = onnx(precision)
    tokens = Lazy(lambda: TokenCounter.for_model(model_dir), fallback)  # falls back silently
    return LocalEmbedder(name, queries, documents, tokens)


def prepare(settings: Settings, precisions: Sequence[str] = (), log=None) -> list[Path]:
    """Make the ONNX files the settings' embedder uses, at `precisions` (default: every one,
    since the tests force each and the CPU that chooses may change); instant when they exist.
    `make install` runs it (`quire prepare`), so no search, ingest or test waits for an
    export."""
    from rag.retrieval.backends.bundled import bundled_embedder_path
    from rag.retrieval.backends.onnx import Unsupported
    from rag.retrieval.backends.onnx_export import PRECISIONS

    s = settings
    if s.embedder != "local" or s.embed_backend == "torch":
        return []
    model_dir = s.embed_model or bundled_embedder_path()
    try:
        return [
            _onnx_file(model_dir, s.cache or default_cache(), p, log)
            for p in (precisions or PRECISIONS)
        ]
    except Unsupported as exc:
        if s.embed_backend == "onnx":
            raise
        if log:
            log(f"{exc}; this model will be embedded with torch (nothing to prepare)")
        return []


def _torch(path: Path | None, batch: int, threads: int | None, precision: str):
    from rag.retrieval.backends.torch import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(path, batch, threads, precision)


def _onnx_file(model_dir: Path, cache: Path, precision: str, log) -> Path:
    from rag.retrieval.backends.onnx_export import model_file

    return model_file(model_dir, cache, precision, log)


def make_generator(settings: Settings) -> Generator:
    """The answer model the settings name: a server URL, a GGUF file (bundled by default), or
    the fake that answers with the first sentence of excerpt 1."""
    from rag.answer.generate import LlamaGenerator, QuotingGenerator
    from rag.answer.server import OpenAIGenerator

    s = settings
    if s.llm_url:
        return OpenAIGenerator(s.llm_url, s.llm_name, s.llm_key, n_ctx=s.ctx)
    if s.llm == "fake":
        return QuotingGenerator(n_ctx=s.ctx)
    return LlamaGenerator(s.llm_model, n_ctx=s.ctx, threads=s.threads)
