#!/usr/bin/env bash
# The main job on the CPU: set up, then export VGG-16 to ONNX and verify it against PyTorch.
# Usage: bash scripts/demo.sh [OUT_DIR]   (default: out/)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# shellcheck disable=SC1091
. .venv/bin/activate

out=${1:-out}
mkdir -p "$out"
vgg-deploy info
echo
vgg-deploy export --model vgg16 -o "$out/vgg16.onnx"
