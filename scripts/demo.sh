#!/usr/bin/env bash
# The main job on the CPU, real data, no download:
#   train the small block-config VGG on scikit-learn's digits, export it, make its FP16 and INT8 variants
#   (TensorRT and CPU Q/DQ schemes) calibrated on the digits as an image folder, then export VGG-16.
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
echo "== 1. train vgg_digits on scikit-learn's digits"
python scripts/train_digits.py -o "$out/vgg_digits.pth"
echo
echo "== 2. export to ONNX (verified against PyTorch)"
vgg-deploy export --model vgg_digits --weights "$out/vgg_digits.pth" -o "$out/vgg_digits.onnx"
echo
echo "== 3. precision variants (held-out parity against fp32)"
[ -d "$out/digits_images" ] || vgg-deploy digits -o "$out/digits_images"
for target in tensorrt cpu; do
  vgg-deploy quantize --onnx "$out/vgg_digits.onnx" --precision int8 --target "$target" \
    --calib-data "$out/digits_images" -o "$out/vgg_digits.int8.$target.onnx"
done
vgg-deploy quantize --onnx "$out/vgg_digits.onnx" --precision fp16 --calib-data "$out/digits_images" \
  -o "$out/vgg_digits.fp16.onnx"
echo
echo "== 4. VGG-16 at 224x224 (random weights): export and parity"
vgg-deploy export --model vgg16 -o "$out/vgg16.onnx"
echo
ls -l "$out"/*.onnx
