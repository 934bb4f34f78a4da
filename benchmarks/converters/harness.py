"""Shared harness (stdlib only). Each run_<cand>.py defines convert(path)->(text, units)
and calls main(NAME, convert).

usage: python run_x.py [--offline] [--reps N] [files...]
Writes out/<cand>[-offline]/<file>.txt, .units.json and results.json.
With TRACE_NET=1 every socket connect / DNS lookup is logged (to detect runtime downloads).
"""
import json, os, socket, statistics, sys, time, traceback

FIX = os.environ.get("CONVCMP", "/tmp/convcmp") + "/fixtures"
NET_LOG = []


def _trace_net():
    orig_connect = socket.socket.connect
    orig_gai = socket.getaddrinfo

    def connect(self, addr, *a, **k):
        NET_LOG.append(("connect", repr(addr)[:120]))
        return orig_connect(self, addr, *a, **k)

    def gai(host, *a, **k):
        NET_LOG.append(("getaddrinfo", str(host)[:120]))
        return orig_gai(host, *a, **k)

    socket.socket.connect = connect
    socket.getaddrinfo = gai


if os.environ.get("TRACE_NET"):
    _trace_net()


def default_files():
    return sorted(f for f in os.listdir(FIX) if f.startswith("sample.") and not f.endswith(".json"))


def main(name, convert, setup=None):
    args = sys.argv[1:]
    offline = "--offline" in args
    reps = 3
    if "--reps" in args:
        reps = int(args[args.index("--reps") + 1])
    files = [a for a in args if not a.startswith("--") and not a.isdigit()] or default_files()
    outdir = os.environ.get("CONVCMP", "/tmp/convcmp") + f"/out/{name}{'-offline' if offline else ''}"
    os.makedirs(outdir, exist_ok=True)
    markers = json.load(open(os.path.join(FIX, "markers.json")))
    t0 = time.perf_counter()
    if setup:
        setup()
    setup_s = time.perf_counter() - t0
    results = {"candidate": name, "offline": offline, "setup_s": round(setup_s, 3), "files": {}}
    for fn in files:
        path = os.path.join(FIX, fn)
        r = {"ok": False}
        net_before = len(NET_LOG)
        try:
            t = time.perf_counter()
            text, units = convert(path)
            r["first_s"] = round(time.perf_counter() - t, 4)
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                convert(path)
                times.append(time.perf_counter() - t)
            r["warm_s"] = round(statistics.median(times), 4) if times else None
            r["ok"] = True
            r["chars"] = len(text)
            r["units"] = len(units)
            open(os.path.join(outdir, fn + ".txt"), "w").write(text)
            json.dump(units, open(os.path.join(outdir, fn + ".units.json"), "w"), indent=1, default=str)
            found, missing, leaked = [], [], []
            for mk in markers.get(fn, {}):
                if mk.startswith("!"):
                    (leaked if mk[1:] in text else []).append(mk[1:])
                else:
                    (found if mk in text else missing).append(mk)
            r["found"] = len(found)
            r["expected"] = len([m for m in markers.get(fn, {}) if not m.startswith("!")])
            r["missing"] = missing
            r["boilerplate_leaked"] = leaked
            # provenance of the first unit holding each marker
            prov = {}
            for mk in found:
                for u in units:
                    if mk in u.get("text", ""):
                        prov[mk] = {k: v for k, v in u.items() if k != "text"}
                        break
            r["marker_prov"] = prov
        except Exception as e:
            r["error"] = f"{type(e).__name__}: {e}"[:600]
            r["traceback"] = traceback.format_exc()[-2500:]
        r["net"] = NET_LOG[net_before:][:20]
        results["files"][fn] = r
        status = "OK " if r["ok"] else "ERR"
        print(f"{status} {fn:14s} first={r.get('first_s')} warm={r.get('warm_s')} "
              f"found={r.get('found')}/{r.get('expected')} missing={r.get('missing')} "
              f"leaked={r.get('boilerplate_leaked')} {r.get('error','')[:200]}", flush=True)
    results["net_total"] = NET_LOG[:50]
    json.dump(results, open(os.path.join(outdir, "results.json"), "w"), indent=1, default=str)
