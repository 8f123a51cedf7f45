#!/usr/bin/env bash
# Builds the payload bench/gpu/device_screen.sh needs on a bare GPU machine that cannot reach the
# network, inside a 64 MiB working-tree limit: the pinned transformers/tokenizers/huggingface_hub
# wheels (the image has transformers 5, which dropped head pruning), MiniLM as fp16 + xz with the
# rows of unused tokens zeroed (bench/gpu/pack_minilm.py, ~26 MiB), and GSM8K for "+gsm8k" recipes.
# Both folders are ignored by git (.git/info/exclude) and named in the device call's `carry`.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || printf '/.whl/\n/.gpu/\n' >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_17_x86_64 -d .whl transformers==4.57.6 tokenizers==0.22.2 huggingface_hub==0.36.0
[ -f .gpu/minilm/model.safetensors.xz ] || ${PY:-.venv/bin/python} bench/gpu/pack_minilm.py .gpu/minilm
mkdir -p .gpu/data
tar -C "${DATA:-../shared/data}" -czf .gpu/data/gsm8k.tgz gsm8k/train.jsonl gsm8k/test.jsonl gsm8k/PROVENANCE.md
du -sh .whl .gpu
