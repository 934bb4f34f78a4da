"""Dataclasses that cross module boundaries."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

# Statuses a file can end an ingest with.
ADDED, UPDATED, UNCHANGED, REMOVED, FAILED, SKIPPED = (
    "added",
    "updated",
    "unchanged",
    "removed",
    "failed",
    "skipped",
)
STATUSES = (ADDED, UPDATED, UNCHANGED, REMOVED, FAILED, SKIPPED)


@dataclass(frozen=True)
class Section:
    """A span of one page (or of the whole file) that shares a heading path."""

    page: int | None  # 1-based page (slide, sheet, chapter ...), None for files without pages
    start: int  # character offsets into the page text (or file text)
    end: int
    heading: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """A loaded file: the text of each page and the sections to chunk."""

    kind: str  # "markdown", "text", "pdf", "python" ... (see ingest.formats)
    pages: tuple[str, ...]  # one entry per page; a single entry for files without pages
    sections: tuple[Section, ...]
    notes: tuple[str, ...] = ()  # things the user should know, e.g. a fallback encoding
    # What a page is, in the user's words: "page" (PDF), "slide", "sheet", "chapter", "cell",
    # "message"; "" for a file without pages. A page may have a name (a sheet's, a chapter's).
    unit: str = ""
    page_names: tuple[str, ...] = ()
    # Whether a line number means something to the reader (a note, code, a sheet's rows), or
    # is an artefact of extraction (a Word file's paragraphs): then citations give none.
    lines: bool = True
    # Word boxes of OCR'd pages: (page or 0, start, end, x0, y0, x1, y1), the box as fractions
    # of the page image, so a quote can be highlighted on the page itself.
    boxes: tuple[tuple, ...] = ()
    # Set when a limit cut the file short: what the report says ("first 7 of 12 pages indexed;
    # the rest skipped: time limit of 3 s (QUIRE_PARSE_SECONDS)"), and which limit it was:
    # "seconds" (QUIRE_PARSE_SECONDS) or "pages" (QUIRE_MAX_PAGES). The pages read are indexed.
    partial: str = ""
    cut_by: str = ""

    @property
    def paged(self) -> bool:
        return bool(self.unit)

    def page_name(self, page: int | None) -> str:
        i = (page or 1) - 1
        return self.page_names[i] if page and i < len(self.page_names) else ""

    def page_text(self, page: int | None) -> str:
        """The text the offsets of a section on `page` refer to."""
        return self.pages[(page or 1) - 1]


@dataclass(frozen=True)
class Chunk:
    """One indexed span: `text == page_text[start:end]` of its source."""

    source: str
    text: str
    start: int
    end: int
    page: int | None = None
    heading: tuple[str, ...] = ()
    line_start: int | None = None  # 1-based, within the page (rows of a sheet)
    line_end: int | None = None
    kind: str = "text"
    id: str = field(default="")
    unit: str = ""  # what `page` counts (see Document.unit); "" with a page means "page"
    page_name: str = ""

    @property
    def location(self) -> str:
        """Where the chunk is, in the user's words: "page 3", "slide 2", "sheet Budget, rows
        4-9", "chapter 2 (The Storm)", "cell 5", "lines 10-24"."""
        lines = ""
        if self.line_start is not None:
            a, b = self.line_start, self.line_end or self.line_start
            lines = f"{a}-{b}" if b != a else f"{a}"
        unit = self.unit or ("page" if self.page is not None else "")
        if unit == "sheet":  # a CSV file is one sheet with no name
            where = [f"sheet {self.page_name}"] if self.page_name else []
            return ", ".join(where + ([f"rows {lines}"] if lines else [])) or f"sheet {self.page}"
        if unit:
            named = self.page_name and unit in ("chapter", "message", "item")
            return f"{unit} {self.page}" + (f" ({self.page_name})" if named else "")
        return f"lines {lines}" if lines else ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", chunk_id(self.source, self.page, self.start, self.text))


def chunk_id(source: str, page: int | None, start: int, text: str) -> str:
    """Content hash of a chunk: the same text at the same place always gets the same id."""
    key = f"{source}\0{page or 0}\0{start}\0{text}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(key).hexdigest()[:32]


@dataclass(frozen=True)
class FileResult:
    """What happened to one file in an ingest, sync or remove."""

    path: str
    status: str
    reason: str = ""
    chunks: int = 0
    pages: int = 0
    notes: tuple[str, ...] = ()


@dataclass
class IngestReport:
    """Summary of one ingest, sync, remove or reindex run."""

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    links: list[FileResult] = field(default_factory=list)  # links not followed, with why

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def counts(self) -> dict[str, int]:
        return {s: self.count(s) for s in STATUSES}

    @property
    def chunks(self) -> int:
        """Chunks embedded and written in this run (added and updated files)."""
        return sum(f.chunks for f in self.files if f.status in (ADDED, UPDATED))

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "counts": self.counts,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "chunks_per_second": round(self.chunks_per_second, 2),
            "files": [asdict(f) for f in self.files],
            "links_skipped": [asdict(f) for f in self.links],
        }


@dataclass(frozen=True)
class DocumentInfo:
    """A row of the manifest, as `quire docs` shows it."""

    path: str
    status: str  # "indexed" or "failed"
    kind: str
    size: int
    pages: int
    chunks: int
    error: str
    indexed_at: float


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk, with its fused score and what each retriever said of it."""

    chunk: Chunk
    score: float
    dense: float | None = None  # cosine similarity, if the dense list had it
    keyword: float | None = None  # BM25 score, if the keyword list had it
    dense_rank: int | None = None  # 1-based
    keyword_rank: int | None = None
