"""Write a mixed folder of real documents for `quire bench ingest`: Word, PowerPoint, Excel,
OpenDocument, EPUB, web pages, notebooks, e-mail, CSV, RTF, Markdown, PDF and code, with text
taken from SciFact abstracts so they read like real prose.

    .venv/bin/python benchmarks/make_mixed.py ../shared/eval/scifact /tmp/mixed [--copies N]

Needs the dev extras (fpdf2, xlwt) besides Quire's own libraries.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quire.bench.retrieval import read_beir  # noqa: E402


def paragraphs(corpus: dict, rng: random.Random, n: int) -> list[tuple[str, str]]:
    keys = rng.sample(sorted(corpus), n)
    return [(corpus[k][0][:80] or "Untitled", corpus[k][1]) for k in keys]


def docx(items) -> bytes:
    import docx as d

    doc = d.Document()
    doc.add_heading("Collected abstracts", level=1)
    for title, text in items:
        doc.add_heading(title, level=2)
        doc.add_paragraph(text)
    table = doc.add_table(rows=len(items) + 1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Title", "Words"
    for i, (title, text) in enumerate(items, 1):
        table.cell(i, 0).text, table.cell(i, 1).text = title, str(len(text.split()))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def pptx(items) -> bytes:
    from pptx import Presentation

    prs = Presentation()
    for title, text in items:
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = text[:600]
        slide.notes_slide.notes_text_frame.text = text[600:1200]
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


def xlsx(items, rows: int) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Abstracts"
    ws.append(["Id", "Title", "Words", "First sentence"])
    for i in range(rows):
        title, text = items[i % len(items)]
        ws.append([i + 1, title, len(text.split()), text.split(". ")[0][:200]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def html(items) -> bytes:
    body = "".join(f"<h2>{t}</h2><p>{x}</p>" for t, x in items)
    return (
        "<html><body><nav>Home | Papers | About</nav><div class='cookie'>We use cookies.</div>"
        f"<article><h1>Reading list</h1>{body}</article><footer>(c) Lab</footer></body></html>"
    ).encode()


def epub(items) -> bytes:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.documents import make_epub

    return make_epub(tuple(items))


def ipynb(items) -> bytes:
    cells = []
    for title, text in items:
        cells.append({"cell_type": "markdown", "source": f"## {title}\n\n{text}"})
        cells.append({"cell_type": "code", "source": f"len({text[:40]!r})", "outputs": [
            {"output_type": "execute_result", "data": {"text/plain": str(len(text))}}
        ]})  # fmt: skip
    return json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5}).encode()


def mbox(items) -> bytes:
    out = b""
    for title, text in items:
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = "lab@example.org", "team@example.org", title
        m["Date"] = "Tue, 03 Sep 2024 10:00:00 +0000"
        m.set_content(text)
        out += b"From lab@example.org Tue Sep  3 10:00:00 2024\n" + bytes(m) + b"\n"
    return out


def csv_(items, rows: int) -> bytes:
    lines = ["id,title,words"]
    for i in range(rows):
        title, text = items[i % len(items)]
        lines.append(f'{i + 1},"{title.replace(chr(34), "")}",{len(text.split())}')
    return ("\n".join(lines) + "\n").encode()


def pdf(items) -> bytes:
    from fpdf import FPDF

    doc = FPDF()
    doc.set_font("Helvetica", size=11)
    for title, text in items:
        doc.add_page()
        safe = f"{title}\n\n{text}".encode("latin-1", "replace").decode("latin-1")
        doc.multi_cell(0, 6, safe)
    return bytes(doc.output())


def scans(items) -> tuple[bytes, bytes]:
    """A scanned PDF (pages as 200 dpi images, no text layer) and a PNG photo of a page."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    images = []
    for title, text in items:
        src = pdfium.PdfDocument(pdf([(title, text)]))
        images.append(src[0].render(scale=200 / 72).to_pil().convert("L"))
        src.close()
    doc = FPDF()
    for image in images[:-1]:
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        doc.add_page()
        doc.image(buf, x=0, y=0, w=210)
    photo = io.BytesIO()
    images[-1].save(photo, format="PNG")
    return bytes(doc.output()), photo.getvalue()


def markdown(items) -> bytes:
    return "".join(f"## {t}\n\n{x}\n\n" for t, x in items).encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("scifact")
    ap.add_argument("out")
    ap.add_argument("--copies", type=int, default=4)
    args = ap.parse_args()
    corpus, _, _ = read_beir(Path(args.scifact))
    corpus = {k: v for k, v in corpus.items() if len(v[1]) > 400}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    for n in range(args.copies):

        def write(name: str, data: bytes, n: int = n) -> None:
            base, ext = name.rsplit(".", 1)
            (out / f"{base}-{n}.{ext}").write_bytes(data)

        write("abstracts.docx", docx(paragraphs(corpus, rng, 20)))
        write("talk.pptx", pptx(paragraphs(corpus, rng, 15)))
        write("index.xlsx", xlsx(paragraphs(corpus, rng, 50), 1000))
        write("reading.html", html(paragraphs(corpus, rng, 10)))
        write("book.epub", epub(paragraphs(corpus, rng, 12)))
        write("analysis.ipynb", ipynb(paragraphs(corpus, rng, 10)))
        write("inbox.mbox", mbox(paragraphs(corpus, rng, 20)))
        write("table.csv", csv_(paragraphs(corpus, rng, 50), 2000))
        write("papers.pdf", pdf(paragraphs(corpus, rng, 30)))
        write("notes.md", markdown(paragraphs(corpus, rng, 10)))
        scanned, photo = scans(paragraphs(corpus, rng, 4))
        write("scan.pdf", scanned)
        write("photo.png", photo)
    print(f"wrote {len(list(out.iterdir()))} files to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
