"""Real PDF files for tests, made in memory with fpdf2 (and pypdf for encryption).

Text is written with the core Helvetica font, so it must be latin-1; pypdf extracts it
back from the text layer. A page given as None has no text layer at all (only vector
drawings and an embedded raster image, like a scan), and an empty string makes a page
with nothing on it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

FONT = "Helvetica"


def make_pdf(pages: Sequence[str]) -> bytes:
    """One page per string; each string's text (newlines allowed) goes in the text layer."""
    return make_mixed_pdf(list(pages))


def make_mixed_pdf(pages: Sequence[str | None]) -> bytes:
    """One page per entry: a string is written as text ("" leaves the page empty),
    None draws shapes and an image but no text, so pypdf extracts nothing from it."""
    pdf = _new_pdf()
    for text in pages:
        pdf.add_page()
        if text is None:
            _draw_picture(pdf)
        elif text:
            _check_latin1(text)
            pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def make_image_only_pdf(n_pages: int) -> bytes:
    """`n_pages` pages with drawings and an image but no text layer (a "scanned" PDF)."""
    return make_mixed_pdf([None] * n_pages)


def make_scanned_pdf(texts: Sequence[str], dpi: int = 150) -> bytes:
    """A "scan": one page per text, each page only an image of that text (drawn from a text
    PDF with PDFium at `dpi`), so nothing is read from it without OCR."""
    import pypdfium2 as pdfium

    pdf = _new_pdf()
    source = pdfium.PdfDocument(make_pdf(texts))
    try:
        for i in range(len(source)):
            image = source[i].render(scale=dpi / 72).to_pil().convert("L")
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            pdf.add_page()
            pdf.image(buf, x=0, y=0, w=210)
    finally:
        source.close()
    return bytes(pdf.output())


def make_encrypted_pdf(
    pages: Sequence[str],
    user_password: str = "secret",
    owner_password: str = "owner",
    algorithm: str = "AES-256",
) -> bytes:
    """A text PDF that needs `user_password` to open (algorithm "AES-256" or "RC4-128")."""
    if not user_password:
        raise ValueError("use make_encrypted_pdf_empty_password for an empty user password")
    return _encrypt(make_pdf(pages), user_password, owner_password, algorithm)


def make_encrypted_pdf_empty_password(
    pages: Sequence[str], owner_password: str = "owner", algorithm: str = "AES-256"
) -> bytes:
    """A text PDF encrypted with an empty user password (opens without asking) and a
    non-empty owner password, like many real-world PDFs with "permissions"."""
    return _encrypt(make_pdf(pages), "", owner_password, algorithm)


def make_empty_pdf() -> bytes:
    """A structurally valid PDF with no pages at all."""
    out = io.BytesIO()
    PdfWriter().write(out)
    return out.getvalue()


# --- helpers ------------------------------------------------------------------------------


def _new_pdf() -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_font(FONT, size=12)
    return pdf


def _check_latin1(text: str) -> None:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"core PDF fonts only take latin-1 text: {text!r}") from None


def _draw_picture(pdf: FPDF) -> None:
    """Rectangles, lines and a small embedded raster image: marks on the page, no text."""
    pdf.set_draw_color(0, 0, 0)
    pdf.set_fill_color(200, 200, 200)
    pdf.rect(20, 20, 120, 60, style="DF")
    pdf.line(20, 100, 180, 160)
    pdf.line(20, 160, 180, 100)
    pdf.image(_png(), x=20, y=180, w=40)


def _png() -> io.BytesIO:
    """A tiny checkerboard PNG made in memory (Pillow comes with fpdf2)."""
    from PIL import Image

    img = Image.new("L", (16, 16), 255)
    for x in range(16):
        for y in range(16):
            if (x // 4 + y // 4) % 2:
                img.putpixel((x, y), 0)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    buf.seek(0)
    return buf


def _encrypt(data: bytes, user_password: str, owner_password: str, algorithm: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# Four pages; the answer to "Which frog has a translucent belly?" is on page 3.
FROG_GUIDE = [
    "Field guide to amphibians. Chapter one covers toads of the northern forests.",
    "Chapter two explains how to record frog calls at night with a small microphone.",
    "Chapter three. The glass frog has a translucent belly, so its heart can be seen. "
    "It lives near waterfalls in the Andes.",
    "Chapter four is about protecting wetlands from drainage.",
]
