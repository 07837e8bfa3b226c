#!/usr/bin/env bash
# Set up (or reuse) .venv, then run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# shellcheck disable=SC1091
. .venv/bin/activate
# C++ embedding (cpp/, issue 13): build vgg_infer with OpenVINO from .venv's wheel and run its CTest tests (unit
# tests, also under ASan/UBSan; vgg_infer vs the Python OpenVINO runner on the trained digits model; the checks
# against the mock TensorRT header). CI fails, rather than skips, when cmake, OpenVINO or libpng/libjpeg is missing;
# on a fresh Debian/Ubuntu machine run as root, the build tools and decoder headers are installed first.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
   ! { command -v cmake >/dev/null && command -v c++ >/dev/null && [ -f /usr/include/png.h ] && [ -f /usr/include/jpeglib.h ]; }; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake g++ libpng-dev libjpeg-dev
fi
cmake -S cpp -B cpp/build -DVGG_DEPLOY_WERROR=ON -DVGG_DEPLOY_WITH_OPENVINO=ON
cmake --build cpp/build -j "$(nproc 2>/dev/null || echo 2)"
ctest --test-dir cpp/build --output-on-failure
# mypy on the whole package, the TensorRT code against the published TensorRT 10.13 stubs (no TensorRT needed): a misspelled
# TensorRT method or a wrong argument type fails here. See scripts/typecheck.sh.
bash scripts/typecheck.sh
# Serving (triton-repo, serve, loadtest): PyTriton needs numpy < 2, so it has its own venv (.venv-serve, made by
# scripts/setup_serve_env.sh; about a minute the first time). Its tests start a real Triton on 127.0.0.1 and take
# about 20 s; they run first so the main suite's summary stays last. VGG_DEPLOY_SKIP_SERVE=1 skips them.
if [ "${VGG_DEPLOY_SKIP_SERVE:-0}" != 1 ]; then
    bash scripts/setup_serve_env.sh
    VGG_DEPLOY_MAIN_PYTHON="$PWD/.venv/bin/python" .venv-serve/bin/python -m pytest --noconftest -p no:cacheprovider \
        tests/test_triton_repo.py tests/test_serve_units.py tests/test_serve.py tests/test_serve_trt.py
fi
exec python -m pytest "$@"
