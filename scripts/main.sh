#!/usr/bin/env bash
# The README's "run the main job" command: set up .venv, then `edgemath demo` on the embedded
# data (teacher on a subset -> compress -> export int8 -> solve with the torch-free runtime),
# about 5 minutes on 2 CPU cores. Extra arguments go to `edgemath demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh train
"${VENV:-.venv}/bin/edgemath" demo "$@"
