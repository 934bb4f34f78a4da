"""Every file type Quire reads: a registry from file name suffix to the loader of its family.

A loader takes the file's bytes, the `Limits` and the `Options` and returns a `Document`, or
raises LoadError with the reason. Loaders are imported when first needed, so a library that
reads one format costs nothing until a file of that format comes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from ingest.limits import Limits, Options
from rag.errors import LoadError, brief
from rag.types import Document


@dataclass(frozen=True)
class Format:
    kind: str  # stored with every chunk; `quire search --type` filters on it
    suffixes: tuple[str, ...]
    loader: str  # "module:function"
    label: str  # how the app's uploader names it
    args: tuple = ()  # passed to the loader after the options (a language's name)

    def load(self, data: bytes, limits: Limits, options: Options) -> Document:
        """The loader's Document; anything a parsing library raises on a broken file (zipfile,
        XML, openpyxl's own errors ...) becomes a LoadError with what it said."""
        module, function = self.loader.split(":")
        loader = getattr(importlib.import_module(module), function)
        try:
            return loader(data, limits, options, *self.args)
        except (LoadError, MemoryError, RecursionError):
            raise
        except Exception as exc:
            raise LoadError(
                f"could not be read as {self.label} ({type(exc).__name__}: {brief(exc)})"
            ) from None


_T = "ingest.formats."
FORMATS = (
    Format("markdown", (".md", ".markdown"), _T + "text:load_markdown", "Markdown"),
    Format("text", (".txt", ".text"), _T + "text:load_text", "text"),
    Format("rst", (".rst",), _T + "text:load_rst", "reStructuredText"),
    Format("org", (".org",), _T + "text:load_org", "Org"),
    Format("asciidoc", (".adoc", ".asciidoc"), _T + "text:load_asciidoc", "AsciiDoc"),
    Format("pdf", (".pdf",), _T + "pdf:load", "PDF"),
    Format("docx", (".docx",), _T + "office.documents:load_docx", "Word"),
    Format("odt", (".odt",), _T + "office.documents:load_odt", "OpenDocument text"),
    Format("rtf", (".rtf",), _T + "office.documents:load_rtf", "RTF"),
    Format("pptx", (".pptx",), _T + "office.slides:load_pptx", "PowerPoint"),
    Format("odp", (".odp",), _T + "office.slides:load_odp", "OpenDocument presentation"),
    Format("xlsx", (".xlsx", ".xlsm"), _T + "office.sheets:load_xlsx", "Excel"),
    Format("xls", (".xls",), _T + "office.sheets:load_xls", "Excel 97-2003"),
    Format("ods", (".ods",), _T + "office.sheets:load_ods", "OpenDocument spreadsheet"),
    Format("html", (".html", ".htm", ".xhtml"), _T + "web:load_html", "web page"),
    Format("epub", (".epub",), _T + "ebook:load_epub", "EPUB"),
    Format(
        "image",
        (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif"),
        _T + "images:load_image",
        "images (OCR)",
    ),
    Format("python", (".py", ".pyw"), _T + "code:load_python", "Python"),
    *(
        Format(lang, suffixes, _T + "code:load_source", label, (lang,))
        for lang, suffixes, label in (
            ("javascript", (".js", ".mjs", ".cjs", ".jsx"), "JavaScript"),
            ("typescript", (".ts", ".mts", ".cts"), "TypeScript"),
            ("tsx", (".tsx",), "TSX"),
            ("go", (".go",), "Go"),
            ("rust", (".rs",), "Rust"),
            ("java", (".java",), "Java"),
            ("c", (".c", ".h"), "C"),
            ("cpp", (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"), "C++"),
            ("c_sharp", (".cs",), "C#"),
            ("ruby", (".rb",), "Ruby"),
            ("php", (".php",), "PHP"),
            ("bash", (".sh", ".bash"), "shell"),
            ("sql", (".sql",), "SQL"),
        )
    ),
    Format("notebook", (".ipynb",), _T + "notebook:load_notebook", "Jupyter notebook"),
    Format("eml", (".eml",), _T + "mail:load_eml", "e-mail"),
    Format("mbox", (".mbox",), _T + "mail:load_mbox", "mailbox"),
    Format("csv", (".csv",), _T + "office.sheets:load_csv", "CSV"),
    Format("tsv", (".tsv", ".tab"), _T + "office.sheets:load_tsv", "TSV"),
    Format("json", (".json",), _T + "data:load_json", "JSON"),
    Format("yaml", (".yaml", ".yml"), _T + "data:load_yaml", "YAML"),
    Format("toml", (".toml",), _T + "data:load_toml", "TOML"),
    Format("xml", (".xml", ".rss", ".atom"), _T + "data:load_xml", "XML, RSS, Atom"),
)
_BY_SUFFIX = {suffix: f for f in FORMATS for suffix in f.suffixes}
# Kinds a loader may return besides its format's own (an .xml file that is a feed).
KINDS = frozenset(f.kind for f in FORMATS) | {"feed"}


_IMAGES = ("png", "jpeg", "gif", "tiff", "webp", "bmp")


def format_of_kind(kind: str) -> Format | None:
    """The format that reads content sniffed as `kind` (see `ingest.formats.sniff`)."""
    want = "image" if kind in _IMAGES else kind
    return next((f for f in FORMATS if f.kind == want), None)


def format_for(path: str | Path) -> Format | None:
    """The format of a file, by its name, or None if Quire does not read that type."""
    return _BY_SUFFIX.get(Path(path).suffix.lower())


def suffixes() -> list[str]:
    """Every suffix Quire reads, without the dot (for the app's uploader)."""
    return sorted(s.lstrip(".") for s in _BY_SUFFIX)


def kind_named(name: str) -> str | None:
    """The kind a user means by `name`: a kind ("markdown"), a suffix ("md", ".xlsx") or a
    format's label ("Excel", "web page")."""
    key = name.strip().lower()
    for f in FORMATS:
        if key in (f.kind, f.label.lower()) or "." + key.lstrip(".") in f.suffixes:
            return f.kind
    return "feed" if key in ("rss", "atom", "feed") else None


def labels() -> list[str]:
    """The formats by name, for the app to list."""
    return list(dict.fromkeys(f.label for f in FORMATS))
