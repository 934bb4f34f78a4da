"""openpyxl behaviour on a sheet with a huge declared dimension.
Each mode runs in a child process with a 60 s timeout; reports wall time, peak RSS, rows/cells seen.
Fixtures:
  huge_dimension.xlsx   real cell at XFD1048576 (declared dim A1:XFD1048576)
  huge_dim_only.xlsx    only rows 1-2 hold data, but <dimension ref="A1:XFD1048576"/> (hand-edited,
                        as some exporters write)
"""
import json, os, re, shutil, subprocess, sys, zipfile

FIX = os.environ.get("CONVCMP", "/tmp/convcmp") + "/fixtures"
PY = sys.executable
TIMEOUT = 60

CHILD = r'''
import resource, sys, time, openpyxl
path, mode = sys.argv[1], sys.argv[2]
t = time.perf_counter()
ro = mode.startswith("ro")
wb = openpyxl.load_workbook(path, read_only=ro, data_only=True)
ws = wb.active
info = {"declared": ws.calculate_dimension() if not ro else None, "max_row": ws.max_row, "max_column": ws.max_column}
if mode.startswith("ro-reset"):
    ws.reset_dimensions()
rows = cells = 0
found = []
vo = mode.endswith("values")
it = ws.iter_rows(values_only=vo) if mode != "normal-_cells" else (
    [c] for c in ws._cells.values())
for row in it:
    rows += 1
    for c in row:
        cells += 1
        v = c if vo else getattr(c, "value", None)
        if isinstance(v, str) and v.startswith("QX"):
            found.append(v)
info.update(rows=rows, cells=cells, found=found,
            seconds=round(time.perf_counter() - t, 3),
            peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
print(info)
'''


def make_dim_only():
    src, dst = os.path.join(FIX, "sample.xlsx"), os.path.join(FIX, "huge_dim_only.xlsx")
    import io
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for it in zin.infolist():
            data = zin.read(it.filename)
            if it.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]+"/>', b'<dimension ref="A1:XFD1048576"/>', data)
            zout.writestr(it, data)
    return dst


def run(path, mode):
    try:
        p = subprocess.run([PY, "-c", CHILD, path, mode], capture_output=True, text=True, timeout=TIMEOUT)
        return (p.stdout.strip() or p.stderr.strip()[-300:])
    except subprocess.TimeoutExpired:
        return f"TIMEOUT after {TIMEOUT}s (killed)"


if __name__ == "__main__":
    paths = [os.path.join(FIX, "huge_dimension.xlsx"), make_dim_only()]
    modes = ["ro", "ro-values", "ro-reset", "ro-reset-values", "normal", "normal-_cells"]
    for path in paths:
        for mode in modes:
            print(f"{os.path.basename(path):22s} {mode:16s} {run(path, mode)}", flush=True)
