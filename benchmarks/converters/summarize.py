"""Build markdown tables from out/*/results.json and logs/install-summary.jsonl."""
import json, os
C = ["plain", "markitdown", "unstructured", "unstructured-localmodel", "docling", "docling-slim"]
FMT = ["docx", "odt", "rtf", "pptx", "xlsx", "xls", "ods", "csv", "html", "epub", "ipynb", "eml", "mbox", "msg", "pdf"]
RAW = ("{\\rtf", "From MAILER-DAEMON", "Content-Transfer-Encoding", '"cell_type"')
res = {c: json.load(open(f"out/{c}/results.json")) for c in C if os.path.exists(f"out/{c}/results.json")}
print("| format | " + " | ".join(res) + " |")
print("|---" * (len(res) + 1) + "|")
for f in FMT:
    cells = []
    for c, r in res.items():
        v = r["files"].get(f"sample.{f}")
        if not v:
            cells.append("-"); continue
        if not v["ok"]:
            e = v["error"].split(":")[0]
            cells.append(f"FAIL ({e})"); continue
        txt = open(f"out/{c}/sample.{f}.txt").read()
        raw = " RAW" if any(x in txt for x in RAW) else ""
        leak = f" leak{len(v['boilerplate_leaked'])}" if v["boilerplate_leaked"] else ""
        cells.append(f"{v['found']}/{v['expected']} {v['warm_s']*1000:.0f}ms{raw}{leak}")
    print(f"| {f} | " + " | ".join(cells) + " |")
print()
for c, r in res.items():
    print(c, "setup_s", r["setup_s"], "net", r["net_total"][:6])
print()
for c, r in res.items():
    for f, v in r["files"].items():
        if v.get("missing"):
            print(f"{c:24s} {f:13s} missing {v['missing']}")
