#!/usr/bin/env bash
# Builds the payload bench/gpu/device_run.sh needs on a bare GPU machine that cannot reach the
# network, inside a 64 MiB working-tree limit: the pinned transformers/tokenizers/huggingface_hub
# wheels (the image has transformers 5, which dropped head pruning), the e5 encoder (xz, lossless:
# its weights came from 4-bit blocks, 105 -> 23 MB) and the three Math23k files.
# Both folders are ignored by git (.git/info/exclude) and named in the device call's `carry`.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || printf '/.whl/\n/.gpu/\n' >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_17_x86_64 -d .whl transformers==4.57.6 tokenizers==0.22.2 huggingface_hub==0.36.0
mkdir -p .gpu/e5 .gpu/data
cp runs/e5-math23k/{config.json,tokenizer.json,manifest.json} .gpu/e5/
xz -T2 -6 -c runs/e5-math23k/model.safetensors > .gpu/e5/model.safetensors.xz
tar -C "${DATA:-../shared/data}" -czf .gpu/data/math23k.tgz math23k/Math_23K.json math23k/math23k_test.json \
  math23k/valid23k_processed.json math23k/PROVENANCE.md
du -sh .whl .gpu
