#!/usr/bin/env bash
# Issue 3 experiments on ASDiv-A fold 0 (and the fold-0 teachers of issue 2), resumable:
# a job whose output already has a manifest.json is skipped. Two queues run side by side with
# one thread each (better throughput than one queue on two threads on a 2-core machine).
#   bash bench/asdiv_compress.sh            # everything
#   QUEUE=a bash bench/asdiv_compress.sh    # only queue a (or b)
set -uo pipefail
cd "$(dirname "$0")/../.."
EM=${EM:-.venv/bin/edgemath}
RUNS=${RUNS:-runs}
TEACHER=${TEACHER:-$RUNS/teacher-asdiv-a-0}
mkdir -p "$RUNS/logs"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

. bench/jobs.sh

# 30%/50% with 3 recursive rounds of 2 epochs; ablation rows get the same 6 epochs in one round.
C="$EM compress --teacher $TEACHER --data asdiv-a:0 --epochs 2"
queue_a() {
  job teacher-asdiv-a-0 "$TEACHER" $EM train --data asdiv-a:0 --out "$TEACHER" --epochs 30
  job teacher-mawps-0 "$RUNS/teacher-mawps-0" $EM train --data mawps:0 --out "$RUNS/teacher-mawps-0" --epochs 25
  job alpha0.0 "$RUNS/c30-alpha0.0" $C --prune-heads 0.3 --rounds 3 --alpha 0.0 --out "$RUNS/c30-alpha0.0"
  job alpha1.0 "$RUNS/c30-alpha1.0" $C --prune-heads 0.3 --rounds 3 --alpha 1.0 --out "$RUNS/c30-alpha1.0"
  job alpha0.3 "$RUNS/c30-alpha0.3" $C --prune-heads 0.3 --rounds 3 --alpha 0.3 --out "$RUNS/c30-alpha0.3"
}
queue_b() {
  while [ ! -f "$TEACHER/manifest.json" ]; do sleep 30; done
  job c30 "$RUNS/c30-alpha0.5" $C --prune-heads 0.3 --rounds 3 --alpha 0.5 --out "$RUNS/c30-alpha0.5"
  job c50 "$RUNS/c50-alpha0.5" $C --prune-heads 0.5 --rounds 3 --alpha 0.5 --out "$RUNS/c50-alpha0.5"
  job prune-only "$RUNS/c30-prune-only" $EM compress --teacher "$TEACHER" --data asdiv-a:0 --epochs 6 --prune-heads 0.3 --rounds 1 --no-distill --out "$RUNS/c30-prune-only"
  job one-round "$RUNS/c30-one-round" $EM compress --teacher "$TEACHER" --data asdiv-a:0 --epochs 6 --prune-heads 0.3 --rounds 1 --out "$RUNS/c30-one-round"
  job alpha0.7 "$RUNS/c30-alpha0.7" $C --prune-heads 0.3 --rounds 3 --alpha 0.7 --out "$RUNS/c30-alpha0.7"
}
# After the first results: a single round with 6 epochs kept the teacher's accuracy at 30%,
# while 3 rounds of 2 epochs lost 4.6 points; these rows test 50% with both budgets.
queue_c() {
  job c50-one-round "$RUNS/c50-one-round" $EM compress --teacher "$TEACHER" --data asdiv-a:0 --epochs 6 --prune-heads 0.5 --rounds 1 --out "$RUNS/c50-one-round"
  job c50-rec4 "$RUNS/c50-rec4" $EM compress --teacher "$TEACHER" --data asdiv-a:0 --epochs 4 --prune-heads 0.5 --rounds 3 --out "$RUNS/c50-rec4"
  job c50-one-round-alpha0.0 "$RUNS/c50-one-round-alpha0.0" $EM compress --teacher "$TEACHER" --data asdiv-a:0 --epochs 6 --prune-heads 0.5 --rounds 1 --alpha 0.0 --out "$RUNS/c50-one-round-alpha0.0"
}
# Controls: is the score better than chance, and what does the other entropy sign do?
queue_d() {
  job c30-random "$RUNS/c30-one-round-random" $EM compress --teacher "$TEACHER" --data asdiv-a:0 --epochs 6 --prune-heads 0.3 --rounds 1 --scorer random --out "$RUNS/c30-one-round-random"
  job c50-entropy-high "$RUNS/c50-one-round-alpha0.0-high" $EM compress --teacher "$TEACHER" --data asdiv-a:0 --epochs 6 --prune-heads 0.5 --rounds 1 --alpha 0.0 --entropy-sign high --out "$RUNS/c50-one-round-alpha0.0-high"
}
case "${QUEUE:-both}" in
  a) queue_a ;;
  b) queue_b ;;
  c) queue_c ;;
  d) queue_d ;;
  *) queue_a & { queue_b; queue_c; } & wait ;;
esac
