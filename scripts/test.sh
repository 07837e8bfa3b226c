#!/usr/bin/env bash
# Set up (or reuse) .venv, then run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# shellcheck disable=SC1091
. .venv/bin/activate
# C++ embedding (cpp/): build it and run its CTest tests; without TensorRT that is the common library's unit tests
# and the checks against the mock TensorRT header (cpp/README.md). Skipped, with a message, where cmake is missing.
if command -v cmake >/dev/null 2>&1; then
    cmake -S cpp -B cpp/build -DVGG_DEPLOY_WERROR=ON
    cmake --build cpp/build -j "$(nproc 2>/dev/null || echo 2)"
    ctest --test-dir cpp/build --output-on-failure
else
    echo "scripts/test.sh: cmake not found; the C++ tests in cpp/ were skipped" >&2
fi
# Type-check the TensorRT code against the published TensorRT 10.13 stubs (no TensorRT needed): a misspelled
# TensorRT method or a wrong argument type fails here. See scripts/typecheck_trt.sh.
bash scripts/typecheck_trt.sh
exec python -m pytest "$@"
