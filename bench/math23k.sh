#!/usr/bin/env bash
# Issue "Math23k" on CPU, end to end, resumable (a job whose output has a manifest.json is skipped):
# e5 encoder -> teacher (2 epochs, ~86 min on 2 cores) -> test score -> 30% heads compressed with
# and without distillation (one round, one epoch, ~55 / ~45 min) -> exports -> bench -> solve;
# then the teacher trained 2 epochs more (--init).
# Needs ../shared/data/math23k (or DATA=...) and `bash scripts/setup.sh train,test,e5`.
set -euo pipefail  # a failed job stops the chain: later steps need its output
cd "$(dirname "$0")/.."
EM=${EM:-.venv/bin/edgemath}
RUNS=${RUNS:-runs}
D="--data math23k --data-dir ${DATA:-../shared/data}"
T=$RUNS/teacher-math23k-2ep S=$RUNS/math23k-h0.3-r1 N=$RUNS/math23k-h0.3-nodistill
mkdir -p "$RUNS/logs"

. bench/jobs.sh

job e5 "$RUNS/e5-math23k" $EM import-e5 --out "$RUNS/e5-math23k" --vocab-from math23k $D
job teacher "$T" $EM train $D --encoder "$RUNS/e5-math23k" --const-min-count 10 --epochs 2 --out "$T" --resume
job compress-30 "$S" $EM compress --teacher "$T" $D --prune-heads 0.3 --rounds 1 --epochs 1 --out "$S" --resume
job compress-30-nodistill "$N" $EM compress --teacher "$T" $D --prune-heads 0.3 --rounds 1 --epochs 1 --no-distill --out "$N" --resume
for r in "$T" "$S" "$N"; do
  [ -f "$r/predictions-math23k-test.jsonl" ] || $EM evaluate "$r" $D --split test
done
job export-teacher "$T/onnx" $EM export "$T" $D --limit 200 --out "$T/onnx"
job export-teacher-int8 "$T/onnx-int8" $EM export "$T" --int8 $D --out "$T/onnx-int8"
job export-student "$S/onnx" $EM export "$S" $D --limit 200 --out "$S/onnx"
job export-student-int8 "$S/onnx-int8" $EM export "$S" --int8 $D --out "$S/onnx-int8"
$EM bench "$T/onnx" "$S/onnx" "$T/onnx-int8" "$S/onnx-int8" $D --threads 1 --problems 100 \
  --out bench/results/bench-math23k.json
$EM solve --model "$S/onnx-int8" "一个工厂要生产3000个零件，前6天生产了750个，剩下的要在15天内完成，平均每天生产多少个？"

# Session 2: two more epochs from the 2-epoch teacher (fresh warm-up and decay; ~2 h on one thread).
T4=$RUNS/teacher-math23k-4ep
job teacher-4ep "$T4" $EM train $D --init "$T" --epochs 2 --out "$T4" --resume
[ -f "$T4/predictions-math23k-test.jsonl" ] || $EM evaluate "$T4" $D --split test

# Session 3: two more epochs from the 4-epoch teacher (loss was still falling; ~2 h on one thread).
T6=$RUNS/teacher-math23k-6ep
job teacher-6ep "$T6" $EM train $D --init "$T4" --epochs 2 --out "$T6" --resume
[ -f "$T6/predictions-math23k-test.jsonl" ] || $EM evaluate "$T6" $D --split test
