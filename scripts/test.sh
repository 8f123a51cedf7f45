#!/usr/bin/env bash
# The README's test command: set up .venv with the training and test extras, then run the
# whole suite (unit tests on tiny random models + integration tests on the real encoder/data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh train,test
"${VENV:-.venv}/bin/python" -m pytest -q "$@"
