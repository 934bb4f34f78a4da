#!/bin/bash
# Runs every benchmark configuration sequentially, each in a fresh process, each inside a
# new network namespace (unshare -n: loopback only, no route out) to prove offline operation.
set -u
cd ${OCRCMP:-/tmp/ocrcmp}
PY=${OCRCMP:-/tmp/ocrcmp}/venv/bin/python
run() {  # tag, env..., -- args
  local tag=$1; shift
  mkdir -p work/$tag && rm -rf work/$tag/cache
  echo "=== $tag $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  (cd work/$tag && env "$@" unshare -n $PY ${OCRCMP:-/tmp/ocrcmp}/bench.py $tag ${ARGS} > ${OCRCMP:-/tmp/ocrcmp}/logs/$tag.log 2>&1; echo "rc=$?")
}
mkdir -p logs
ARGS="tess --boxes"            run tess_eng_omp1   OMP_THREAD_LIMIT=1
ARGS="tess"                    run tess_eng_ompdef X=1
ARGS="tess --lang perpage"     run tess_perlang_omp1 OMP_THREAD_LIMIT=1
ARGS="tess --lang multi"       run tess_multi_omp1 OMP_THREAD_LIMIT=1
ARGS="pp --boxes"              run pp_default      X=1
ARGS="pp --threads 1"          run pp_t1           X=1
ARGS="pp --side 1600"          run pp_side1600     X=1
echo "=== done $(date +%T)"
