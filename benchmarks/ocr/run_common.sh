# Sourced by run_all.sh and run_round2.sh: one benchmark configuration in a fresh process,
# inside a new network namespace (unshare -n: loopback only, no route out).
set -u
cd ${OCRCMP:-/tmp/ocrcmp}
PY=${OCRCMP:-/tmp/ocrcmp}/venv/bin/python
run() {  # tag, env..., with ARGS for bench.py
  local tag=$1; shift
  mkdir -p work/$tag && rm -rf work/$tag/cache
  echo "=== $tag $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  (cd work/$tag && env "$@" unshare -n $PY ${OCRCMP:-/tmp/ocrcmp}/bench.py $tag ${ARGS} > ${OCRCMP:-/tmp/ocrcmp}/logs/$tag.log 2>&1; echo "rc=$?")
}
