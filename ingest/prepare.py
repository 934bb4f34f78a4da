"""Reading one file for ingest: known unchanged from a look, or opened, parsed in the parse
worker (`ingest.sandbox`) and chunked.

This runs on the parse thread (`ingest.pipeline`), which never writes: what the manifest must
record comes back as a `Touch` or a `Failed`, written later on the writing thread
(`ingest.commit`).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass

from ingest.chunk import chunk_document
from ingest.files import open_document
from ingest.limits import OutOfTime
from ingest.load import kind_for
from ingest.manifest import FAILED as M_FAILED
from ingest.manifest import INDEXED, FileRecord, Manifest
from ingest.sandbox import Sandbox
from rag.errors import LoadError
from rag.retrieval.embed import Embedder
from rag.settings import Settings
from rag.types import FAILED, UNCHANGED, Chunk, FileResult


@dataclass
class Prepared:
    """A file read and chunked, waiting for its vectors."""

    path: str
    kind: str
    size: int
    mtime_ns: int
    sha256: str
    pages: int
    chunks: list[Chunk]
    notes: tuple[str, ...]
    existed: bool
    boxes: tuple = ()  # word boxes of OCR'd pages (ingest.pages.boxes)
    previous_sha: str = ""  # the content the manifest holds for this path, if any
    partial: str = ""  # what a limit left unread (Document.partial)
    cut_at: str = ""  # that limit, as the manifest records it (FileRecord.cut_at)


@dataclass
class Touch:
    """A file whose content is as indexed but whose size or time moved: the manifest takes
    the new ones, and `result` is reported."""

    path: str
    size: int
    mtime_ns: int
    result: FileResult


@dataclass
class Failed:
    """A file that cannot be indexed, and why; `seen`, if given, is the record to keep (one
    that met a limit, so it is not read again while unchanged)."""

    path: str
    kind: str
    reason: str
    previous: FileRecord | None
    seen: FileRecord | None = None


class Reader:
    """Prepares files with one ingestor's settings, manifest (only read here), parse worker
    and tokenizer."""

    def __init__(
        self, settings: Settings, manifest: Manifest, sandbox: Sandbox, embedder: Embedder
    ):
        self.settings = settings
        self.manifest = manifest
        self.sandbox = sandbox
        self.embedder = embedder

    def prepare(self, path: str, force: bool) -> Prepared | Touch | Failed | FileResult:
        """Load and chunk one file, or say why not (unchanged, or failed with a reason)."""
        if not _utf8(path):  # the manifest, the store and the keyword index keep text names
            return FileResult(path, FAILED, _NOT_UTF8)
        kind = kind_for(path) or "unknown"
        previous = self.manifest.get(path)
        try:
            stands = not force and _stands(previous, self.settings)
            if stands and self._unchanged(path, previous):
                return _as_before(previous)
            # Opened once, then checked and read through the descriptor (`ingest.files`): a
            # file swapped since discovery for a FIFO, a device or a link costs only itself.
            limit, follow = self.settings.max_file_bytes, self.settings.follow_links
            with open_document(path, limit, follow) as f:
                st, data = f.stat, f.read()
            sha = hashlib.sha256(data).hexdigest()
            if stands and previous.sha256 == sha:
                return Touch(path, st.st_size, st.st_mtime_ns, _as_before(previous))
            doc = self.sandbox.load(path, data)
            chunks = chunk_document(
                doc,
                path,
                self.settings.chunk_tokens,
                self.settings.chunk_overlap,
                self.embedder.count_tokens,
                self.embedder.max_tokens,
            )
            if not chunks:
                raise LoadError("no text to index")
            if len(chunks) > self.settings.max_chunks:
                raise LoadError(
                    f"the file makes {len(chunks):,} chunks, over the limit of "
                    f"{self.settings.max_chunks:,} (QUIRE_MAX_CHUNKS)"
                )
        except OutOfTime as exc:  # kept with the file's identity: not read again while unchanged
            reason = f"{exc}; it is read again when it changes or the limit is raised"
            seen = FileRecord(path, kind, st.st_size, st.st_mtime_ns, sha, M_FAILED,
                              error=reason, cut_at=_cut_at("seconds", self.settings))  # fmt: skip
            return Failed(path, kind, reason, previous, seen)
        except LoadError as exc:
            reason = str(exc)
        except OSError as exc:
            reason = _os_reason(exc)
        except Exception as exc:  # a loader bug on a strange file must not stop the batch
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
        else:
            reason = ""
        if reason:
            return Failed(path, kind, reason, previous)
        return Prepared(
            path=path,
            kind=doc.kind,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            sha256=sha,
            pages=len(doc.pages) if doc.paged else 0,
            chunks=chunks,
            notes=doc.notes,
            existed=previous is not None and previous.status == INDEXED,
            boxes=doc.boxes,
            previous_sha=previous.sha256 if previous else "",
            partial=doc.partial,
            cut_at=_cut_at(doc.cut_by, self.settings),
        )

    def _unchanged(self, path: str, previous: FileRecord) -> bool:
        """Whether `path` is the regular file, within the size limit, of the size and time the
        manifest holds: known unchanged from a look, without opening it."""
        st = os.lstat(path)
        return (
            stat.S_ISREG(st.st_mode)
            and st.st_size <= self.settings.max_file_bytes
            and (previous.size, previous.mtime_ns) == (st.st_size, st.st_mtime_ns)
        )


def _stands(rec: FileRecord | None, settings: Settings) -> bool:
    """Whether `rec`'s result holds while its file is unchanged: an indexed file, or one that
    failed at the time limit, unless the limit that cut it short has since been raised."""
    if rec is None or not (rec.status == INDEXED or rec.cut_at):
        return False
    name, _, value = rec.cut_at.partition("=")
    now = _LIMITS[name](settings) if name in _LIMITS else None
    try:
        return now is None or now <= float(value)
    except ValueError:
        return False


def _as_before(rec: FileRecord) -> FileResult:
    """The result of a file not read again: unchanged, or failed as before."""
    if rec.status == INDEXED:
        return FileResult(rec.path, UNCHANGED, chunks=len(rec.chunk_ids), pages=rec.pages)
    return FileResult(rec.path, FAILED, rec.error)


_LIMITS = {"seconds": lambda s: s.parse_seconds, "pages": lambda s: s.max_pages}


def _cut_at(cut_by: str, settings: Settings) -> str:
    """The limit `cut_by` names, with its value now: "seconds=300", "pages=20000"; or ""."""
    return f"{cut_by}={_LIMITS[cut_by](settings):.15g}" if cut_by in _LIMITS else ""


_NOT_UTF8 = (
    "its name is not valid UTF-8 (written in an older encoding), which the index cannot "
    "store: rename the file to index it"
)


def _utf8(path: str) -> bool:
    """Whether `path` is valid text: a name in another encoding reaches Python with its
    undecodable bytes as lone surrogates, which SQLite and Chroma refuse."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "file disappeared during ingest"
    return f"cannot read: {exc.strerror or exc}"
