"""The engine the CLI, the app and library users share; `build_engine` picks the classes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from ingest.formats import kind_named
from ingest.manifest import INDEXED, Manifest
from ingest.pipeline import Ingestor, Progress
from rag.answer.answerer import Answerer, AnswerSettings, AnswerStream
from rag.answer.generate import Generator, LlamaGenerator, QuotingGenerator
from rag.answer.server import OpenAIGenerator
from rag.errors import QuireError
from rag.home import private_home
from rag.retrieval.documents import DocumentHit, document_vector
from rag.retrieval.embed import Embedder, HashEmbedder, LocalEmbedder
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.retrieve import Filters, Hit, Retriever
from rag.retrieval.store import ChromaStore, Store
from rag.settings import Settings
from rag.types import DocumentInfo, IngestReport


class Engine:
    """Everything Quire does, over one embedder, two indexes and a manifest."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: Store,
        lexical: LexicalIndex,
        manifest: Manifest,
        generator: Generator | None = None,
    ):
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.lexical = lexical
        self.manifest = manifest
        self.ingestor = Ingestor(settings, embedder, store, lexical, manifest)
        reranker = None
        if settings.rerank_model is not None:
            from rag.retrieval.rerank import CrossEncoderReranker

            reranker = CrossEncoderReranker(settings.rerank_model, threads=settings.threads)
        self.retriever = Retriever(
            embedder,
            store,
            lexical,
            self.indexed_sources,
            fusion=settings.fusion,
            reranker=reranker,
        )
        self._generator: Generator | None = generator
        self.answerer = Answerer(
            self.retriever, self.generator, AnswerSettings(mode=settings.answer_mode)
        )

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
    settings: Settings | None = None, store: Store | None = None, embedder: Embedder | None = None
) -> Engine:
    """The only place that chooses concrete classes: real ones, or fakes for tests.

    Pass `embedder` to share one loaded model between engines (the app's reader and writer)."""
    settings = settings or Settings.from_env()
    private_home(settings.home)
    embedder = embedder or make_embedder(settings)
    if store is None:
        url = settings.chroma_url
        store = ChromaStore(url=url) if url else ChromaStore(settings.chroma_dir)
    return Engine(
        settings,
        embedder,
        store,
        LexicalIndex(settings.lexical_path),
        Manifest(settings.manifest_path),
    )


def make_filters(path: str | None = None, types: Sequence[str] = ()) -> Filters:
    """Search filters from what a user typed: a folder, file or glob, and file types by any
    name a format has ("md", ".PDF", "Excel"); QuireError for an unknown type."""
    kinds = []
    for t in types:
        kind = kind_named(t)
        if kind is None:
            raise QuireError(
                f"unknown file type {t!r}: use a file name's ending, such as md, pdf, docx, "
                "xlsx, pptx, html, epub, ipynb, eml, csv, js"
            )
        kinds.append(kind)
    return Filters(path=path, kinds=tuple(dict.fromkeys(kinds)))


def make_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "fake":
        return HashEmbedder()
    return LocalEmbedder(
        settings.embed_model,
        cache=settings.cache,
        batch_size=settings.embed_batch,
        threads=settings.threads,
        precision=settings.embed_precision,
        backend=settings.embed_backend,
    )


def make_generator(settings: Settings) -> Generator:
    """The answer model the settings name: a server URL, a GGUF file (bundled by default), or
    the fake that answers with the first sentence of excerpt 1."""
    s = settings
    if s.llm_url:
        return OpenAIGenerator(s.llm_url, s.llm_name, s.llm_key, n_ctx=s.ctx)
    if s.llm == "fake":
        return QuotingGenerator(n_ctx=s.ctx)
    return LlamaGenerator(s.llm_model, n_ctx=s.ctx, threads=s.threads)
