#!/usr/bin/env bash
# VGG-16 at 224x224 (random weights: speed and parity only) on every CPU backend at batch 1 and 8, each backend
# in its own process, with the machine's peak measured in the same run. Run it on a quiet machine.
#
#   bash benchmarks/bench_vgg16_cpu.sh [extra vgg-deploy bench options]
#   MACHINE=my-box bash benchmarks/bench_vgg16_cpu.sh --duration 20s
#
# Report (JSON, Markdown, HTML, charts) -> benchmarks/results/$MACHINE/bench-vgg16/; the 0.5 GB artifacts it makes
# (ONNX fp32/fp16, INT8 in both schemes, calibrated on 32 digits images with minmax ranges, as precision_cpu.py)
# are cached in out/bench-vgg16/ and reused by the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. .venv/bin/activate

machine=${MACHINE:-cpu-2core-epyc-avx512vnni}
vgg-deploy bench --model vgg16 --backends cpu --batch-sizes 1,8 --duration 10s --warmup 2 \
  --calib-data digits --calib-samples 32 --calib-method minmax --eval-samples 16 \
  --work out/bench-vgg16 -o "benchmarks/results/$machine/bench-vgg16" "$@"
