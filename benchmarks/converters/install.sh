#!/bin/bash
# usage: install.sh name pip-args...
set -u
name=$1; shift
cd ${CONVCMP:-/tmp/convcmp}
v=v-$name
rm -rf $v
python3.11 -m venv $v
$v/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
start=$(date +%s.%N)
$v/bin/pip install --no-cache-dir "$@" > logs/install-$name.log 2>&1
rc=$?
end=$(date +%s.%N)
secs=$(python3 -c "print(round($end-$start,1))")
sp=$v/lib/python3.11/site-packages
bytes=$(du -sb $sp | cut -f1)
bare=$(du -sb bare/lib/python3.11/site-packages | cut -f1)
npk=$(($($v/bin/pip list 2>/dev/null | tail -n +3 | wc -l) - 2))
torch=$($v/bin/pip list 2>/dev/null | grep -i -E "^(torch|torchvision|onnxruntime|transformers|nvidia-[a-z0-9-]+|spacy|nltk) " | awk '{print $1"=="$2}' | tr '\n' ' ')
echo "{\"name\":\"$name\",\"rc\":$rc,\"install_s\":$secs,\"size_mb\":$(( (bytes-bare)/1048576 )),\"size_h\":\"$(du -sh $sp|cut -f1)\",\"packages\":$npk,\"heavy\":\"$torch\"}" | tee -a logs/install-summary.jsonl
$v/bin/pip freeze > logs/freeze-$name.txt 2>/dev/null
