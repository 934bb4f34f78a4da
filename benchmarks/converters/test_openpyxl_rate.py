"""Throughput/memory of the timed-out modes: iterate for 15 s, report rows done, RSS, extrapolated time."""
import resource, sys, time, openpyxl
path, mode = sys.argv[1], sys.argv[2]
t = time.perf_counter()
wb = openpyxl.load_workbook(path, read_only=mode.startswith("ro"), data_only=True)
ws = wb.active
rows = cells = 0
for row in ws.iter_rows(values_only=mode.endswith("values")):
    rows += 1
    cells += len(row)
    if time.perf_counter() - t > 15:
        break
el = time.perf_counter() - t
print(f"{mode}: {rows} rows ({cells} cells) in {el:.1f}s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB; "
      f"extrapolated full sheet {1048576/rows*el/3600:.1f} h")
