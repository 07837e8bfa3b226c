#!/usr/bin/env bash
# Type-check the whole package with mypy (`mypy vgg_deploy`), the TensorRT code against NVIDIA's TensorRT 10.13
# type stubs.
#
# TensorRT itself cannot be installed here, so the stubs go into .venv/typecheck-stubs (mypy finds them through
# setup.cfg's mypy_path), not into site-packages: there their stub-only `tensorrt` folder would import at run
# time as an empty namespace package. As published the stubs lack py.typed markers and have two syntax errors
# (parameters named `in`; add_scale_nd with a required parameter after defaulted ones); a small patch fixes them.
# Setup happens once (a stamp file records it); later runs only run mypy.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup_env.sh
# shellcheck disable=SC1091
. .venv/bin/activate

STUBS_VERSION=10.13.0.35.1
STUBS_DIR=.venv/typecheck-stubs
stamp="$STUBS_DIR/.vgg-deploy-patched-$STUBS_VERSION"

python -c "import mypy" 2>/dev/null || python -m pip install --quiet "mypy>=1.8"
# cuda-bindings is not needed by mypy (it has no type information); it lets the tests exercise the real
# "no GPU driver" path. Optional: a failed install only says so.
python -c "import cuda.bindings" 2>/dev/null || python -m pip install --quiet "cuda-bindings>=12" \
  || echo "[typecheck] cuda-bindings could not be installed (optional)" >&2
if [ ! -f "$stamp" ]; then
  echo "[typecheck] installing tensorrt-stubs==$STUBS_VERSION into $STUBS_DIR" >&2
  rm -rf "$STUBS_DIR"
  python -m pip install --quiet --no-deps --target "$STUBS_DIR" "tensorrt-stubs==$STUBS_VERSION"
  python - "$STUBS_DIR" <<'EOF'
import re
import sys
from pathlib import Path

root = Path(sys.argv[1])
for package in ("tensorrt", "tensorrt_bindings"):
    (root / package / "py.typed").write_text("")
stub = root / "tensorrt_bindings" / "tensorrt.pyi"
text = stub.read_text()
text, renamed = re.subn(r"\bin: ", "in_: ", text)  # `in` is a keyword: no valid parameter name
text, fixed = re.subn(
    r"shift: Weights = None, scale: Weights = None, power: Weights = None, channel_axis: int\)",
    "shift: Weights | None, scale: Weights | None, power: Weights | None, channel_axis: int)", text)
if not renamed or fixed != 1:
    sys.exit(f"tensorrt-stubs patch did not apply (renamed {renamed} `in` parameters, fixed {fixed} add_scale_nd)")
stub.write_text(text)
compile(text, str(stub), "exec")  # proves the stub parses now
EOF
  touch "$stamp"
fi
exec python -m mypy vgg_deploy "$@"
