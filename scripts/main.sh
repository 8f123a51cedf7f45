#!/usr/bin/env bash
# The README's "run the main job" command: set up a virtual environment, train the teacher
# solver on the embedded ASDiv-A fold 0 and score it. Extra arguments go to `edgemath train`
# (e.g. --epochs 2 for a quick look).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q -e ".[train]"
"$VENV/bin/edgemath" train --data asdiv-a:0 --out runs/teacher-asdiv-a-0 "$@"
"$VENV/bin/edgemath" evaluate runs/teacher-asdiv-a-0 --data asdiv-a:0
