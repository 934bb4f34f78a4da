"""Fill REPORT_template.md's <!--T:name--> markers with tables computed from results/*.json."""
import json
import os
import re
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
R = os.path.join(HERE, "results")


def load(tag):
    if tag == "pp_deskew":  # re-ordering of the default run's lines (regroup_eval.py); timing/RSS of r2_pp_default
        r = load("r2_pp_default")
        ev = json.load(open(os.path.join(R, "regroup_eval.json")))
        r["pages"] = {p: ev[p]["deskew"] for p in ev}
        return r
    with open(os.path.join(R, tag + ".json")) as fh:
        return json.load(fh)


man = json.load(open(os.path.join(HERE, "pages", "manifest.json")))
PAGES = [p["name"] for p in man["pages"]]
CHARS = {p["name"]: p["chars"] for p in man["pages"]}


def agg(r, prefix=""):
    pg = r["pages"]
    g = lambda k: [pg[p][prefix + k] for p in PAGES]  # noqa: E731
    cer = g("cer")
    return dict(
        cer=statistics.mean(cer),
        cer_ex14=statistics.mean([pg[p][prefix + "cer"] for p in PAGES if p != "p14_twocol_300"]),
        cer_pool=sum(pg[p][prefix + "cer"] * CHARS[p] for p in PAGES) / sum(CHARS.values()),
        wer=statistics.mean(g("wer")),
        recall=statistics.mean(g("word_recall")),
        cer_fold=statistics.mean(g("cer_folded")),
    )


def mb(kb):
    return f"{kb / 1024:.0f} MB"


def t_summary():
    rows = [
        ("Tesseract 5.3.0, `-l eng`, OMP_THREAD_LIMIT=1", "r2_tess_eng_omp1", ""),
        ("Tesseract, per-page language (eng/fra/deu), OMP=1", "r2_tess_perlang_omp1", ""),
        ("Tesseract, `-l eng+fra+deu` on every page, OMP=1", "tess_multi_omp1", ""),
        ("PP-OCRv5 default, library's line order", "r2_pp_default", ""),
        ("PP-OCRv5 default, naive y-regroup", "r2_pp_default", "regrouped_"),
        ("PP-OCRv5 default, skew-aware regroup", "pp_deskew", ""),
        ("PP-OCRv5 intra_op=1, rec_batch_num=1, naive regroup", "r2_pp_tuned", "regrouped_"),
        ("PP-OCRv5 det_limit_side_len=1600, naive regroup", "r2_pp_side1600", "regrouped_"),
    ]
    out = ["| configuration (run tag) | CER mean | CER mean w/o 2-col page | CER pooled | WER mean | word recall | s/page (wall) | CPU s/page | load avg at start | peak RSS |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for label, tag, pre in rows:
        r = load(tag)
        a = agg(r, pre)
        if r["engine"] == "tess":
            rss = f"{mb(r['children_maxrss_kB'])} (tesseract) + {mb(r['VmHWM_kB'])} (python)"
        else:
            rss = mb(r["VmHWM_kB"])
        out.append(f"| {label} (`{tag}`) | {a['cer']:.4f} | {a['cer_ex14']:.4f} | {a['cer_pool']:.4f} | {a['wer']:.4f} | "
                   f"{a['recall']:.4f} | {r['ocr_total_s'] / len(PAGES):.2f} | {r['cpu_s_per_page']:.2f} | "
                   f"{r['loadavg_start'][0]} | {rss} |")
    return "\n".join(out)


def t_perpage():
    cols = [("tess eng", "r2_tess_eng_omp1", ""), ("tess per-lang", "r2_tess_perlang_omp1", ""),
            ("tess eng+fra+deu", "tess_multi_omp1", ""), ("PP raw order", "r2_pp_default", ""),
            ("PP naive regroup", "r2_pp_default", "regrouped_"), ("PP deskew regroup", "pp_deskew", ""),
            ("PP tuned rg", "r2_pp_tuned", "regrouped_"),
            ("PP side1600 rg", "r2_pp_side1600", "regrouped_")]
    rs = {t: load(t) for _, t, _ in cols}
    desc = {p["name"]: p for p in man["pages"]}
    out = ["| page | lang | chars | " + " | ".join(c for c, _, _ in cols) + " |",
           "|---|---|---|" + "---|" * len(cols)]
    for p in PAGES:
        cells = [f"{rs[t]['pages'][p][pre + 'cer']:.4f}" for _, t, pre in cols]
        out.append(f"| {p} | {desc[p]['lang']} | {desc[p]['chars']} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("Word recall (share of reference words found anywhere on the page; order-free, case-folded, edge punctuation stripped):")
    out.append("")
    out.append("| page | " + " | ".join(c for c, _, _ in cols) + " |")
    out.append("|---|" + "---|" * len(cols))
    for p in PAGES:
        cells = [f"{rs[t]['pages'][p][pre + 'word_recall']:.3f}" for _, t, pre in cols]
        out.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def t_pages():
    out = ["| page | size px | dpi | lang | description |", "|---|---|---|---|---|"]
    for p in man["pages"]:
        out.append(f"| {p['name']} | {p['size'][0]}x{p['size'][1]} | {p['dpi']} | {p['lang']} | {p['notes']} |")
    return "\n".join(out)


def t_threads():
    sp = json.load(open(os.path.join(R, "speed_paired.json")))
    out = [f"Paired, interleaved run in one process (`speed_paired.py`, {sp['rounds']} rounds x {len(sp['pages'])} pages: "
           f"{', '.join(sp['pages'])}; load average {sp['loadavg_min_max'][0]}-{sp['loadavg_min_max'][1]}):", "",
           "| configuration | median wall s/page | median CPU s/page | pages/s (1/mean wall) |", "|---|---|---|---|"]
    for k, v in sp["configs"].items():
        out.append(f"| {k} | {v['median_wall_s']:.2f} | {v['median_cpu_s']:.2f} | {v['pages_per_s_from_mean']:.3f} |")
    out += ["", "Full 15-page runs (each a fresh process; wall time depends on the background load shown):", "",
            "| run tag | setting | pages/s | CPU s/page | load avg start->end | peak RSS |", "|---|---|---|---|---|---|"]
    for tag, s in [("tess_eng_omp1", "OMP_THREAD_LIMIT=1 (round 1)"), ("tess_eng_ompdef", "OpenMP default (round 1)"),
                   ("r2_tess_eng_omp1", "OMP_THREAD_LIMIT=1 (round 2)"), ("r2_tess_eng_ompdef", "OpenMP default (round 2)"),
                   ("pp_default", "ORT default threads (round 1)"), ("pp_t1", "intra_op_num_threads=1 (round 1)"),
                   ("r2_pp_default", "ORT default threads (round 2)"), ("r2_pp_t1", "intra_op_num_threads=1 (round 2)"),
                   ("r2_pp_noarena", "enable_cpu_mem_arena=False"), ("r2_pp_tuned", "intra_op=1 + rec_batch_num=1"),
                   ("pp_side1600", "det_limit_side_len=1600 (round 1)"), ("r2_pp_side1600", "det_limit_side_len=1600 (round 2)"),
                   ("r2_pp_t1_side1600", "side 1600 + intra_op=1")]:
        r = load(tag)
        rss = mb(r["children_maxrss_kB"]) if r["engine"] == "tess" else mb(r["VmHWM_kB"])
        out.append(f"| {tag} | {s} | {r['pages_per_s']:.3f} | {r['cpu_s_per_page']:.2f} | "
                   f"{r['loadavg_start'][0]}->{r['loadavg_end'][0]} | {rss} |")
    return "\n".join(out)


def t_boxes():
    t, p = load("tess_eng_omp1")["boxes"], load("pp_default")["boxes"]
    out = ["| page | GT words | tesseract words: IoU>=0.5 / centre-match / mean IoU | PP line box only: centre-match | "
           "PP split by char count: IoU>=0.5 / centre-match / mean IoU | PP split by CTC time steps: IoU>=0.5 / centre-match / mean IoU |",
           "|---|---|---|---|---|---|"]
    acc = {k: [] for k in ("t", "l", "pr", "c")}
    for pg in t:
        a, b = t[pg]["tesseract_words"], p[pg]
        f = lambda d: f"{d['iou50']:.3f} / {d['centre_match']:.3f} / {d['mean_iou']:.2f}"  # noqa: E731
        out.append(f"| {pg} | {a['n']} | {f(a)} | {b['line_boxes']['centre_match']:.3f} | {f(b['proportional'])} | {f(b['ctc'])} |")
        acc["t"].append(a); acc["l"].append(b["line_boxes"]); acc["pr"].append(b["proportional"]); acc["c"].append(b["ctc"])
    m = lambda L, k: sum(d[k] * d["n"] for d in L) / sum(d["n"] for d in L)  # noqa: E731
    g = lambda L: f"{m(L, 'iou50'):.3f} / {m(L, 'centre_match'):.3f} / {m(L, 'mean_iou'):.2f}"  # noqa: E731
    out.append(f"| **all (word-weighted)** | {sum(d['n'] for d in acc['t'])} | {g(acc['t'])} | {m(acc['l'], 'centre_match'):.3f} | {g(acc['pr'])} | {g(acc['c'])} |")
    return "\n".join(out)


def t_pdf():
    rt, rp = json.load(open(os.path.join(R, "pdf_tess.json"))), json.load(open(os.path.join(R, "pdf_pp.json")))
    out = [f"PDF text layer characters per page (pypdfium2): {rt['text_layer_chars']} (i.e. image-only).", "",
           "| render dpi (pypdfium2 scale) | px | page | tesseract CER | tesseract word recall | tesseract s | PP-OCR CER (naive regroup) | PP word recall | PP s |",
           "|---|---|---|---|---|---|---|---|---|"]
    for a, b in zip(rt["runs"], rp["runs"]):
        assert a["page"] == b["page"] and a["dpi"] == b["dpi"]
        out.append(f"| {a['dpi']} ({a['scale']}) | {a['px'][0]}x{a['px'][1]} | {a['page']} | {a['cer']:.4f} | {a['word_recall']:.3f} | {a['ocr_s']:.2f} | {b['cer']:.4f} | {b['word_recall']:.3f} | {b['ocr_s']:.2f} |")
    return "\n".join(out)


def t_groups():
    groups = [("clean English (p01-p05, p13, p15)", ["p01_serif11_300", "p02_sans10_200", "p03_twosize_300", "p04_twosize_250",
                                                    "p05_table_300", "p13_mono_250", "p15_small8_200"]),
              ("scanned English (p06-p08)", ["p06_scan_serif_300", "p07_scan_sans_200", "p08_scan_sans_300_rot15"]),
              ("French/German (p09-p12)", ["p09_fr_serif_300", "p10_de_sans_300", "p11_fr_scan_200", "p12_de_scan_250"]),
              ("two-column (p14)", ["p14_twocol_300"])]
    cols = [("tess eng", "r2_tess_eng_omp1"), ("tess per-lang", "r2_tess_perlang_omp1"),
            ("tess eng+fra+deu", "tess_multi_omp1"), ("PP-OCRv5 (deskew regroup)", "pp_deskew")]
    rs = {t: load(t) for _, t in cols}
    out = ["| page group | " + " | ".join(f"{c} CER / word recall" for c, _ in cols) + " |", "|---|" + "---|" * len(cols)]
    for g, names in groups:
        cells = []
        for _, t in cols:
            pg = rs[t]["pages"]
            cells.append(f"{statistics.mean(pg[n]['cer'] for n in names):.4f} / {statistics.mean(pg[n]['word_recall'] for n in names):.3f}")
        out.append(f"| {g} | " + " | ".join(cells) + " |")
    return "\n".join(out)


TABLES = {"groups": t_groups, "summary": t_summary, "perpage": t_perpage, "pages": t_pages, "threads": t_threads,
          "boxes": t_boxes, "pdf": t_pdf}

if __name__ == "__main__":
    tpl = open(os.path.join(HERE, "REPORT_template.md"), encoding="utf-8").read()
    out = re.sub(r"<!--T:(\w+)-->", lambda m: TABLES[m.group(1)](), tpl)
    open(os.path.join(HERE, "REPORT.md"), "w", encoding="utf-8").write(out)
    print("wrote REPORT.md")
