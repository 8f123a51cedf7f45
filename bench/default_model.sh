#!/usr/bin/env bash
# The recipe of the shipped models/default (issue "runtime"): teacher on the whole
# MAWPS + ASDiv-A pool, heads compressed with recursive distillation, int8 export.
# Resumable: a finished stage (manifest.json present) is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
EM=${EM:-.venv/bin/edgemath}
RUNS=${RUNS:-runs}
[ -f "$RUNS/teacher-pool/manifest.json" ] || $EM train --data mawps-asdiv-a --out "$RUNS/teacher-pool" --epochs 20
[ -f "$RUNS/student-pool/manifest.json" ] || $EM compress --teacher "$RUNS/teacher-pool" --data mawps-asdiv-a \
    --prune-heads 0.5 --rounds 3 --epochs 2 --out "$RUNS/student-pool"
$EM export "$RUNS/student-pool" --out models/default --int8
