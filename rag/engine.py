"""The engine the CLI, the app and library users share; `build_engine` picks the classes."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.manifest import Manifest
from ingest.pipeline import Ingestor, Progress
from rag.embed import Embedder, HashEmbedder, SentenceTransformerEmbedder
from rag.settings import Settings
from rag.store import ChromaStore, Store
from rag.types import DocumentInfo, IngestReport


class Engine:
    """Everything Quire does, over one embedder, store and manifest."""

    def __init__(self, settings: Settings, embedder: Embedder, store: Store, manifest: Manifest):
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.manifest = manifest
        self.ingestor = Ingestor(settings, embedder, store, manifest)

    def ingest(self, paths: Sequence[str], progress: Progress | None = None) -> IngestReport:
        return self.ingestor.ingest(paths, progress)

    def sync(self, folder: str, progress: Progress | None = None) -> IngestReport:
        return self.ingestor.sync(folder, progress)

    def remove(self, path: str) -> IngestReport:
        return self.ingestor.remove(path)

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        return self.ingestor.reindex(progress)

    def documents(self) -> list[DocumentInfo]:
        return self.manifest.documents()

    def close(self) -> None:
        self.manifest.close()


def build_engine(settings: Settings | None = None, store: Store | None = None) -> Engine:
    """The only place that chooses concrete classes: real ones, or fakes for tests."""
    settings = settings or Settings.from_env()
    settings.home.mkdir(parents=True, exist_ok=True)
    if settings.embedder == "fake":
        embedder: Embedder = HashEmbedder()
    else:
        embedder = SentenceTransformerEmbedder(
            settings.embed_model, batch_size=settings.embed_batch, threads=settings.threads
        )
    store = store if store is not None else ChromaStore(settings.chroma_dir)
    return Engine(settings, embedder, store, Manifest(settings.manifest_path))
