#!/usr/bin/env bash
# The trained digits VGG (vgg_digits, 1x32x32, 10 classes) served by a real Triton (vgg-deploy serve, ONNX Runtime
# behind Triton's dynamic batcher) on 127.0.0.1, load-tested over HTTP and gRPC with 8 concurrent clients sending
# 2,000 single-image requests per protocol. Run it on a quiet machine.
#
#   bash benchmarks/loadtest_digits.sh
#   MACHINE=my-box bash benchmarks/loadtest_digits.sh
#
# Needs .venv (training and export: torch) and .venv-serve (serving: bash scripts/setup_serve_env.sh).
# Reports (loadtest.json, loadtest.md) -> benchmarks/results/$MACHINE/loadtest/{http,grpc}/; the model is cached in
# out/loadtest/. Every wait is bounded; the server is stopped with SIGINT at the end, or on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

machine=${MACHINE:-cpu-2core-epyc-avx512vnni}
results="benchmarks/results/$machine/loadtest"
work=out/loadtest
serve_cli=${VGG_DEPLOY_SERVE_CLI:-.venv-serve/bin/vgg-deploy}
ports=(18100 18101 18102)  # HTTP, gRPC, metrics
mkdir -p "$work" "$results"

if [ ! -f "$work/vgg_digits.onnx" ]; then
  .venv/bin/python scripts/train_digits.py -o "$work/vgg_digits.pth"
  .venv/bin/vgg-deploy export --model vgg_digits --weights "$work/vgg_digits.pth" -o "$work/vgg_digits.onnx"
fi

"$serve_cli" serve "$work/vgg_digits.onnx" --name vgg_digits --host 127.0.0.1 --http-port "${ports[0]}" \
  --grpc-port "${ports[1]}" --metrics-port "${ports[2]}" --max-batch 32 --max-queue-delay-us 2000 \
  > "$work/serve.log" 2>&1 &
server=$!
trap 'kill -INT "$server" 2>/dev/null || true; wait "$server" || true' EXIT
for _ in $(seq 240); do  # up to 120 s for Triton to start
  grep -q "^serving vgg_digits" "$work/serve.log" && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.5
done
grep -q "^serving vgg_digits" "$work/serve.log" || { echo "serve did not start" >&2; exit 1; }

"$serve_cli" loadtest "127.0.0.1:${ports[0]}" --protocol http --concurrency 8 --requests 2000 --batch-size 1 \
  --metrics-url "http://127.0.0.1:${ports[2]}/metrics" --timeout 120 -o "$results/http"
"$serve_cli" loadtest "127.0.0.1:${ports[1]}" --protocol grpc --concurrency 8 --requests 2000 --batch-size 1 \
  --metrics-url "http://127.0.0.1:${ports[2]}/metrics" --timeout 120 -o "$results/grpc"
