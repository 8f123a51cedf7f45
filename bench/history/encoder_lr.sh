#!/usr/bin/env bash
# compress's encoder learning rate. The students so far trained their encoder at 2e-5, a
# fine-tuning rate (the teacher trained at 8e-5); on the under-6 MB student 2e-4 gained ~5 points
# (bench/small_solver.sh, QUEUE=e). Here: heads-only students (issue "compress", 12 epochs, one
# round, alpha 0) at 2e-4 on the folds where 2e-5 lost most, next to the report's runs at 2e-5
# (runs/report/asdiv-a-F/heads{0.3,0.5}-a0-r1). One thread; resumable (finished runs skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."
EM=${EM:-.venv/bin/edgemath}
RUNS=${RUNS:-runs}
mkdir -p "$RUNS/logs"
. bench/jobs.sh
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for fold in ${FOLDS:-1 2}; do
  for ratio in 0.3 0.5; do
    job "elr-f$fold-h$ratio" "$RUNS/elr/f$fold-h$ratio-e12" $EM compress --teacher "$RUNS/report/asdiv-a-$fold/teacher" \
      --data "asdiv-a:$fold" --prune-heads "$ratio" --rounds 1 --alpha 0 --epochs 12 --encoder-lr 2e-4 \
      --out "$RUNS/elr/f$fold-h$ratio-e12"
  done
done
# table: fold, ratio, teacher, 2e-5, 2e-4 (dev accuracy from each run's manifest)
python3 - "$RUNS" ${FOLDS:-1 2} <<'PY'
import json, sys
from pathlib import Path
runs, folds = Path(sys.argv[1]), sys.argv[2:]
metrics = lambda d: json.loads((d / "manifest.json").read_text())["metrics"]
for fold in folds:
    t = metrics(runs / f"report/asdiv-a-{fold}/teacher")["dev_acc"] * 100
    for ratio in ("0.3", "0.5"):
        old = metrics(runs / f"report/asdiv-a-{fold}/heads{ratio}-a0-r1")["after"]["dev_acc"] * 100
        new = metrics(runs / f"elr/f{fold}-h{ratio}-e12")["after"]["dev_acc"] * 100
        print(f"| {fold} | {float(ratio):.0%} | {t:.2f} | {old:.2f} ({old - t:+.2f}) | {new:.2f} ({new - t:+.2f}) |")
PY
