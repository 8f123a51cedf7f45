#!/usr/bin/env bash
# Issue "base-size teacher", item 4 (c): the base teacher pruned hard, to MiniLM-L6's per-token compute,
# beside (b) MiniLM-L6 distilled from it (bench/teacher_screen.sh RECIPES=kd-mpnet-dq).
# Each fold's MPNet teacher (RECIPES=mpnet12) loses 6 of its 12 layers (least Block Influence first),
# 75% of the remaining heads and 75% of the FFN neurons over ROUNDS recursive rounds (each student the
# next round's teacher), distilled on the training problems plus one distractor and one question copy
# (kd-mpnet-dq's data). What is left per layer, 3 heads of 64 and ~768 FFN neurons, has MiniLM-L6's
# matmul weights per layer exactly (589,824 + 1,179,648), 6 layers as MiniLM-L6 has; the residual stream
# stays 768 wide. Encoder at 8e-5, the rate the teacher trained at (compress's 2e-4 pushed the fold-1
# paper-regime students off the teacher's best epoch, docs/mpnet.md).
#   FOLDS="0 1" ROUNDS=3 EPOCHS=2 bash bench/mpnet_hard.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EM=${EM:-.venv/bin/edgemath}
FOLDS=${FOLDS:-0 1}
ROUNDS=${ROUNDS:-3}
EPOCHS=${EPOCHS:-2}      # per round: ROUNDS * EPOCHS student epochs over ~2.5 examples per problem
SCREEN=${SCREEN:-runs/screen}
for fold in $FOLDS; do
  teacher=$SCREEN/mpnet12-f$fold
  [ -f "$teacher/manifest.json" ] || { echo "no MPNet teacher for fold $fold: FOLDS=$fold RECIPES=mpnet12 bash bench/teacher_screen.sh" >&2; exit 1; }
  run=$SCREEN/mpnet-hard-r$ROUNDS-e$EPOCHS-f$fold
  [ -f "$run/manifest.json" ] && { echo "skip $run (done)"; continue; }
  echo "$(date +%T) start $run"
  OMP_NUM_THREADS=${THREADS:-1} $EM compress --teacher "$teacher" --data "asdiv-a:$fold" --drop-layers 6 \
    --prune-heads 0.75 --prune-ffn 0.75 --rounds "$ROUNDS" --epochs "$EPOCHS" --alpha 0 --encoder-lr 8e-5 \
    --augment distractor,question --out "$run" --resume > "$run.log" 2>&1
  echo "$(date +%T) done $run"
done
