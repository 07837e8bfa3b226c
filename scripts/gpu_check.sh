#!/usr/bin/env bash
# GPU validation in one run (issue 6): each step has its own deadline and writes its results under $OUT as soon
# as it finishes, so a run cut short still says what it found. At most ~4 minutes on an H100/H200.
#
#   OUT=/path bash scripts/gpu_check.sh              # on the GPU machine (torch with CUDA already installed)
#   bash scripts/gpu_check.sh --dry-run              # rehearsal on the CPU: the same steps, tiny sizes, .venv
#
# On the GPU machine the project is installed with `pip install --no-deps --no-build-isolation -e .`; wheels the
# image lacks (e.g. onnxconverter-common) can be put in $WHEELS (a folder carried along) and are installed first.
# Steps: 1. vgg-deploy info --json; 2. pytest -m gpu (torch CUDA modes vs the CPU fp32 reference, the cuda-python
# memory layer without TensorRT), then pytest -m trt (the TensorRT flows with parity); 3. vgg-deploy bench --device
# cuda on VGG-16, batch 1/8/32/128, copies excluded; 4. the same with copies included; 5. ONNX Runtime on the
# machine's CPU cores, for contrast.
set -uo pipefail
cd "$(dirname "$0")/.."

dry=0
[ "${1:-}" = "--dry-run" ] && dry=1
out=${OUT:-out/gpu-check}
mkdir -p "$out"
: > "$out/steps.txt"

if [ "$dry" = 1 ]; then
  bash scripts/setup_env.sh
  # shellcheck disable=SC1091
  . .venv/bin/activate
  model=(--model vgg_tiny) device=cpu sizes=1,2 timing=(--iterations 3 --warmup 1)
  gpu_backends=torch,torch-cl,torch-bf16 copy_backends=torch ort_sizes=1,2
else
  if [ -n "${WHEELS:-}" ] && compgen -G "$WHEELS/*.whl" > /dev/null; then
    python -m pip install --no-deps --quiet "$WHEELS"/*.whl > "$out/install.log" 2>&1
  fi
  python -m pip install --no-deps --no-build-isolation --quiet -e . >> "$out/install.log" 2>&1
  model=(--model vgg16) device=cuda sizes=1,8,32,128 timing=(--duration 1s --warmup 3)
  gpu_backends=torch,torch-tf32,torch-fp16,torch-bf16,torch-cl copy_backends=torch,torch-fp16,torch-bf16 ort_sizes=1,8
fi

step() {  # step NAME SECONDS COMMAND...: run with a deadline, log to $out/NAME.log, record rc and time
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  echo "$name rc=$rc $(( $(date +%s) - start ))s (limit ${limit}s)" | tee -a "$out/steps.txt"
}

step info 20 vgg-deploy info --json
cp "$out/info.log" "$out/info.json" 2>/dev/null
step gpu-tests 60 python -m pytest -m gpu -p no:cacheprovider -rs --junitxml="$out/gpu-tests.xml"
# The TensorRT user flows (tests/test_trt_flows.py): on real TensorRT when it imports, else on the stand-in.
step trt-flows 180 python -m pytest -m trt -p no:cacheprovider -rs -s --junitxml="$out/trt-flows.xml"
step bench-gpu 100 vgg-deploy bench "${model[@]}" --device "$device" --backends "$gpu_backends" \
  --batch-sizes "$sizes" "${timing[@]}" --data synthetic --eval-samples 16 --work "$out/work" -o "$out/bench-gpu"
step bench-gpu-copies 40 vgg-deploy bench "${model[@]}" --device "$device" --backends "$copy_backends" \
  --batch-sizes "$sizes" "${timing[@]}" --data synthetic --eval-samples 16 --include-copies --no-peak \
  --work "$out/work" -o "$out/bench-gpu-copies"
step bench-ort-cpu 40 vgg-deploy bench "${model[@]}" --backends torch,ort --batch-sizes "$ort_sizes" \
  "${timing[@]}" --data synthetic --eval-samples 16 --work "$out/work" -o "$out/bench-ort-cpu"
rm -rf "$out/work"  # the 0.5 GB of weights and ONNX made on the way: not results
echo "results: $out (steps.txt, info.json, gpu-tests.xml, bench-*/report.{json,md,html})"
