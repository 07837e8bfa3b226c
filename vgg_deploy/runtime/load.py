"""`load(path)`: the runner for a file, chosen by its suffix in the table of formats, handed back active."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from ..artifacts import InputFileError, check_input_file
from ..formats import import_runner, runner_for_suffix, suffixes
from .base import BaseRunner, RunnerError

__all__ = ["load"]


def load(path: str | os.PathLike[str], **options: Any) -> BaseRunner:
    """An ACTIVE runner for `path`, the one the table of formats names for its suffix (.onnx: ONNX Runtime;
    .pt/.pth/.safetensors: PyTorch; .plan/.engine: TensorRT); `options` go to it (e.g. `cuda_graphs=True` for an
    engine).

    Use it as `with load("m.onnx") as m: m.infer(batch)`: the `with` block deactivates it at the end.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    runner_path = runner_for_suffix(suffix)
    if runner_path is None:
        raise RunnerError(f"{path}: cannot tell how to run a {suffix or 'suffix-less'} file; accepted suffixes: "
                          f"{', '.join(suffixes())}")
    try:
        check_input_file(path, what="a model file", allow_empty=True)
    except InputFileError as exc:
        raise RunnerError(str(exc)) from None
    # imported by its "module:Class" path: the TensorRT runner's package is imported only for an engine
    runner_type = import_runner(runner_path)
    try:
        inspect.signature(runner_type).bind(path, **options)
    except TypeError:
        allowed = [p for p in inspect.signature(runner_type).parameters.values() if p.kind == p.KEYWORD_ONLY]
        unknown = sorted(set(options) - {p.name for p in allowed})
        raise RunnerError(
            f"{path}: {runner_type.__name__} takes no option {', '.join(unknown)}; "
            f"its options are: {', '.join(p.name for p in allowed)}"
        ) from None
    runner: BaseRunner = runner_type(path, **options)
    runner.activate()
    return runner
