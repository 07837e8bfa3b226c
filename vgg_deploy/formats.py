"""The one table of model-file formats: kind, suffixes, the runner that opens it, where it runs, what it is made from.

`load()`, the bench (which artifacts it classifies, makes and runs), `serve` and `triton-repo` all read this table,
so a suffix or a runner is named here and nowhere else (as Ultralytics' `export_formats()` drives its exporters).
Runners are named by an importable "module:Class" path and imported only when a file is opened: this module
imports no other module of the package and nothing heavy.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Format", "FORMATS", "RUNNERS", "TORCH", "ONNXRUNTIME", "OPENVINO", "TENSORRT", "TENSORRT_INSTALL_HINT",
    "format_of_kind", "formats_named", "file_type", "file_types", "suffixes", "kinds", "runner_for_suffix",
    "import_runner", "runner_name", "triton_format", "triton_suffixes",
]

# The runners, by the bench's backend family names ("module:Class", imported on use).
TORCH = "vgg_deploy.runtime.torch_runner:TorchRunner"
ONNXRUNTIME = "vgg_deploy.runtime.onnxruntime_runner:OnnxRuntimeRunner"
OPENVINO = "vgg_deploy.runtime.openvino_runner:OpenVINORunner"
TENSORRT = "vgg_deploy.trt.runner:TensorRTRunner"
RUNNERS: dict[str, str] = {"torch": TORCH, "ort": ONNXRUNTIME, "ov": OPENVINO, "trt": TENSORRT}

# Every message that says TensorRT is missing ends with this.
TENSORRT_INSTALL_HINT = 'pip install "vgg-deploy[trt]" (needs an NVIDIA GPU and driver)'


@dataclass(frozen=True, kw_only=True)
class Format:
    """One kind of model file. Kinds of one file type (`name`) share suffixes and runner and are told apart by
    the file's own facts: an ONNX's metadata (precision, INT8 scheme), an engine's manifest (precision)."""

    kind: str  # the artifact kind the bench names backends by: "checkpoint", "onnx-fp16", "plan-int8", ...
    name: str  # the file type: "checkpoint", "onnx" or "plan"
    suffixes: tuple[str, ...]  # lower case; the first is the one vgg-deploy writes
    runner: str  # "module:Class" that `load()` opens it with
    device: str  # where that runner runs it: "any" (cpu or cuda) or "cuda"
    made_from: str | None  # the kind it is made from; "model": the PyTorch module itself; None: only given
    precision: str | None = None  # of the weights and math in the file; None: chosen when it runs (checkpoints)
    int8_scheme: str | None = None  # INT8 ONNX: "tensorrt" (s8 symmetric) or "cpu" (u8 activations)
    other_runners: tuple[str, ...] = ()  # runners that also take it (OpenVINO reads ONNX)
    triton_platform: str | None = None  # Triton's platform for it; None: Triton does not serve it

    @property
    def runners(self) -> tuple[str, ...]:
        return (self.runner, *self.other_runners)

    @property
    def repository_file(self) -> str:
        """Its file name in a Triton model repository version folder: model.onnx, model.plan."""
        return "model" + self.suffixes[0]


_CHECKPOINT = (".pt", ".pth", ".safetensors")
_ONNX = (".onnx",)
_ENGINE = (".plan", ".engine")


def _onnx(kind: str, precision: str, made_from: str, scheme: str | None = None) -> Format:
    return Format(kind=kind, name="onnx", suffixes=_ONNX, runner=ONNXRUNTIME, device="any", made_from=made_from,
                  precision=precision, int8_scheme=scheme, other_runners=(OPENVINO,),
                  triton_platform="onnxruntime_onnx")


def _plan(precision: str, made_from: str) -> Format:
    return Format(kind=f"plan-{precision}", name="plan", suffixes=_ENGINE, runner=TENSORRT, device="cuda",
                  made_from=made_from, precision=precision, triton_platform="tensorrt_plan")


# In pipeline order: what a kind is made from comes before it.
FORMATS: tuple[Format, ...] = (
    Format(kind="checkpoint", name="checkpoint", suffixes=_CHECKPOINT, runner=TORCH, device="any", made_from="model"),
    _onnx("onnx-fp32", "fp32", "model"),
    _onnx("onnx-fp16", "fp16", "onnx-fp32"),
    _onnx("onnx-int8-tensorrt", "int8", "onnx-fp32", "tensorrt"),
    _onnx("onnx-int8-cpu", "int8", "onnx-fp32", "cpu"),
    _plan("fp32", "onnx-fp32"),
    _plan("fp16", "onnx-fp16"),
    _plan("int8", "onnx-int8-tensorrt"),  # TensorRT builds INT8 from its own Q/DQ scheme only
)


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def format_of_kind(kind: str) -> Format:
    """The row of artifact kind `kind`; KeyError naming the kinds there are."""
    for row in FORMATS:
        if row.kind == kind:
            return row
    raise KeyError(f"unknown artifact kind {kind!r}; the kinds are: {', '.join(kinds())}")


def formats_named(name: str) -> tuple[Format, ...]:
    """The rows of file type `name` ("checkpoint", "onnx", "plan"), in table order."""
    return tuple(row for row in FORMATS if row.name == name)


def file_types() -> tuple[str, ...]:
    """The file types in table order: "checkpoint", "onnx", "plan"."""
    return _unique(row.name for row in FORMATS)


def suffixes(*names: str) -> tuple[str, ...]:
    """The suffixes of file types `names` (all of them when none is named), in table order, without repeats."""
    return _unique(s for row in FORMATS if not names or row.name in names for s in row.suffixes)


def kinds(*names: str) -> tuple[str, ...]:
    """The artifact kinds of file types `names` (all of them when none is named), in table order."""
    return tuple(row.kind for row in FORMATS if not names or row.name in names)


def _suffix(path_or_suffix: str | os.PathLike[str]) -> str:
    text = os.fspath(path_or_suffix)
    return (text if text.startswith(".") and "/" not in text else Path(text).suffix).lower()


def file_type(path_or_suffix: str | os.PathLike[str]) -> str | None:
    """The file type ("checkpoint", "onnx", "plan") of a path or suffix, case-insensitive; None if unknown."""
    suffix = _suffix(path_or_suffix)
    return next((row.name for row in FORMATS if suffix in row.suffixes), None)


def runner_for_suffix(path_or_suffix: str | os.PathLike[str]) -> str | None:
    """The "module:Class" that opens files of this path or suffix; None if no row has the suffix."""
    suffix = _suffix(path_or_suffix)
    return next((row.runner for row in FORMATS if suffix in row.suffixes), None)


def triton_format(path_or_suffix: str | os.PathLike[str]) -> Format | None:
    """The row (of the file type; they share Triton's platform) for a path or suffix Triton serves; None if not."""
    name = file_type(path_or_suffix)
    rows = formats_named(name) if name is not None else ()
    return rows[0] if rows and rows[0].triton_platform is not None else None


def triton_suffixes() -> tuple[str, ...]:
    """The suffixes of the files Triton serves (`serve`, `triton-repo`)."""
    return suffixes(*(row.name for row in FORMATS if row.triton_platform is not None))


def runner_name(path: str) -> str:
    """"vgg_deploy.trt.runner:TensorRTRunner" -> "TensorRTRunner"."""
    return path.rpartition(":")[2]


def import_runner(path: str) -> Any:
    """The class (or function) an importable "package.module:Name" path names; ValueError saying why not."""
    module_name, _, attribute = path.partition(":") if isinstance(path, str) else ("", "", "")
    if not module_name or not attribute:
        raise ValueError(f"{path!r} must be an importable \"package.module:Class\" path")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"{path!r} cannot be imported ({type(exc).__name__}: {exc}); it must be importable in "
                         "a fresh Python (installed, or on PYTHONPATH)") from None
    if not callable(found):
        raise ValueError(f"{path!r} is not a class or function")
    return found
