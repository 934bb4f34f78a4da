"""Render synthetic A4 test pages with known ground truth.

Outputs in pages/: <name>.png|.jpg (image), <name>.txt (truth, one rendered line per line),
<name>.words.json (word boxes in pixel coords; only meaningful for unrotated pages),
manifest.json, and scan3.pdf (3 pages as image-only PDF).
"""
import json
import os
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

import texts

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages")
os.makedirs(OUT, exist_ok=True)
F = "/usr/share/fonts/truetype/"
FONTS = {
    "serif": F + "liberation/LiberationSerif-Regular.ttf",
    "sans": F + "liberation/LiberationSans-Regular.ttf",
    "sansb": F + "liberation/LiberationSans-Bold.ttf",
    "mono": F + "liberation/LiberationMono-Regular.ttf",
    "djsans": F + "dejavu/DejaVuSans.ttf",
    "djserif": F + "dejavu/DejaVuSerif.ttf",
    "djserifb": F + "dejavu/DejaVuSerif-Bold.ttf",
}


def font(key, pt, dpi):
    return ImageFont.truetype(FONTS[key], size=max(6, round(pt * dpi / 72)))


class Page:
    def __init__(self, dpi):
        self.dpi = dpi
        self.w, self.h = round(8.27 * dpi), round(11.69 * dpi)
        self.img = Image.new("RGB", (self.w, self.h), "white")
        self.d = ImageDraw.Draw(self.img)
        self.margin = round(0.9 * dpi)
        self.y = self.margin
        self.lines = []   # truth lines, in reading order
        self.words = []   # {"text", "box": [x0,y0,x1,y1]}
        self.full = False

    def _emit_line(self, x, text, f):
        self.d.text((x, self.y), text, font=f, fill="black")
        # word boxes from prefix lengths
        pos = 0
        for w in text.split(" "):
            if w:
                x0 = x + self.d.textlength(text[:pos], font=f)
                bb = self.d.textbbox((x0, self.y), w, font=f)
                self.words.append({"text": w, "box": [round(v) for v in bb]})
            pos += len(w) + 1
        self.lines.append(text)

    def paragraph(self, text, f, x0=None, width=None, gap=0.6):
        x0 = self.margin if x0 is None else x0
        width = (self.w - 2 * self.margin) if width is None else width
        lh = round(f.size * 1.3)
        words, cur = text.split(), ""
        out_lines = []
        for w in words:
            t = (cur + " " + w).strip()
            if self.d.textlength(t, font=f) <= width:
                cur = t
            else:
                out_lines.append(cur)
                cur = w
        if cur:
            out_lines.append(cur)
        if self.y + lh * len(out_lines) > self.h - self.margin:
            self.full = True
            return False
        for line in out_lines:
            self._emit_line(x0, line, f)
            self.y += lh
        self.y += round(lh * gap)
        return True

    def paragraphs(self, paras, f, **kw):
        for p in paras:
            if not self.paragraph(p, f, **kw):
                break


def scan(img, angle, blur, noise, bg, quality, seed):
    rng = np.random.default_rng(seed)
    g = img.convert("L")
    g = g.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=255)
    a = np.asarray(g).astype(np.float32) / 255.0
    # gray, slightly uneven paper
    h, w = a.shape
    yy, xx = np.mgrid[0:h, 0:w]
    shade = bg + 12 * np.sin(xx / w * 3.1) * np.cos(yy / h * 2.3)
    a = a * shade
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if blur:
        im = im.filter(ImageFilter.GaussianBlur(blur))
    a = np.asarray(im).astype(np.float32) + rng.normal(0, noise, (h, w))
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).convert("RGB")
    return im, quality


def table_page(dpi):
    p = Page(dpi)
    hf, bf = font("sansb", 16, dpi), font("sans", 10, dpi)
    hb = font("sansb", 10, dpi)
    p._emit_line(p.margin, "Sales ledger - second quarter 2023", hf)
    p.y += round(hf.size * 1.8)
    cols = ["Date", "Invoice", "Customer", "Qty", "Unit price", "Amount"]
    xs = [0, 1.25, 2.35, 3.95, 4.65, 5.75]
    xs = [p.margin + round(v * dpi) for v in xs]
    rng = random.Random(7)
    customers = ["Acme Ltd", "Borealis", "Cobalt & Co", "Delta Foods", "Evergreen", "Fjord AS",
                 "Granite Inc", "Harbour Tea", "Ibex Tools", "Juniper LLP"]
    lh = round(bf.size * 1.7)

    def row(cells, f):
        # emit a row: cells at fixed columns; truth line = cells joined by one space
        for x, c in zip(xs, cells):
            p.d.text((x, p.y), c, font=f, fill="black")
            pos = 0
            for w in c.split(" "):
                x0 = x + p.d.textlength(c[:pos], font=f)
                bb = p.d.textbbox((x0, p.y), w, font=f)
                p.words.append({"text": w, "box": [round(v) for v in bb]})
                pos += len(w) + 1
        p.lines.append(" ".join(cells))
        p.y += lh

    row(cols, hb)
    p.d.line([(p.margin, p.y - lh * 0.25), (p.w - p.margin, p.y - lh * 0.25)], fill="black",
             width=max(1, dpi // 100))
    total = 0.0
    for i in range(24):
        day = 3 + i * 3
        month, dd = (4 + (day - 1) // 30, (day - 1) % 30 + 1)
        qty = rng.randint(1, 480)
        unit = rng.randint(95, 99999) / 100
        amt = qty * unit
        total += amt
        row([f"{dd:02d}/{month:02d}/2023", f"INV-{4100 + i * 7}", rng.choice(customers), str(qty),
             f"{unit:,.2f}", f"{amt:,.2f}"], bf)
    p.d.line([(p.margin, p.y - lh * 0.25), (p.w - p.margin, p.y - lh * 0.25)], fill="black",
             width=max(1, dpi // 100))
    row(["", "", "Total", "", "", f"{total:,.2f}"], hb)
    # fix truth for the total row (empty cells)
    p.lines[-1] = f"Total {total:,.2f}"
    return p


def main():
    rng = random.Random(1)
    eng, fr, de = texts.ENGLISH_PROSE, texts.FRENCH, texts.GERMAN
    docs = texts.docstring_paragraphs()
    specs = []  # name, builder, scan params or None, lang, notes

    def simple(dpi, fkey, pt, paras, heading=None, hkey=None, hpt=None, small=None):
        def build():
            p = Page(dpi)
            if heading:
                p.paragraph(heading, font(hkey, hpt, dpi), gap=0.5)
            p.paragraphs(paras, font(fkey, pt, dpi))
            if small:
                p.paragraphs(small, font(fkey, 8, dpi))
            return p
        return build

    def twocol(dpi, fkey, pt, paras):
        def build():
            p = Page(dpi)
            f = font(fkey, pt, dpi)
            gutter = round(0.35 * dpi)
            cw = (p.w - 2 * p.margin - gutter) // 2
            # left column until full, then right column
            i = 0
            while i < len(paras) and p.paragraph(paras[i], f, width=cw):
                i += 1
            p.y, p.full = p.margin, False
            while i < len(paras) and p.paragraph(paras[i], f, x0=p.margin + cw + gutter, width=cw):
                i += 1
            return p
        return build

    specs += [
        ("p01_serif11_300", simple(300, "serif", 11, eng[0:6]), None, "eng", "clean, Liberation Serif 11pt, 300 dpi"),
        ("p02_sans10_200", simple(200, "djsans", 10, eng[6:12]), None, "eng", "clean, DejaVu Sans 10pt, 200 dpi"),
        ("p03_twosize_300", simple(300, "serif", 12, eng[8:11], "Flood report: the events of November 1998",
                                   "sansb", 20, small=[eng[11]]), None, "eng",
         "clean, 20pt bold heading + 12pt body + 8pt small print, 300 dpi"),
        ("p04_twosize_250", simple(250, "djserif", 9, docs[0:8], "subprocess.run - reference notes",
                                   "djserifb", 16), None, "eng", "clean, 16pt bold heading + 9pt body (stdlib docstrings), 250 dpi"),
        ("p05_table_300", lambda: table_page(300), None, "eng", "table 6 cols x 26 rows, Liberation Sans 10pt, 300 dpi"),
        ("p06_scan_serif_300", simple(300, "serif", 11, docs[8:20]), dict(angle=0.7, blur=0.8, noise=10, bg=228, quality=55), "eng",
         "scanned: rot 0.7 deg, blur 0.8, noise 10, gray bg, JPEG q55; 300 dpi serif 11pt docstrings"),
        ("p07_scan_sans_200", simple(200, "djsans", 10, docs[20:34]), dict(angle=-1.3, blur=1.0, noise=12, bg=220, quality=45), "eng",
         "scanned: rot -1.3 deg, blur 1.0, noise 12, gray bg, JPEG q45; 200 dpi DejaVu Sans 10pt"),
        ("p08_scan_sans_300_rot15", simple(300, "sans", 10, eng[0:3] + eng[6:10]), dict(angle=1.5, blur=1.2, noise=15, bg=212, quality=40), "eng",
         "scanned: rot 1.5 deg, blur 1.2, noise 15, darker bg, JPEG q40; 300 dpi Liberation Sans 10pt"),
        ("p09_fr_serif_300", simple(300, "serif", 11, fr), None, "fra", "clean French, Liberation Serif 11pt, 300 dpi"),
        ("p10_de_sans_300", simple(300, "djsans", 10, de), None, "deu", "clean German, DejaVu Sans 10pt, 300 dpi"),
        ("p11_fr_scan_200", simple(200, "sans", 11, fr[3:] + fr[:2]), dict(angle=-0.8, blur=0.8, noise=10, bg=225, quality=50), "fra",
         "scanned French: rot -0.8, blur 0.8, noise 10, JPEG q50; 200 dpi Liberation Sans 11pt"),
        ("p12_de_scan_250", simple(250, "serif", 11, de[2:] + de[:2]), dict(angle=1.0, blur=0.9, noise=12, bg=222, quality=50), "deu",
         "scanned German: rot 1.0, blur 0.9, noise 12, JPEG q50; 250 dpi Liberation Serif 11pt"),
        ("p13_mono_250", simple(250, "mono", 9, docs[34:60]), None, "eng", "clean, Liberation Mono 9pt (docstrings), 250 dpi"),
        ("p14_twocol_300", twocol(300, "serif", 10, eng[2:12] + eng[0:2]), None, "eng",
         "clean two-column, Liberation Serif 10pt, 300 dpi (truth = left column then right)"),
        ("p15_small8_200", simple(200, "sans", 8, docs[0:30]), None, "eng", "clean small print, Liberation Sans 8pt, 200 dpi"),
    ]

    manifest = []
    pdf_imgs = []
    for i, (name, build, sc, lang, notes) in enumerate(specs):
        p = build()
        img = p.img
        if sc:
            img, q = scan(img, sc["angle"], sc["blur"], sc["noise"], sc["bg"], sc["quality"], seed=i)
            path = os.path.join(OUT, name + ".jpg")
            img.save(path, quality=q, dpi=(p.dpi, p.dpi))
        else:
            path = os.path.join(OUT, name + ".png")
            img.save(path, dpi=(p.dpi, p.dpi))
        with open(os.path.join(OUT, name + ".txt"), "w", encoding="utf-8") as fh:
            fh.write("\n".join(p.lines) + "\n")
        with open(os.path.join(OUT, name + ".words.json"), "w", encoding="utf-8") as fh:
            json.dump({"rotated": bool(sc), "words": p.words}, fh, ensure_ascii=False)
        nchars = len(" ".join(" ".join(p.lines).split()))
        manifest.append(dict(name=name, path=os.path.basename(path), dpi=p.dpi, size=[p.w, p.h], lang=lang,
                             notes=notes, scanned=bool(sc), chars=nchars, words=len(p.words)))
        print(name, p.w, p.h, "chars", nchars, "lines", len(p.lines))
        if name in ("p01_serif11_300", "p06_scan_serif_300", "p09_fr_serif_300"):
            pdf_imgs.append((name, img, p.dpi))

    # image-only PDF (no text layer); resolution = page dpi so the PDF page is A4 in points
    pdf_path = os.path.join(OUT, "scan3.pdf")
    first = pdf_imgs[0][1]
    first.save(pdf_path, "PDF", resolution=300.0, save_all=True,
               append_images=[im for _, im, _ in pdf_imgs[1:]])
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump({"pages": manifest, "pdf": {"path": "scan3.pdf", "pages": [n for n, _, _ in pdf_imgs]}}, fh, indent=1)


if __name__ == "__main__":
    main()
