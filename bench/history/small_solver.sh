#!/usr/bin/env bash
# Issue "beyond heads", size half (ASDiv-A fold 0): a solver whose int8 files total under 6 MB.
# The 8.6 MB heads 30% + FFN 80% + vocabulary solver is 2.1 MB word embeddings, 3.9 MB encoder
# layers and 2.0 MB decoder (hidden 256). So: a teacher with a 128-wide decoder (0.6 MB int8),
# then more of the encoder pruned (FFN 90%, heads 30-60%; layer dropping cost ~10 points), then
# the vocabulary cut (a wider GSM8K cut, --vocab-min-count 25, for heads 30%: 1.5 MB of embeddings).
# Every student and teacher is exported fp32 and int8 and benched side by side with the original
# teacher in one run. Resumable (finished stages are skipped); QUEUE=a, b or c trains one part,
# QUEUE=d trains and benches the session-5 run (heads 40% + FFN 85% trained through the vocabulary cut),
# QUEUE=e the same student at larger encoder learning rates, QUEUE=f the best of them with another seed (session 6),
# QUEUE=g heads only vs heads + FFN vs heads + FFN + vocabulary from one rebuilt teacher, side by side (session 8).
set -euo pipefail
cd "$(dirname "$0")/../.."
EM=${EM:-.venv/bin/edgemath}
R=${R:-runs/small}
RUNS=${RUNS:-runs}
T=$R/teacher-h128
T0=${T0:-runs/teacher-asdiv-a-0}
mkdir -p "$RUNS/logs"
. bench/jobs.sh
student() {  # NAME VOCAB_MIN_COUNT EPOCHS FLAGS...: compress from the 128-wide teacher, then cut its vocabulary
  local v=$1 min=$2 epochs=$3; shift 3
  while [ ! -f "$T/manifest.json" ]; do sleep 30; done
  job "small-$v" "$R/$v" $EM compress --teacher "$T" --data asdiv-a:0 --alpha 0 --rounds 1 --epochs "$epochs" "$@" --out "$R/$v"
  job "small-$v-v" "$R/$v-v" $EM compress --teacher "$R/$v" --data asdiv-a:0 --prune-heads 0 --prune-vocab \
    --vocab-min-count "$min" --out "$R/$v-v"
}
teacher() { job small-teacher-h128 "$T" $EM train --data asdiv-a:0 --hidden 128 --epochs 30 --out "$T" --resume; }
queue_a() {
  teacher
  student h0.5-f0.9 10 12 --prune-heads 0.5 --prune-ffn 0.9
}
queue_b() { student h0.6-f0.9 10 12 --prune-heads 0.6 --prune-ffn 0.9; }
queue_c() {
  student h0.3-f0.9 25 12 --prune-heads 0.3 --prune-ffn 0.9
  # after the first bench: less FFN pruning, twice the recovery (heads 40% keeps it under 6 MB)
  student h0.4-f0.85-e24 25 24 --prune-heads 0.4 --prune-ffn 0.85
}
cut_teacher() {  # NAME GSM8K_MIN_COUNT: the teacher's vocabulary cut, training tokens seen < 3 times respelled
  job "small-$1" "$R/$1" $EM compress --teacher "$T" --data asdiv-a:0 --prune-heads 0 --prune-vocab \
    --vocab-min-count "$2" --vocab-train-min-count 3 --out "$R/$1"
}
e24() {  # NAME TEACHER FLAGS...: one round x 24 epochs, alpha 0, distilled from TEACHER
  local name=$1 teacher=$2; shift 2
  job "small-$name" "$R/$name" $EM compress --teacher "$teacher" --data asdiv-a:0 --alpha 0 --rounds 1 --epochs 24 \
    "$@" --out "$R/$name"
}
through_cut() {  # NAME FLAGS...: heads 40% + FFN 85%, 24 epochs, from the cut teacher (trains through the cut)
  local name=$1; shift
  e24 "$name" "$R/teacher-h128-v3" --prune-heads 0.4 --prune-ffn 0.85 "$@"
}
queue_d() {  # session 5: the heads 40% + FFN 85% student trained through the vocabulary cut, not cut after
  # the teacher's vocabulary first, rare training words included (tokens seen < 3 times are respelled)
  cut_teacher teacher-h128-v3 15
  through_cut v3-h0.4-f0.85-e24
  # then fewer heads removed (30%), paid for by a harder cut (GSM8K tokens seen 25 times: 2,990 tokens)
  cut_teacher teacher-h128-v3m25 25
  e24 v3m25-h0.3-f0.85-e24 "$R/teacher-h128-v3m25" --prune-heads 0.3 --prune-ffn 0.85
}
queue_e() {  # session 6: the same student with a larger encoder learning rate (compress's 2e-5 is a fine-tuning rate;
  # the teacher trained at 8e-5, and 85% of the FFN gone asks more of the encoder)
  local elr
  for elr in 8e-05 2e-04; do
    OMP_NUM_THREADS=1 through_cut "v3-h0.4-f0.85-e24-elr$elr" --encoder-lr "$elr" &
  done
  wait
}
queue_f() {  # session 6: the 2e-4 student again with another seed (batch order, pruning refreshes)
  OMP_NUM_THREADS=1 through_cut v3-h0.4-f0.85-e24-elr2e-04-s1 --encoder-lr 2e-4 --seed 1
}
queue_g() {  # session 8: the issue's three variants at the same head ratio, compress's default encoder rate (2e-4)
  teacher
  cut_teacher teacher-h128-v3 15
  OMP_NUM_THREADS=1 through_cut g-h0.4-f0.85-v &
  OMP_NUM_THREADS=1 e24 g-h0.4-f0.85 "$T" --prune-heads 0.4 --prune-ffn 0.85 &
  wait
  OMP_NUM_THREADS=1 e24 g-h0.4 "$T" --prune-heads 0.4
}
exports() {  # RUN...: export each fp32 and int8 (once), print the export folders
  for run in "$@"; do
    job "export-$(basename "$run")-fp32" "$run/export-fp32" $EM export "$run" --out "$run/export-fp32" >&2
    job "export-$(basename "$run")-int8" "$run/export-int8" $EM export "$run" --int8 --max-int8-drop 100 \
      --out "$run/export-int8" >&2
    echo "$run/export-fp32" "$run/export-int8"
  done
}
case "${QUEUE:-all}" in
  a) queue_a ;;
  b) queue_b ;;
  c) queue_c ;;
  d) queue_d
     $EM bench $(exports "$T0" "$R/h0.4-f0.85-e24-v" "$R/v3-h0.4-f0.85-e24" "$R/v3m25-h0.3-f0.85-e24") --data asdiv-a:0 \
       --threads 1 --problems 238 --out bench/results/history/small-solver-d-asdiv-a-0.json
     exit 0 ;;
  e) queue_e
     $EM bench $(exports "$T0" "$R/v3-h0.4-f0.85-e24" "$R/v3-h0.4-f0.85-e24-elr8e-05" "$R/v3-h0.4-f0.85-e24-elr2e-04") \
       --data asdiv-a:0 --threads 1 --problems 238 --out bench/results/history/small-solver-e-asdiv-a-0.json
     exit 0 ;;
  f) queue_f
     $EM bench $(exports "$T0" "$R/v3-h0.4-f0.85-e24-elr2e-04" "$R/v3-h0.4-f0.85-e24-elr2e-04-s1") --data asdiv-a:0 \
       --threads 1 --problems 238 --out bench/results/history/small-solver-f-asdiv-a-0.json
     exit 0 ;;
  g) queue_g
     $EM bench $(exports "$T0" "$T" "$R/g-h0.4" "$R/g-h0.4-f0.85" "$R/g-h0.4-f0.85-v") --data asdiv-a:0 \
       --threads 1 --problems 238 --out bench/results/history/small-solver-g-asdiv-a-0.json
     exit 0 ;;
  *) queue_a & queue_b & queue_c & wait ;;
esac
[ "${QUEUE:-all}" = all ] || exit 0
$EM bench $(exports "$T0" "$T" "$R/h0.5-f0.9-v" "$R/h0.6-f0.9-v" "$R/h0.3-f0.9-v") --data asdiv-a:0 --threads 1 \
  --problems 238 --out bench/results/history/small-solver-asdiv-a-0.json
# the later student, side by side with the original teacher
$EM bench $(exports "$T0" "$R/h0.4-f0.85-e24-v") --data asdiv-a:0 --threads 1 --problems 238 \
  --out bench/results/history/small-solver-e24-asdiv-a-0.json
