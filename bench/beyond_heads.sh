#!/usr/bin/env bash
# docs/results.md "Beyond heads": heads only vs heads + FFN vs heads + FFN + vocabulary on ASDiv-A
# fold 0, each one round x 24 epochs (alpha 0, distillation, encoder 2e-4) from one 128-wide
# teacher; the vocabulary student trains through the cut teacher's vocabulary. Everything is
# exported fp32 and int8 and benched side by side with the 256-wide fold-0 teacher T0 in one run,
# then `python bench/beyond_heads_table.py bench/results/beyond-heads-asdiv-a-0.json` prints the
# table. Resumable: finished stages are skipped.
#   T0=runs/report/asdiv-a-0/teacher bash bench/beyond_heads.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EM=${EM:-.venv/bin/edgemath}
R=${R:-runs/small}
RUNS=${RUNS:-runs}
T=$R/teacher-h128
T0=${T0:-runs/report/asdiv-a-0/teacher}
mkdir -p "$RUNS/logs"
. bench/jobs.sh
e24() {  # NAME TEACHER FLAGS...: one round x 24 epochs, alpha 0, distilled from TEACHER
  local name=$1 teacher=$2; shift 2
  job "small-$name" "$R/$name" $EM compress --teacher "$teacher" --data asdiv-a:0 --alpha 0 --rounds 1 --epochs 24 \
    "$@" --out "$R/$name"
}
exports() {  # RUN...: export each fp32 and int8 (once), print the export folders
  for run in "$@"; do
    job "export-$(basename "$run")-fp32" "$run/export-fp32" $EM export "$run" --out "$run/export-fp32" >&2
    job "export-$(basename "$run")-int8" "$run/export-int8" $EM export "$run" --int8 --max-int8-drop 100 \
      --out "$run/export-int8" >&2
    echo "$run/export-fp32" "$run/export-int8"
  done
}
job small-teacher-h128 "$T" $EM train --data asdiv-a:0 --hidden 128 --epochs 30 --out "$T" --resume
# the teacher's vocabulary cut first, training words seen < 3 times respelled (the student trains through it)
job small-teacher-h128-v3 "$R/teacher-h128-v3" $EM compress --teacher "$T" --data asdiv-a:0 --prune-heads 0 \
  --prune-vocab --vocab-min-count 15 --vocab-train-min-count 3 --out "$R/teacher-h128-v3"
OMP_NUM_THREADS=1 e24 g-h0.4-f0.85-v "$R/teacher-h128-v3" --prune-heads 0.4 --prune-ffn 0.85 &
OMP_NUM_THREADS=1 e24 g-h0.4-f0.85 "$T" --prune-heads 0.4 --prune-ffn 0.85 &
wait
OMP_NUM_THREADS=1 e24 g-h0.4 "$T" --prune-heads 0.4
$EM bench $(exports "$T0" "$T" "$R/g-h0.4" "$R/g-h0.4-f0.85" "$R/g-h0.4-f0.85-v") --data asdiv-a:0 \
  --threads 1 --problems 238 --out bench/results/beyond-heads-asdiv-a-0.json
