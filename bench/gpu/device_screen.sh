#!/usr/bin/env bash
# Runs on the lent GPU machine from the repo root: the teacher-recipe screen of bench/gpu/screen_gpu.py.
# Payload first, here: `bash bench/gpu/prepare_screen.sh`; device call: command
# "bash bench/gpu/device_screen.sh", carry [".gpu", ".whl"], timeout 600 s. RECIPES (NAME=FLAGS;...),
# DATA, FOLDS, PARALLEL, PRETRAIN (GSM8K epochs for "{pretrain}", 0: none) and BUDGET override the defaults below. Brings back every run's manifest and log (no weights).
set -u
T0=$(date +%s)
. bench/gpu/install.sh
mkdir -p runs/minilm data && cp .gpu/minilm/*.json .gpu/minilm/vocab.txt runs/minilm/ \
  && python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.gpu/minilm/model.safetensors.xz'), open('runs/minilm/model.safetensors','wb'))" \
  && { [ ! -f .gpu/data/gsm8k.tgz ] || tar -C data -xzf .gpu/data/gsm8k.tgz; } || exit 1
python3 -P -c "import torch, transformers, edgemath.cli; print(torch.__version__, transformers.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0))" || exit 1
echo "setup $(( $(date +%s) - T0 )) s"
BUDGET=${BUDGET:-500}
export EDGEMATH_DATA=data  # for "+gsm8k" recipes
IFS=';' read -ra RECIPE <<< "${RECIPES:-baseline=;eq4=--equivalents 4;aug-r=--augment resample --epochs 15;aug-d=--augment distractor --epochs 15;su=--stop-unused;gsm8k-init=--init {pretrain}}"  # a later --epochs wins
# shellcheck disable=SC2086
timeout $(( BUDGET - ($(date +%s) - T0) + 90 )) python3 -P bench/gpu/screen_gpu.py --encoder runs/minilm \
  --recipes "${RECIPE[@]}" --data ${DATA:-asdiv-a mawps} --folds ${FOLDS:-0 1 2 3 4} --parallel ${PARALLEL:-15} --pretrain-gsm8k ${PRETRAIN:-3} \
  --budget $(( BUDGET - ($(date +%s) - T0) )) --runs runs/gpu-screen 2>&1 | tee $OUT/log.txt
tar -czf $OUT/screen.tgz runs/gpu-screen/*.log runs/gpu-screen/screen-summary.json \
  runs/gpu-screen/*/manifest.json 2>/dev/null
echo "total $(( $(date +%s) - T0 )) s"; ls -la $OUT
