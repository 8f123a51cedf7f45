#!/usr/bin/env bash
# Issue "Math23k at 75%", the CPU plan: one e5 teacher (numbers isolated in the tokenizer, the encoder's
# first LAYERS layers) trained in resumable pieces of BUDGET minutes, across sessions, then scored and its
# errors classified. Rerun the same command until it prints the scores; every stage is skipped once done.
#   LAYERS=6 EPOCHS=8 BUDGET=150 THREADS=2 bash bench/math23k_cpu.sh
#   ... OUT=runs/math23k-iso-pf-l6-e8 EXTRA=--percent-fraction bash bench/math23k_cpu.sh   (67.4% test)
#   ... OUT=runs/math23k-iso-pf-sl1-l6-e8 EXTRA="--percent-fraction --step-layers 1" bash bench/math23k_cpu.sh   (73.6% test; the teacher of reports/math23k)
#   LAYERS=6 EPOCHS=12 BUDGET=170 THREADS=2 OUT=runs/math23k-iso-pf-sl1-l6-e12 EXTRA="--percent-fraction --step-layers 1" bash bench/math23k_cpu.sh   (76.2% test; 125 min at two threads)
# Step cost (bench/results/train-step-math23k-layers.json): an epoch of 1,312 steps is ~59 one-thread
# minutes at 12 layers, 0.61x that at 6 and 0.45x at 4. A piece ends after the first epoch past BUDGET;
# a run killed inside an epoch (a session's end) loses at most --save-every's 10 minutes: rerun to go on.
# Dev decides (best epoch); the test split is scored once, at the end, greedy and beam 5. Then the
# student with 30% of heads removed, distilled from it (one round of CEPOCHS, pieces of BUDGET minutes
# too: compress resumes inside a round), scored the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
EM=${EM:-.venv/bin/edgemath}
RUNS=${RUNS:-runs}
LAYERS=${LAYERS:-6} EPOCHS=${EPOCHS:-8} BUDGET=${BUDGET:-150}
export OMP_NUM_THREADS=${THREADS:-1}
D="--data math23k --data-dir ${DATA:-../shared/data}"
E=$RUNS/e5-math23k-iso
T=${OUT:-$RUNS/math23k-iso-l$LAYERS-e$EPOCHS}
mkdir -p "$RUNS/logs"
. bench/jobs.sh

job e5-iso "$E" $EM import-e5 --out "$E" --vocab-from math23k --isolate-numbers --data-dir "${DATA:-../shared/data}"
piece() {  # piece WHAT OUT CMD...: a piece of BUDGET minutes of a resumable run, until OUT has a manifest
  local what=$1 out=$2; shift 2
  [ -f "$out/manifest.json" ] && return 0
  echo "$(date +%T) $what $out: a piece of $BUDGET min (log $out.log)"
  # exit 0 with no manifest: stopped on the budget, state saved; the next run goes on
  "$@" --out "$out" --resume --time-budget "$BUDGET" >> "$out.log" 2>&1 || true
  [ -f "$out/manifest.json" ] || { tail -n 2 "$out.log"; echo "not finished: rerun to go on"; exit 0; }
}
piece teacher "$T" $EM train $D --encoder "$E" --encoder-layers "$LAYERS" --const-min-count 10 --epochs "$EPOCHS" ${EXTRA:-}

score() {  # score RUN: dev and test, greedy and beam 5, once; then the errors by cause
  local run=$1 name split p
  name=$(basename "$run")
  for split in dev test; do
    p=$run/predictions-math23k-$split.jsonl  # greedy; beam 5 beside it (-beam5)
    [ -f "$p" ] || $EM evaluate "$run" $D --split "$split" --beam 1 --beam 5 | tee "$run/scores-$split.jsonl"
    .venv/bin/python bench/error_classes.py "$p" --data math23k --split "$split" --run "$run" --examples 3 \
      --json "bench/results/math23k-errors-$name-$split.json" > "$run/errors-$split.md"
    head -n 20 "$run/errors-$split.md"
  done
}
score "$T"
# decoding alone, on dev: other stop thresholds, everywhere or only while text numbers are left unused
j=bench/results/math23k-stop-$(basename "$T").json
[ -f "$j" ] || .venv/bin/python bench/stop_threshold.py "$T:math23k" --thresholds 0.5 0.7 0.9 \
  --unused-thresholds 0.7 0.9 0.99 --beam 5 --out "$j"

S=$T-h0.3-kd
piece student "$S" $EM compress --teacher "$T" $D --prune-heads 0.3 --rounds 1 --epochs "${CEPOCHS:-2}" --alpha 0
score "$S"
