#!/usr/bin/env bash
# Static (calibrated, QDQ) against dynamic int8 for the encoder, on the fold-0 teacher and its
# heads-only students of `edgemath report` at the default encoder learning rate: accuracy and
# 1-thread latency side by side in one bench run. Needs runs/report/asdiv-a-0/{teacher,
# heads0.3-a0-r1,heads0.5-a0-r1} with their export-fp32 and export-int8 (made by
# `edgemath report --folds 0 --compress-epochs 12`); adds export-int8-static to each.
set -euo pipefail
cd "$(dirname "$0")/.."
EM=${EM:-.venv/bin/edgemath}
RUNS=${RUNS:-runs}
R=${R:-$RUNS/report/asdiv-a-0}
mkdir -p "$RUNS/logs"
. bench/jobs.sh
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exports=()
for run in "$R/teacher" "$R/heads0.3-a0-r1" "$R/heads0.5-a0-r1"; do
  job "static-int8-$(basename "$run")" "$run/export-int8-static" $EM export "$run" --out "$run/export-int8-static" \
      --int8 --static --max-int8-drop 100
  exports+=("$run/export-fp32" "$run/export-int8" "$run/export-int8-static")
done
$EM bench "${exports[@]}" --data asdiv-a:0 --threads 1 --out bench/results/static-int8-asdiv-a-0.json
