#!/usr/bin/env bash
# Issue "beyond heads", part 2 (ASDiv-A fold 0): FFN-only pruning and whole-layer dropping against
# heads+FFN, every student from the same teacher (one round x 6 epochs, alpha 0, distillation),
# exported fp32 and int8 and benched side by side in one run. Resumable: finished stages are
# skipped. Needs runs/teacher-asdiv-a-0 (`edgemath train --data asdiv-a:0 --out
# runs/teacher-asdiv-a-0 --epochs 30`).
set -euo pipefail
cd "$(dirname "$0")/../.."
EM=${EM:-.venv/bin/edgemath}
T=${T:-runs/teacher-asdiv-a-0}
R=${R:-runs/layers}
RUNS=${RUNS:-runs}
mkdir -p "$RUNS/logs"
. bench/jobs.sh
common=(--data asdiv-a:0 --alpha 0 --rounds 1 --resume)
# *-e12: 12 epochs instead of 6 (accuracy was still rising at 6); h0.3-e12 is the heads-only row
# of the heads / heads+FFN / heads+FFN+vocabulary comparison
variants=(f0.7 d2 f0.6 d2-f0.4 h0.3-f0.6 f0.7-e12 f0.6-e12 f0.8-e12 h0.3-e12 h0.5-e12 f0.9-e12 h0.3-f0.8-e12)
declare -A flags=(
  [f0.7]="--prune-heads 0 --prune-ffn 0.7 --epochs 6"
  [f0.6]="--prune-heads 0 --prune-ffn 0.6 --epochs 6"
  [d2]="--prune-heads 0 --drop-layers 2 --epochs 6"
  [d2-f0.4]="--prune-heads 0 --drop-layers 2 --prune-ffn 0.4 --epochs 6"
  [h0.3-f0.6]="--prune-heads 0.3 --prune-ffn 0.6 --epochs 6"
  [f0.7-e12]="--prune-heads 0 --prune-ffn 0.7 --epochs 12"
  [f0.6-e12]="--prune-heads 0 --prune-ffn 0.6 --epochs 12"
  [f0.8-e12]="--prune-heads 0 --prune-ffn 0.8 --epochs 12"
  [h0.3-e12]="--prune-heads 0.3 --epochs 12"
  [h0.5-e12]="--prune-heads 0.5 --epochs 12"
  [f0.9-e12]="--prune-heads 0 --prune-ffn 0.9 --epochs 12"
  [h0.3-f0.8-e12]="--prune-heads 0.3 --prune-ffn 0.8 --epochs 12"
)
for v in ${ONLY:-${variants[@]}}; do
  # shellcheck disable=SC2086
  job "layers-$v" "$R/$v" $EM compress --teacher "$T" ${flags[$v]} "${common[@]}" --out "$R/$v"
done
# Every run exported fp32 and int8.
declare -A export_flags=([fp32]="" [int8]="--int8 --max-int8-drop 100")
# The vocabulary cut applied to finished students (no training): the shipped-size rows.
vocab_variants=(f0.6-v h0.3-f0.6-v h0.3-f0.8-e12-v)
for v in "${vocab_variants[@]}"; do
  job "layers-$v" "$R/$v" $EM compress --teacher "$R/${v%-v}" --data asdiv-a:0 --prune-heads 0 --prune-vocab \
    --vocab-min-count 10 --out "$R/$v"
done
exports=()
for run in "$T" ${variants[@]/#/$R/} ${vocab_variants[@]/#/$R/}; do
  [ -f "$run/manifest.json" ] || continue
  for p in fp32 int8; do
    # shellcheck disable=SC2086
    job "export-$(basename "$run")-$p" "$run/export-$p" $EM export "$run" --out "$run/export-$p" ${export_flags[$p]}
    exports+=("$run/export-$p")
  done
done
# All dev problems timed; the exports take turns problem by problem (bench/results/history/layers-asdiv-a-0.json
# is the earlier run of this script, 6-epoch students only, timed one export after another).
$EM bench "${exports[@]}" --data asdiv-a:0 --threads 1 --problems 238 \
  --out bench/results/history/layers-interleaved-asdiv-a-0.json
