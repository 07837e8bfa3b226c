#!/usr/bin/env bash
# The main job on the CPU, real data, no download:
#   train the small block-config VGG on scikit-learn's digits, export it, make its FP16 and INT8 variants
#   (TensorRT and CPU Q/DQ schemes) calibrated on the digits as an image folder, then benchmark every CPU backend
#   against eager fp32 on the held-out digits (speed, latency, memory, parity, accuracy) and write the report.
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
python scripts/train_digits.py -o "$out/vgg_digits.safetensors" --test-npz "$out/digits_test.npz"
echo
echo "== 2. export to ONNX (verified against PyTorch)"
vgg-deploy export --model vgg_digits --weights "$out/vgg_digits.safetensors" -o "$out/vgg_digits.onnx"
echo
echo "== 3. precision variants (held-out parity against fp32)"
[ -d "$out/digits_images" ] || vgg-deploy digits -o "$out/digits_images"
for target in tensorrt cpu; do
  vgg-deploy quantize "$out/vgg_digits.onnx" --precision int8 --target "$target" \
    --calib-data "$out/digits_images" -o "$out/vgg_digits.int8.$target.onnx"
done
vgg-deploy quantize "$out/vgg_digits.onnx" --precision fp16 --calib-data "$out/digits_images" \
  -o "$out/vgg_digits.fp16.onnx"
echo
echo "== 4. bench every CPU backend against eager fp32 on the held-out digits"
vgg-deploy bench "$out/vgg_digits.safetensors" "$out/vgg_digits.onnx" "$out/vgg_digits.fp16.onnx" \
  "$out/vgg_digits.int8.tensorrt.onnx" "$out/vgg_digits.int8.cpu.onnx" \
  --data "$out/digits_test.npz" --backends cpu --batch-sizes 1,32 --duration 1s -o "$out/bench-digits"
