#!/usr/bin/env bash
# The recipe of the shipped models/default (issue "runtime"): teacher on the whole MAWPS +
# ASDiv-A pool, 30% of heads and 60% of FFN neurons pruned with one round of distillation,
# vocabulary pruned, int8 export, bench, model card. Resumable: a finished stage is skipped.
# About 45 + 25 min on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
EM=${EM:-.venv/bin/edgemath}
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-runs}
[ -f "$RUNS/teacher-pool/manifest.json" ] || $EM train --data mawps-asdiv-a --out "$RUNS/teacher-pool" --epochs 12
[ -f "$RUNS/student-pool/manifest.json" ] || $EM compress --teacher "$RUNS/teacher-pool" --data mawps-asdiv-a \
    --prune-heads 0.3 --prune-ffn 0.6 --prune-vocab --vocab-min-count 10 --alpha 0 --rounds 1 --epochs 4 --resume --out "$RUNS/student-pool"
[ -f models/default/manifest.json ] || $EM export "$RUNS/student-pool" --out models/default --int8 --max-int8-drop 1.5
[ -f "$RUNS/teacher-pool-fp32/manifest.json" ] || $EM export "$RUNS/teacher-pool" --out "$RUNS/teacher-pool-fp32"
[ -f "$RUNS/student-pool-fp32/manifest.json" ] || $EM export "$RUNS/student-pool" --out "$RUNS/student-pool-fp32"
# timed on ASDiv-A fold-0 dev problems (inside the pool: accuracy here is a fit check)
$EM bench "$RUNS/teacher-pool-fp32" "$RUNS/student-pool-fp32" models/default --teacher "$RUNS/teacher-pool" \
    --data asdiv-a:0 --out bench/results/default.json
$PY bench/model_card.py models/default --bench bench/results/default.json \
    ${HELD_OUT:+--held-out-run "$HELD_OUT"} ${NOTE:+--note "$NOTE"}
