"""What a file's first bytes say it is, whatever its name says."""

from __future__ import annotations

import io
import zipfile

_MAGIC = (
    (b"%PDF-", "pdf", "a PDF"),
    (b"\x89PNG\r\n\x1a\n", "png", "a PNG image"),
    (b"\xff\xd8\xff", "jpeg", "a JPEG image"),
    (b"GIF87a", "gif", "a GIF image"),
    (b"GIF89a", "gif", "a GIF image"),
    (b"II*\x00", "tiff", "a TIFF image"),
    (b"MM\x00*", "tiff", "a TIFF image"),
    (b"BM", "bmp", "a BMP image"),
    (b"{\\rtf", "rtf", "an RTF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole", "an old Office (OLE) file"),
    (b"\x7fELF", "program", "a program"),
    (b"MZ", "program", "a Windows program"),
    (b"\x1f\x8b", "gzip", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z", "a 7-Zip archive"),
    (b"Rar!", "rar", "a RAR archive"),
)
_ZIP_KINDS = (
    ("word/document.xml", "docx", "a Word document"),
    ("ppt/presentation.xml", "pptx", "a PowerPoint presentation"),
    ("xl/workbook.xml", "xlsx", "an Excel workbook"),
)
_ODF = {
    b"application/vnd.oasis.opendocument.text": ("odt", "an OpenDocument text"),
    b"application/vnd.oasis.opendocument.spreadsheet": ("ods", "an OpenDocument spreadsheet"),
    b"application/vnd.oasis.opendocument.presentation": ("odp", "an OpenDocument presentation"),
    b"application/epub+zip": ("epub", "an EPUB e-book"),
}


def sniff(data: bytes) -> tuple[str, str] | None:
    """(kind, description) of a binary format recognised by its content, or None (text, or
    something unknown). Zip files are told apart by what they hold."""
    head = data[:16]
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp", "a WebP image"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if head.startswith(b"\xd0\xcf\x11\xe0") and "EncryptedPackage".encode("utf-16-le") in data:
        return "encrypted", "a password-protected Office file (Quire does not ask for passwords)"
    if data[:1024].find(b"%PDF-") != -1:  # a PDF may have junk before its header
        return "pdf", "a PDF"
    for magic, kind, what in _MAGIC:
        if head.startswith(magic) and not (kind == "bmp" and len(data) < 26):
            return kind, what
    return None


def _zip_kind(data: bytes) -> tuple[str, str]:
    if data[30:38] == b"mimetype":  # ODF and EPUB: the mimetype file comes first, stored
        end = data.find(b"PK", 38)
        mime = data[38 : end if end != -1 else 38 + 80].strip()
        if mime in _ODF:
            return _ODF[mime]
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return "zip", "a damaged zip archive"
    for name, kind, what in _ZIP_KINDS:
        if name in names:
            return kind, what
    return "zip", "a zip archive"
