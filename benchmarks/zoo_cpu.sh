#!/usr/bin/env bash
# The model-zoo chart on this CPU machine: VGG-11/13/16/19, VGG-16-BN (to show batch norm folds away; the other _bn
# variants are drawn at their twin's speed) and AlexNet, at 224x224, batch 8, on eager PyTorch, ONNX Runtime fp32,
# OpenVINO bf16 and OpenVINO int8, each cell in its own process. Random weights: the accuracy axis is torchvision's
# published ImageNet top-1. Run it on a quiet machine (or under the shared machine's lock).
#
#   bash benchmarks/zoo_cpu.sh [extra vgg-deploy zoo options]
#   MACHINE=my-box bash benchmarks/zoo_cpu.sh --duration 10s
#
# Results (zoo.json/md/html/png) -> benchmarks/results/$MACHINE/zoo/; the ~3 GB of artifacts it makes (checkpoints,
# ONNX fp32, INT8 calibrated on 32 digits images with minmax ranges) are cached in out/zoo/ for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. .venv/bin/activate

machine=${MACHINE:-cpu-2core-epyc-avx512vnni}
vgg-deploy zoo --models vgg11,vgg13,vgg16,vgg19,vgg16_bn,alexnet --bn --backends torch,ort,ov-bf16,ov-int8 \
  --batch-sizes 8 --duration 3s --calib-data digits --calib-samples 32 --calib-method minmax \
  --work out/zoo -o "benchmarks/results/$machine/zoo" "$@"
