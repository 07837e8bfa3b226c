"""The benchmark's backends by name: what each needs (artifact, device, packages), why it is skipped when it cannot
run here, and how its runner is made. Names and groups (`cpu`, `cuda`, `all`) are what `--backends` accepts.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import VGGDeployError
from ..runtime.base import BaseRunner

__all__ = [
    "Backend", "BACKENDS", "BackendContext", "BenchError", "resolve_backends", "unavailable_reason", "make_runner",
    "register_backend", "backend_for_spec", "spec_fields", "device_index", "GROUPS", "trt_status",
]

TRT_HINT = "TensorRT not installed: pip install 'vgg-deploy[trt]' (needs an NVIDIA GPU and driver)"
OPENVINO_HINT = "OpenVINO not installed: pip install 'vgg-deploy[openvino]'"
ORT_GPU_HINT = "pip install 'vgg-deploy[gpu]' (onnxruntime-gpu) on a machine with an NVIDIA GPU"


class BenchError(VGGDeployError):
    """A benchmark that cannot run as asked (unknown backend, unusable inputs, nothing to measure)."""


@dataclass(frozen=True)
class Backend:
    """One way of running the model. `artifact` is the file kind it runs: checkpoint (PyTorch), onnx-fp32,
    onnx-fp16, onnx-int8-tensorrt, onnx-int8-cpu, plan-fp32, plan-fp16, plan-int8. `device` is "bench"
    (follows --device), "cpu" or "cuda". `compute` is the precision its multiply-accumulates run in (which
    peak it is compared with); `label` is the report's Precision column."""

    name: str
    family: str  # torch | ort | ov | trt | custom
    artifact: str
    compute: str
    label: str
    device: str = "bench"
    cuda_only: bool = False
    options: tuple[tuple[str, Any], ...] = ()
    # Custom backends: "package.module:Class", called with the worker spec to make the runner. A path, not an
    # object, because each backend runs in a fresh worker process that must import it by itself.
    factory: str | None = None

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)

    def runs_on(self, bench_device: str) -> str:
        """The device this backend runs on in a bench on `bench_device`."""
        return bench_device if self.device == "bench" else self.device


def _b(name: str, family: str, artifact: str, compute: str, label: str, **kw: Any) -> Backend:
    options = tuple(sorted(kw.pop("options", {}).items()))
    return Backend(name, family, artifact, compute, label, options=options, **kw)


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    _b("torch", "torch", "checkpoint", "fp32", "fp32 (eager; IEEE on GPU)", options={"dtype": "fp32", "tf32": False}),
    _b("torch-cl", "torch", "checkpoint", "fp32", "fp32, channels_last",
       options={"dtype": "fp32", "channels_last": True, "tf32": False}),
    _b("torch-bf16", "torch", "checkpoint", "bf16", "bf16", options={"dtype": "bf16"}),
    _b("torch-fp16", "torch", "checkpoint", "fp16", "fp16", cuda_only=True, options={"dtype": "fp16"}),
    _b("torch-tf32", "torch", "checkpoint", "tf32", "fp32 storage, TF32 math", cuda_only=True,
       options={"dtype": "fp32", "tf32": True}),
    _b("torch-compile", "torch", "checkpoint", "fp32", "fp32, torch.compile",
       options={"dtype": "fp32", "compile": True, "tf32": False}),
    _b("ort", "ort", "onnx-fp32", "fp32", "fp32", device="cpu"),
    _b("ort-fp16", "ort", "onnx-fp16", "fp32", "fp16 file; computes in fp32 on CPU", device="cpu"),
    _b("ort-int8-tensorrt", "ort", "onnx-int8-tensorrt", "int8", "int8 Q/DQ, TensorRT scheme (s8, symmetric)",
       device="cpu"),
    _b("ort-int8-cpu", "ort", "onnx-int8-cpu", "int8", "int8 Q/DQ, CPU scheme (u8 activations)", device="cpu"),
    _b("ort-cuda", "ort", "onnx-fp32", "fp32", "fp32 (CUDA EP, TF32 off)", device="cuda",
       options={"provider": "CUDAExecutionProvider"}),
    _b("ort-trt", "ort", "onnx-fp32", "fp32", "fp32 (TensorRT EP)", device="cuda",
       options={"provider": "TensorrtExecutionProvider"}),
    _b("trt-fp32", "trt", "plan-fp32", "fp32", "fp32 (TF32 off)", device="cuda"),
    _b("trt-fp16", "trt", "plan-fp16", "fp16", "fp16 (from the FP16 ONNX)", device="cuda"),
    _b("trt-int8", "trt", "plan-int8", "int8", "int8 (from the Q/DQ ONNX)", device="cuda"),
    _b("ov", "ov", "onnx-fp32", "fp32", "fp32 (hint f32)", device="cpu", options={"precision": "fp32"}),
    _b("ov-bf16", "ov", "onnx-fp32", "bf16", "bf16 (hint bf16)", device="cpu", options={"precision": "bf16"}),
    _b("ov-int8", "ov", "onnx-int8-cpu", "int8", "int8 (reads the CPU-scheme Q/DQ ONNX)", device="cpu",
       options={"precision": "fp32"}),
)}

GROUPS = {
    "all": lambda b, device: True,
    "cpu": lambda b, device: b.device == "cpu" or (b.device == "bench" and not b.cuda_only),
    "cuda": lambda b, device: b.device == "cuda" or b.device == "bench",
}


def register_backend(backend: Backend) -> None:
    """Add a backend to the registry, under a name not yet taken. A custom one names its runner class by an
    importable "package.module:Class" `factory` (the class takes the worker spec); it is imported here once, so
    a wrong path fails now rather than in every worker."""
    if backend.name in BACKENDS or backend.name in GROUPS:
        raise ValueError(f"backend name {backend.name!r} is taken")
    if backend.factory is not None:
        load_factory(backend.factory)
    BACKENDS[backend.name] = backend


def load_factory(path: str) -> Callable[[dict[str, Any]], BaseRunner]:
    """The class (or function) that "package.module:Name" names; ValueError saying why it cannot be imported."""
    import importlib

    module_name, _, attribute = path.partition(":") if isinstance(path, str) else ("", "", "")
    if not module_name or not attribute:
        raise ValueError(f"backend factory {path!r} must be an importable \"package.module:Class\" path")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"backend factory {path!r} cannot be imported ({type(exc).__name__}: {exc}); it must be "
                         "importable in a fresh Python (installed, or on PYTHONPATH)") from None
    if not callable(found):
        raise ValueError(f"backend factory {path!r} is not a class or function")
    return found


def spec_fields(backend: Backend) -> dict[str, Any] | None:
    """What a worker needs to rebuild a custom backend it cannot find in its own (fresh) registry."""
    if backend.factory is None:
        return None
    return {"name": backend.name, "family": backend.family, "artifact": backend.artifact, "compute": backend.compute,
            "label": backend.label, "device": backend.device, "cuda_only": backend.cuda_only,
            "options": [list(item) for item in backend.options], "factory": backend.factory}


def backend_for_spec(spec: dict[str, Any]) -> Backend:
    """The backend a worker spec names: a built-in one, or the custom one the spec describes."""
    fields = spec.get("custom_backend")
    if fields is not None:
        return Backend(**{**fields, "options": tuple(tuple(item) for item in fields["options"])})
    if spec["backend"] not in BACKENDS:
        raise BenchError(f"unknown backend {spec['backend']!r}")
    return BACKENDS[spec["backend"]]


def resolve_backends(text: str, *, device: str = "cpu") -> list[Backend]:
    """"ort,ov-int8" or a group ("cpu", "cuda", "all"), in registry order, without repeats."""
    wanted: list[Backend] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part in GROUPS:
            wanted.extend(b for b in BACKENDS.values() if b.factory is None and GROUPS[part](b, device))
        elif part in BACKENDS:
            wanted.append(BACKENDS[part])
        else:
            raise BenchError(f"unknown backend {part!r}; choose from: {', '.join([*GROUPS, *BACKENDS])}")
    if not wanted:
        raise BenchError("no backend named; pass --backends with at least one of: " + ", ".join(BACKENDS))
    seen: dict[str, Backend] = {}
    for backend in wanted:
        seen.setdefault(backend.name, backend)
    return list(seen.values())


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
    on_cuda = context.device.startswith("cuda")
    if (backend.cuda_only or backend.device == "cuda") and not on_cuda:
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
        return "no PyTorch model: pass --model NAME or a checkpoint file (.pt/.pth/.safetensors)"
    return f"no {kind} artifact and no fp32 ONNX or PyTorch model to make one from"


def _torch_reason(backend: Backend, context: BackendContext) -> str | None:
    if context.device.startswith("cuda"):
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
    """None when TensorRT and vgg_deploy.trt import, else why not (cached: `trt_status.cache_clear()` to ask again)."""
    try:
        import tensorrt  # noqa: F401
    except Exception:  # ImportError, or the PyPI stub failing without NVIDIA's libraries
        return TRT_HINT
    try:
        from ..trt import TensorRTRunner  # noqa: F401  (written alongside; may be absent in this checkout)
    except ImportError as exc:
        return f"vgg_deploy.trt is not available in this installation ({exc})"
    return None


def _trt_reason(backend: Backend, context: BackendContext) -> str | None:
    return trt_status()


# -- runners ---------------------------------------------------------------------------------------------------------

def make_runner(backend: Backend, spec: dict[str, Any]) -> BaseRunner:
    """The (inactive) runner for one worker spec: artifact path, device, threads, model name and input size."""
    if backend.factory is not None:
        try:
            factory = load_factory(backend.factory)
        except ValueError as exc:
            raise BenchError(str(exc)) from None
        return factory(spec)
    threads = spec.get("threads")
    if backend.family == "torch":
        from ..runtime import TorchRunner

        input_size = tuple(spec["input_size"]) if spec.get("input_size") else None
        return TorchRunner(spec["artifact"], model_name=spec.get("model_name"), input_size=input_size,
                           device=spec["device"], dtype=backend.option("dtype", "fp32"),
                           channels_last=bool(backend.option("channels_last")), compile=bool(backend.option("compile")),
                           threads=threads, tf32=bool(backend.option("tf32")) and str(spec["device"]).startswith("cuda"))
    if backend.family == "ort":
        from ..runtime import OnnxRuntimeRunner

        return OnnxRuntimeRunner(spec["artifact"], providers=ort_providers(backend, spec), threads=threads)
    if backend.family == "ov":
        from ..runtime.openvino_runner import OpenVINORunner

        return OpenVINORunner(spec["artifact"], precision=backend.option("precision", "fp32"), threads=threads)
    if backend.family == "trt":
        from ..trt import TensorRTRunner

        accepted = inspect.signature(TensorRTRunner).parameters
        options: dict[str, Any] = {"cuda_graphs": True} if spec.get("cuda_graphs") and "cuda_graphs" in accepted else {}
        if "device" in accepted:
            options["device"] = device_index(str(spec["device"]))
        return TensorRTRunner(spec["artifact"], **options)
    raise BenchError(f"{backend.name}: no runner for family {backend.family!r}")


def ort_providers(backend: Backend, spec: dict[str, Any]) -> list[Any]:
    """Execution providers with their options: IEEE fp32 on CUDA (use_tf32 off), a TensorRT engine cache."""
    provider = backend.option("provider")
    if provider is None:
        return ["CPUExecutionProvider"]
    index = device_index(str(spec.get("device", "cuda")))
    cuda = ("CUDAExecutionProvider", {"device_id": index, "use_tf32": 0})
    if provider == "CUDAExecutionProvider":
        return [cuda, "CPUExecutionProvider"]
    cache = os.path.join(spec.get("work", "."), "ort-trt-cache")
    trt = ("TensorrtExecutionProvider", {"device_id": index, "trt_fp16_enable": False, "trt_int8_enable": False,
                                         "trt_engine_cache_enable": True, "trt_engine_cache_path": cache})
    return [trt, cuda, "CPUExecutionProvider"]


def device_index(device: str) -> int:
    """cuda:N -> N; cuda (and cpu) -> 0."""
    return int(device.split(":")[1]) if ":" in device else 0
