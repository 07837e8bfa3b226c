#!/usr/bin/env bash
# Create or reuse .venv-serve: the serving venv (PyTriton needs numpy < 2, so it cannot share .venv).
# Holds vgg-deploy without torch (--no-deps) plus what serving needs: ONNX Runtime, PyTriton, tritonclient's
# HTTP and gRPC clients, pytest. Set VGG_DEPLOY_SERVE_VENV to put it elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VGG_DEPLOY_SERVE_VENV:-.venv-serve}
REQS=("numpy>=1.26,<2" "onnxruntime>=1.18" "onnx>=1.16" "nvidia-pytriton==0.7.0" "tritonclient[grpc,http]>=2.50" \
      "Pillow>=10" "click>=8.1" "pytest>=8")
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp=$VENV/.vgg-deploy-serve-installed
want="$(printf '%s\n' "${REQS[@]}" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && "$VENV/bin/python" -c "import vgg_deploy, pytriton, tritonclient.grpc" 2>/dev/null; then
  exit 0
fi
echo "[setup] installing the serving venv $VENV (numpy<2, onnxruntime, nvidia-pytriton, tritonclient)" >&2
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "${REQS[@]}"
"$VENV/bin/python" -m pip install --quiet --no-deps -e .
echo "$want" > "$stamp"
