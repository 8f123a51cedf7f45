#!/usr/bin/env bash
# The README's test command: a fresh virtual environment with the training and test extras,
# then the whole suite (unit tests on tiny random models + integration tests on the real
# encoder and data).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# torch first and pinned: pip takes the CPU build from local disk instead of a CUDA download.
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q -e ".[train,test]"
"$VENV/bin/python" -m pytest -q "$@"
