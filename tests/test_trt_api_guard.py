"""No TensorRT API removed in 11.x is used in vgg_deploy/trt outside a version guard.

mypy checks against the 10.13 stubs, which still have these APIs, so it cannot catch them; this walks the syntax
tree instead. The list follows the migration guide's "Removed Python APIs and Replacements" page. The guard form
is `if <...major...> < 11:` (a name containing "major", or a call to `trt_major(...)`), or the `else` branch of
`if ... >= 11:`; the same tests in a conditional expression count too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import vgg_deploy.trt

REMOVED_BUILDER_FLAGS = frozenset({
    "FP16", "INT8", "BF16", "FP8", "INT4", "FP4", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS",
    "DIRECT_IO",
})
REMOVED_NAMES = frozenset({
    "int8_calibrator", "set_calibration_profile", "get_calibration_profile", "set_quantization_flag",
    "get_quantization_flag", "clear_quantization_flag", "quantization_flags", "QuantizationFlag",
    "device_memory_size", "get_device_memory_size_for_profile", "EXPLICIT_BATCH", "platform_has_fast_fp16",
    "platform_has_fast_int8", "create_execution_context_without_device_memory", "set_dynamic_range",
    "algorithm_selector", "IAlgorithmSelector", "IInt8Calibrator", "IInt8EntropyCalibrator",
    "IInt8EntropyCalibrator2", "IInt8MinMaxCalibrator", "IInt8LegacyCalibrator", "CalibrationAlgoType",
    "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS",
})


@dataclass(frozen=True)
class Use:
    file: str
    line: int
    name: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.name} (removed in TensorRT 11.x) outside `if major < 11:`"


def _is_major(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return "major" in node.id.lower()
    if isinstance(node, ast.Call):
        func = node.func
        return (isinstance(func, ast.Name) and func.id == "trt_major") or \
            (isinstance(func, ast.Attribute) and func.attr == "trt_major")
    return False


def _guard(test: ast.expr) -> str | None:
    """"body" when the if's body runs only before 11.x, "orelse" when its else branch does, else None."""
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and _is_major(test.left):
        limit = test.comparators[0]
        if isinstance(limit, ast.Constant) and limit.value == 11:
            if isinstance(test.ops[0], ast.Lt):
                return "body"
            if isinstance(test.ops[0], ast.GtE):
                return "orelse"
    return None


def _removed_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute):
        owner = node.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else ""
        if node.attr in REMOVED_BUILDER_FLAGS and owner_name == "BuilderFlag":
            return f"BuilderFlag.{node.attr}"
        if node.attr in REMOVED_NAMES:
            return node.attr
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr") \
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
            and node.args[1].value in REMOVED_NAMES | REMOVED_BUILDER_FLAGS:
        return f"{node.func.id}(..., {node.args[1].value!r})"
    return None


def removed_api_uses(source: str, file: str = "<string>") -> tuple[list[Use], list[Use]]:
    """(unguarded, guarded) uses of APIs removed in 11.x."""
    unguarded: list[Use] = []
    guarded: list[Use] = []

    def visit(node: ast.AST, safe: bool) -> None:
        if isinstance(node, (ast.If, ast.IfExp)):
            where = _guard(node.test)
            visit(node.test, safe)
            body = node.body if isinstance(node.body, list) else [node.body]
            orelse = node.orelse if isinstance(node.orelse, list) else [node.orelse]
            for child in body:
                visit(child, safe or where == "body")
            for child in orelse:
                visit(child, safe or where == "orelse")
            return
        name = _removed_name(node)
        if name is not None:
            (guarded if safe else unguarded).append(Use(file, getattr(node, "lineno", 0), name))
        for child in ast.iter_child_nodes(node):
            visit(child, safe)

    visit(ast.parse(source), False)
    return unguarded, guarded


TRT_FILES = sorted(Path(vgg_deploy.trt.__file__).parent.glob("*.py"))


def test_tensorrt_modules_use_no_removed_api_unguarded():
    assert len(TRT_FILES) >= 8
    unguarded, guarded = [], []
    for path in TRT_FILES:
        found, safe = removed_api_uses(path.read_text(), path.name)
        unguarded += found
        guarded += safe
    assert not unguarded, "\n".join(map(str, unguarded))
    # The walker does see the real code: the builder's guarded 10.x fallback is found, and counted as guarded.
    assert any(use.file == "builder.py" and use.name == "device_memory_size" for use in guarded)


# -- the walker itself -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    ("config.set_flag(trt.BuilderFlag.FP16)", ["BuilderFlag.FP16"]),
    ("config.int8_calibrator = calibrator", ["int8_calibrator"]),
    ("n = engine.device_memory_size", ["device_memory_size"]),
    ("flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)", ["EXPLICIT_BATCH"]),
    ("fast = builder.platform_has_fast_int8", ["platform_has_fast_int8"]),
    ("flag = getattr(trt.BuilderFlag, 'INT8')", ["getattr(..., 'INT8')"]),
    ("if major < 12:\n    config.set_flag(trt.BuilderFlag.INT8)", ["BuilderFlag.INT8"]),
    ("if ready:\n    ctx = engine.create_execution_context_without_device_memory()",
     ["create_execution_context_without_device_memory"]),
    ("if trt_major(v) >= 11:\n    config.set_flag(trt.BuilderFlag.BF16)", ["BuilderFlag.BF16"]),
    ("if major < 11:\n    pass\nelse:\n    tensor.set_dynamic_range(-1, 1)", ["set_dynamic_range"]),
], ids=["fp16-flag", "calibrator", "memory", "explicit-batch", "fast-int8", "getattr", "wrong-limit", "no-guard",
        "wrong-branch", "else-of-lt"])
def test_walker_catches_unguarded_uses(source, expected):
    unguarded, _ = removed_api_uses(source)
    assert [use.name for use in unguarded] == expected


@pytest.mark.parametrize("source", [
    "if trt_major(trt.__version__) < 11:\n    config.set_flag(trt.BuilderFlag.FP16)",
    "major = trt_major(v)\nif major < 11:\n    n = engine.device_memory_size",
    "if options.trt_major(v) < 11:\n    config.int8_calibrator = c",
    "if major >= 11:\n    pass\nelse:\n    config.set_flag(trt.BuilderFlag.INT8)",
    "n = engine.device_memory_size if trt_major < 11 else engine.device_memory_size_v2",
    "if major < 11:\n    if verbose:\n        print(builder.platform_has_fast_fp16)",
])
def test_walker_accepts_guarded_uses(source):
    unguarded, guarded = removed_api_uses(source)
    assert unguarded == [] and len(guarded) == 1


def test_walker_ignores_apis_that_remain():
    source = ("config.clear_flag(trt.BuilderFlag.TF32)\nt = trt.DataType.INT8\nh = trt.DataType.FP8\n"
              "n = engine.device_memory_size_v2\nflags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)\n"
              "ok = hasattr(engine, 'device_memory_size')")
    assert removed_api_uses(source) == ([], [])
