"""mypy checks the whole package (vgg_deploy/trt against NVIDIA's TensorRT type stubs), and the check is real: a misspelled TensorRT
method or a wrong argument type fails it, in a probe file and in our own builder module.

Needs mypy and the stubs that `bash scripts/typecheck.sh` installs into .venv/typecheck-stubs.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUBS = ROOT / ".venv" / "typecheck-stubs"  # installed and patched by scripts/typecheck.sh, which stamps it

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (pip install mypy)"),
    pytest.mark.skipif(not any(STUBS.glob(".vgg-deploy-patched-*")),
                       reason="TensorRT type stubs not installed: run scripts/typecheck.sh"),
]


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "setup.cfg"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_package_passes_mypy():
    result = _mypy("vgg_deploy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_misspelled_method_and_wrong_argument_type_are_caught(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def build() -> None:\n"
        "    import tensorrt as trt\n"
        "    builder = trt.Builder(trt.Logger(trt.Logger.WARNING))\n"
        "    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))\n"
        "    config = builder.create_builder_config()\n"
        "    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, '4G')\n"
        "    builder.build_serialized_networkk(network, config)\n"
    )
    result = _mypy(str(probe))
    assert result.returncode == 1, result.stdout
    assert '"Builder" has no attribute "build_serialized_networkk"' in result.stdout and "[attr-defined]" in result.stdout
    assert 'incompatible type "str"; expected "int"' in result.stdout and "[arg-type]" in result.stdout


def test_our_builder_is_typed_against_the_stubs(tmp_path):
    """The same misspelling inside vgg_deploy/trt/builder.py itself fails: its `trt` objects are not Any."""
    builder = ROOT / "vgg_deploy" / "trt" / "builder.py"
    source = builder.read_text()
    assert "builder.build_serialized_network(network, config)" in source
    mutated = tmp_path / "builder.py"
    mutated.write_text(source.replace("builder.build_serialized_network(network, config)",
                                      "builder.build_serialized_networkk(network, config)"))
    result = _mypy("--shadow-file", str(builder), str(mutated), "vgg_deploy/trt")
    assert result.returncode == 1 and "build_serialized_networkk" in result.stdout
    assert "[attr-defined]" in result.stdout
