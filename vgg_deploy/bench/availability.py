"""Why a benchmark backend cannot run here (one line each: missing device, package, compiler or artifact), or None."""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..devices import is_cuda
from ..formats import TENSORRT, TENSORRT_INSTALL_HINT, import_runner, suffixes

if TYPE_CHECKING:
    from .backends import Backend

__all__ = ["BackendContext", "unavailable_reason", "trt_status", "TRT_HINT", "OPENVINO_HINT", "ORT_GPU_HINT"]

TRT_HINT = f"TensorRT not installed: {TENSORRT_INSTALL_HINT}"
OPENVINO_HINT = "OpenVINO not installed: pip install 'vgg-deploy[openvino]'"
ORT_GPU_HINT = "pip install 'vgg-deploy[gpu]' (onnxruntime-gpu) on a machine with an NVIDIA GPU"


@dataclass(frozen=True)
class BackendContext:
    """What the availability checks need to know about this run."""

    device: str  # the bench's --device: cpu, cuda or cuda:N
    torch_model: bool  # a PyTorch model (module or checkpoint) is there
    artifact_kinds: frozenset[str]  # kinds given by the user or makeable here


def unavailable_reason(backend: Backend, context: BackendContext) -> str | None:
    """Why `backend` cannot run in this context (one line), or None when it can."""
    if backend.factory is not None:
        return None
    if (backend.cuda_only or backend.device == "cuda") and not is_cuda(context.device):
        return "CUDA only: run with --device cuda on a machine with an NVIDIA GPU"
    checks: dict[str, Callable[[Backend, BackendContext], str | None]] = {
        "torch": _torch_reason, "ort": _ort_reason, "ov": _ov_reason, "trt": _trt_reason,
    }
    reason = checks[backend.family](backend, context)
    if reason is None and backend.artifact not in context.artifact_kinds:
        reason = _missing_artifact(backend.artifact)
    return reason


def _missing_artifact(kind: str) -> str:
    if kind == "checkpoint":
        return f"no PyTorch model: pass --model NAME or a checkpoint file ({'/'.join(suffixes('checkpoint'))})"
    return f"no {kind} artifact and no fp32 ONNX or PyTorch model to make one from"


def _torch_reason(backend: Backend, context: BackendContext) -> str | None:
    if is_cuda(context.device):
        from .cuda import torch_cuda_available

        if not torch_cuda_available():
            return "this torch build cannot use CUDA here (CPU build, or no GPU/driver)"
    elif backend.option("compile") and not any(shutil.which(c) for c in (os.environ.get("CXX", "g++"), "c++", "clang++")):
        return "torch.compile on the CPU needs a C++ compiler (g++ or clang++)"
    return None


@functools.lru_cache(maxsize=None)
def _ort_providers() -> tuple[str, ...]:
    import onnxruntime

    return tuple(onnxruntime.get_available_providers())


def _ort_reason(backend: Backend, context: BackendContext) -> str | None:
    provider = backend.option("provider")
    if provider and provider not in _ort_providers():
        return f"needs {provider} (this onnxruntime has {', '.join(_ort_providers())}): {ORT_GPU_HINT}"
    return None


@functools.lru_cache(maxsize=None)
def _openvino_capabilities() -> tuple[str, ...] | str:
    try:
        import openvino
    except ImportError:
        return OPENVINO_HINT
    try:
        return tuple(openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception as exc:
        return f"OpenVINO cannot use this CPU ({type(exc).__name__}: {exc})"


def _ov_reason(backend: Backend, context: BackendContext) -> str | None:
    capabilities = _openvino_capabilities()
    if isinstance(capabilities, str):
        return capabilities
    if backend.option("precision") == "bf16" and "BF16" not in capabilities:
        return "this CPU has no bf16 instructions (OpenVINO would compute in f32)"
    return None


@functools.lru_cache(maxsize=None)
def trt_status() -> str | None:
    """None when TensorRT and vgg-deploy's TensorRT runner import, else why not (cached: `trt_status.cache_clear()`
    to ask again)."""
    try:
        import tensorrt  # noqa: F401
    except Exception:  # ImportError, or the PyPI stub failing without NVIDIA's libraries
        return TRT_HINT
    try:
        import_runner(TENSORRT)  # the table's runner for engines, imported as the workers will
    except ValueError as exc:
        return f"vgg_deploy.trt is not available in this installation ({exc})"
    return None


def _trt_reason(backend: Backend, context: BackendContext) -> str | None:
    return trt_status()
