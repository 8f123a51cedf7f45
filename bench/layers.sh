#!/usr/bin/env bash
# Issue "beyond heads", part 2 (ASDiv-A fold 0): FFN-only pruning and whole-layer dropping against
# heads+FFN, every student from the same teacher (one round x 6 epochs, alpha 0, distillation),
# exported fp32 and int8 and benched side by side in one run. Resumable: finished stages are
# skipped. Needs runs/teacher-asdiv-a-0 (`edgemath train --data asdiv-a:0 --out
# runs/teacher-asdiv-a-0 --epochs 30`).
set -euo pipefail
cd "$(dirname "$0")/.."
EM=${EM:-.venv/bin/edgemath}
T=${T:-runs/teacher-asdiv-a-0}
R=${R:-runs/layers}
RUNS=${RUNS:-runs}
mkdir -p "$RUNS/logs"
. bench/jobs.sh
common=(--data asdiv-a:0 --alpha 0 --rounds 1 --epochs 6 --resume)
variants=(f0.7 d2 f0.6 d2-f0.4 h0.3-f0.6)
declare -A flags=(
  [f0.7]="--prune-heads 0 --prune-ffn 0.7"
  [f0.6]="--prune-heads 0 --prune-ffn 0.6"
  [d2]="--prune-heads 0 --drop-layers 2"
  [d2-f0.4]="--prune-heads 0 --drop-layers 2 --prune-ffn 0.4"
  [h0.3-f0.6]="--prune-heads 0.3 --prune-ffn 0.6"
)
for v in ${ONLY:-${variants[@]}}; do
  # shellcheck disable=SC2086
  job "layers-$v" "$R/$v" $EM compress --teacher "$T" ${flags[$v]} "${common[@]}" --out "$R/$v"
done
exports=()
for run in "$T" ${variants[@]/#/$R/}; do
  [ -f "$run/manifest.json" ] || continue
  for p in fp32 int8; do
    job "export-$(basename "$run")-$p" "$run/export-$p" $EM export "$run" --out "$run/export-$p" \
      $([ $p = int8 ] && echo "--int8 --max-int8-drop 100")
    exports+=("$run/export-$p")
  done
done
$EM bench "${exports[@]}" --data asdiv-a:0 --threads 1 --out bench/results/layers-asdiv-a-0.json
