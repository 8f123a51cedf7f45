#!/usr/bin/env bash
# Runs on the lent GPU machine from the repo root (payload: bash bench/gpu/prepare.sh here first;
# device call: command "bash bench/gpu/device_run.sh", carry [".gpu", ".whl"], timeout 600 s).
# Installs the pinned packages the image lacks, lays edgemath out as its wheel would, unpacks the
# encoder and data, runs the budgeted pipeline, and brings back results and one checkpoint.
set -u
T0=$(date +%s)
. bench/gpu/install.sh
mkdir -p runs/e5-math23k data && cp .gpu/e5/*.json runs/e5-math23k/ \
  && python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.gpu/e5/model.safetensors.xz'), open('runs/e5-math23k/model.safetensors','wb'))" \
  && tar -C data -xzf .gpu/data/math23k.tgz || exit 1
sha256sum runs/e5-math23k/model.safetensors
python3 -P -c "import torch, transformers, tokenizers, edgemath.cli; print(torch.__version__, transformers.__version__, tokenizers.__version__, edgemath.cli.__file__, torch.cuda.is_available() and torch.cuda.get_device_name(0))" || exit 1
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
echo "setup $(( $(date +%s) - T0 )) s"
timeout $(( ${BUDGET:-530} - ($(date +%s) - T0) + 15 )) python3 -P bench/gpu/math23k_gpu.py --encoder runs/e5-math23k \
  --data-dir data --runs runs/gpu --budget $(( ${BUDGET:-530} - ($(date +%s) - T0) )) "$@" 2>&1 | tee $OUT/log.txt
tar -czf $OUT/results.tgz runs/gpu/*.log runs/gpu/gpu-summary.json runs/gpu/*/manifest.json runs/gpu/*/predictions-*.jsonl 2>/dev/null
python3 -P bench/gpu/pack.py runs/gpu $OUT
echo "total $(( $(date +%s) - T0 )) s"; ls -la $OUT
