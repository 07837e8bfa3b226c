"""`load(path)`: the runner for a file, chosen by its suffix, handed back active."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from ..artifacts import InputFileError, check_input_file
from .base import BaseRunner, RunnerError
from .onnxruntime_runner import OnnxRuntimeRunner
from .torch_runner import TorchRunner

__all__ = ["load", "RUNNER_BY_SUFFIX", "ENGINE_SUFFIXES", "CHECKPOINT_SUFFIXES"]

ENGINE_SUFFIXES = (".plan", ".engine")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")
RUNNER_BY_SUFFIX: dict[str, type[BaseRunner]] = {".onnx": OnnxRuntimeRunner, **dict.fromkeys(CHECKPOINT_SUFFIXES, TorchRunner)}


def load(path: str | os.PathLike[str], **options: Any) -> BaseRunner:
    """An ACTIVE runner for `path` (.onnx: ONNX Runtime; .pt/.pth/.safetensors: PyTorch; .plan/.engine: TensorRT);
    `options` go to it (e.g. `cuda_graphs=True` for an engine).

    Use it as `with load("m.onnx") as m: m.infer(batch)`: the `with` block deactivates it at the end.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    runner_type = RUNNER_BY_SUFFIX.get(suffix)
    if suffix in ENGINE_SUFFIXES:
        from ..trt.runner import TensorRTRunner  # here, not at the top: vgg_deploy.trt imports this package

        runner_type = TensorRTRunner
    if runner_type is None:
        accepted = ", ".join([*RUNNER_BY_SUFFIX, *ENGINE_SUFFIXES])
        raise RunnerError(f"{path}: cannot tell how to run a {suffix or 'suffix-less'} file; accepted suffixes: {accepted}")
    try:
        check_input_file(path, what="a model file", allow_empty=True)
    except InputFileError as exc:
        raise RunnerError(str(exc)) from None
    try:
        inspect.signature(runner_type).bind(path, **options)
    except TypeError:
        allowed = [p for p in inspect.signature(runner_type).parameters.values() if p.kind == p.KEYWORD_ONLY]
        unknown = sorted(set(options) - {p.name for p in allowed})
        raise RunnerError(
            f"{path}: {runner_type.__name__} takes no option {', '.join(unknown)}; "
            f"its options are: {', '.join(p.name for p in allowed)}"
        ) from None
    runner = runner_type(path, **options)
    runner.activate()
    return runner
