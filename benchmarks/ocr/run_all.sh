#!/bin/bash
# Runs every benchmark configuration sequentially, each in a fresh process, each inside a
# new network namespace (unshare -n: loopback only, no route out) to prove offline operation.
. "$(dirname "$0")/run_common.sh"
mkdir -p logs
ARGS="tess --boxes"            run tess_eng_omp1   OMP_THREAD_LIMIT=1
ARGS="tess"                    run tess_eng_ompdef X=1
ARGS="tess --lang perpage"     run tess_perlang_omp1 OMP_THREAD_LIMIT=1
ARGS="tess --lang multi"       run tess_multi_omp1 OMP_THREAD_LIMIT=1
ARGS="pp --boxes"              run pp_default      X=1
ARGS="pp --threads 1"          run pp_t1           X=1
ARGS="pp --side 1600"          run pp_side1600     X=1
echo "=== done $(date +%T)"
