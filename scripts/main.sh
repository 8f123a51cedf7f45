#!/usr/bin/env bash
# The README's "run the main job" command: set up .venv, train the teacher solver on the
# embedded ASDiv-A fold 0 and score it. Extra arguments go to `edgemath train`
# (e.g. --epochs 2 for a quick look).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh train
EM="${VENV:-.venv}/bin/edgemath"
"$EM" train --data asdiv-a:0 --out runs/teacher-asdiv-a-0 "$@"
"$EM" evaluate runs/teacher-asdiv-a-0 --data asdiv-a:0
