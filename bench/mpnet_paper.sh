#!/usr/bin/env bash
# The paper's regime on the base-size teacher (issue "base-size teacher", item 3): the MPNet teacher
# of each fold (bench/teacher_screen.sh RECIPES=mpnet12) pruned to 30% and 50% of heads with
# recursive distillation (ROUNDS rounds, each student the next round's teacher), then
# `edgemath report --encoder mpnet` (the equal-budget teacher, exports fp32/int8, one bench run per fold)
# into reports/mpnet.
# The students are made first, two at a time at one thread each, under the names and settings the
# report looks them up by; the report then reuses them and the screen's teachers.
#   FOLDS="0" ROUNDS=2 EPOCHS=2 bash bench/mpnet_paper.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EM=${EM:-.venv/bin/edgemath}
FOLDS=${FOLDS:-0 1}
ROUNDS=${ROUNDS:-2}
EPOCHS=${EPOCHS:-2}      # per round: ROUNDS * EPOCHS student epochs
SCREEN=${SCREEN:-runs/screen}
OUT=${OUT:-reports/mpnet}
for fold in $FOLDS; do
  [ -f "$SCREEN/mpnet12-f$fold/manifest.json" ] || { echo "no MPNet teacher for fold $fold: FOLDS=$fold RECIPES=mpnet12 bash bench/teacher_screen.sh" >&2; exit 1; }
  for ratio in 0.3 0.5; do
    run=runs/report/asdiv-a-$fold/heads$ratio-a0-r$ROUNDS
    [ -f "$run/manifest.json" ] && continue
    mkdir -p "$(dirname "$run")"
    echo "$(date +%T) start $run"
    OMP_NUM_THREADS=1 $EM compress --teacher "$SCREEN/mpnet12-f$fold" --data "asdiv-a:$fold" --prune-heads $ratio \
      --rounds "$ROUNDS" --alpha 0 --epochs "$EPOCHS" --out "$run" --resume > "$run.log" 2>&1 &
  done
  wait
done
$EM report --data asdiv-a --folds "$(echo $FOLDS | tr ' ' ,)" --ratios 0,0.3,0.5 --encoder mpnet --epochs 12 \
  --rounds "$ROUNDS" --compress-epochs "$EPOCHS" --alpha 0 --out "$OUT"
