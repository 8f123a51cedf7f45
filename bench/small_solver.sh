#!/usr/bin/env bash
# Issue "beyond heads", size half (ASDiv-A fold 0): a solver whose int8 files total under 6 MB.
# The 8.6 MB heads 30% + FFN 80% + vocabulary solver is 2.1 MB word embeddings, 3.9 MB encoder
# layers and 2.0 MB decoder (hidden 256). So: a teacher with a 128-wide decoder, then more of the
# encoder pruned (heads 50-60%, FFN 90%; layer dropping cost ~10 points), then the vocabulary cut.
# Resumable (finished stages are skipped); QUEUE=a or b runs one half (two 1-thread queues).
set -euo pipefail
cd "$(dirname "$0")/.."
EM=${EM:-.venv/bin/edgemath}
R=${R:-runs/small}
RUNS=${RUNS:-runs}
T=$R/teacher-h128
mkdir -p "$RUNS/logs"
. bench/jobs.sh
student() {  # NAME FLAGS...: compress from the 128-wide teacher, then cut its vocabulary
  local v=$1; shift
  while [ ! -f "$T/manifest.json" ]; do sleep 30; done
  job "small-$v" "$R/$v" $EM compress --teacher "$T" --data asdiv-a:0 --alpha 0 --rounds 1 --epochs 12 "$@" --out "$R/$v"
  job "small-$v-v" "$R/$v-v" $EM compress --teacher "$R/$v" --data asdiv-a:0 --prune-heads 0 --prune-vocab \
    --vocab-min-count 10 --out "$R/$v-v"
  job "export-small-$v-v-int8" "$R/$v-v/export-int8" $EM export "$R/$v-v" --int8 --max-int8-drop 100 --out "$R/$v-v/export-int8"
}
queue_a() {
  job small-teacher-h128 "$T" $EM train --data asdiv-a:0 --hidden 128 --epochs 30 --out "$T" --resume
  job export-small-teacher-int8 "$T/export-int8" $EM export "$T" --int8 --max-int8-drop 100 --out "$T/export-int8"
  student h0.5-f0.9 --prune-heads 0.5 --prune-ffn 0.9
}
queue_b() { student h0.6-f0.9 --prune-heads 0.6 --prune-ffn 0.9; }
case "${QUEUE:-both}" in
  a) queue_a ;;
  b) queue_b ;;
  *) queue_a & queue_b & wait ;;
esac
