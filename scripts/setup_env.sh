#!/usr/bin/env bash
# Create or reuse .venv in the repository and install vgg-deploy for the CPU.
# torch's CPU build goes in first, so pip never pulls a multi-GB CUDA build on a machine without a GPU.
# Set TORCH_INDEX_URL (e.g. PyTorch's CPU wheel index) where PyPI's torch is a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate

stamp=.venv/.vgg-deploy-installed
want="$(cat setup.py | sha256sum | cut -c1-16) torch=$TORCH_VERSION"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && python -c "import vgg_deploy, torch" 2>/dev/null; then
  exit 0
fi

echo "[setup] installing into .venv (torch $TORCH_VERSION CPU build first, then vgg-deploy[dev,modelopt])" >&2
python -m pip install --quiet --upgrade pip
if ! python -c "import torch, sys; sys.exit(not torch.__version__.startswith('$TORCH_VERSION'))" 2>/dev/null; then
  python -m pip install --quiet ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==$TORCH_VERSION"
fi
# [modelopt]: NVIDIA ModelOpt's INT8 quantizer, so its tests run here (they skip where it is absent)
python -m pip install --quiet -e ".[dev,modelopt]"
echo "$want" > "$stamp"
