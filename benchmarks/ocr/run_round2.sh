#!/bin/bash
# Second round, run when the shared machine was quieter; interleaves engines so both see
# similar background load. Same harness; every run inside unshare -n.
. "$(dirname "$0")/run_common.sh"
ARGS="tess"                 run r2_tess_eng_omp1   OMP_THREAD_LIMIT=1
ARGS="pp"                   run r2_pp_default      X=1
ARGS="tess"                 run r2_tess_eng_ompdef X=1
ARGS="pp --threads 1"       run r2_pp_t1           X=1
ARGS="pp --side 1600"       run r2_pp_side1600     X=1
ARGS="tess --lang perpage"  run r2_tess_perlang_omp1 OMP_THREAD_LIMIT=1
ARGS="pp --noarena"         run r2_pp_noarena      X=1
ARGS="pp --threads 1 --side 1600" run r2_pp_t1_side1600 X=1
echo "=== pdf $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p work/pdf && cd work/pdf
OMP_THREAD_LIMIT=1 unshare -n $PY ${OCRCMP:-/tmp/ocrcmp}/pdf_bench.py tess > ${OCRCMP:-/tmp/ocrcmp}/logs/pdf_tess.log 2>&1; echo "rc=$?"
unshare -n $PY ${OCRCMP:-/tmp/ocrcmp}/pdf_bench.py pp > ${OCRCMP:-/tmp/ocrcmp}/logs/pdf_pp.log 2>&1; echo "rc=$?"
echo "=== done $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
