# Sourced by the device scripts on a bare GPU machine: installs the pinned wheels of .whl/ (the image
# has transformers 5, which dropped head pruning) and lays edgemath out under /tmp/site as its
# wheel would be (pyproject's package-dir), with no build step.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
mkdir -p /tmp/site/edgemath && cp -r edgemath/. /tmp/site/edgemath/ && cp -r export /tmp/site/edgemath/export \
  && cp -r runtime /tmp/site/edgemath/runtime && cp -r models /tmp/site/edgemath/models || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
