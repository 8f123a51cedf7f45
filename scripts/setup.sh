#!/usr/bin/env bash
# Create .venv (or $VENV) and install edgemath with the given extras, torch pinned first:
# pip then takes the CPU build of torch 2.13.0 from local disk instead of a CUDA download.
#   bash scripts/setup.sh train,test
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q -e ".[${1:-train}]"
