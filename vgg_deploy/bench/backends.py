"""The benchmark's backends by name: what each needs (artifact, device, packages) and how its runner is made.
Names and groups (`cpu`, `cuda`, `all`) are what `--backends` accepts; why one is skipped here is `availability`'s.

Every runner is named by an importable "module:Class" path: a built-in backend's from the table of formats
(`vgg_deploy.formats.RUNNERS`, by family), a custom one's by its `factory`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from ..devices import device_index, is_cuda
from ..errors import VGGDeployError
from ..formats import RUNNERS, import_runner
from ..runtime.base import BaseRunner

__all__ = [
    "Backend", "BACKENDS", "BenchError", "resolve_backends", "make_runner", "register_backend", "backend_for_spec",
    "spec_fields", "GROUPS", "ort_providers",
    "load_factory",
]


class BenchError(VGGDeployError):
    """A benchmark that cannot run as asked (unknown backend, unusable inputs, nothing to measure)."""


@dataclass(frozen=True)
class Backend:
    """One way of running the model. `artifact` is the kind of file it runs, a row of the table of formats
    (`vgg_deploy.formats`: checkpoint, onnx-fp32, ..., plan-int8). `device` is "bench"
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

    @property
    def runner(self) -> str:
        """Its runner's "module:Class": the custom factory, or the one the table of formats names for its family."""
        return self.factory if self.factory is not None else RUNNERS[self.family]

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
    try:
        found: Callable[[dict[str, Any]], BaseRunner] = import_runner(path)
    except ValueError as exc:
        raise ValueError(f"backend factory {exc}") from None
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


# -- runners ---------------------------------------------------------------------------------------------------------

def make_runner(backend: Backend, spec: dict[str, Any]) -> BaseRunner:
    """The (inactive) runner for one worker spec: artifact path, device, threads, model name and input size. Its
    class comes from the backend's "module:Class" path; a built-in family's options from the backend and the spec."""
    if backend.factory is None and backend.family not in RUNNERS:
        raise BenchError(f"{backend.name}: no runner for family {backend.family!r}")
    try:
        made = load_factory(backend.factory) if backend.factory is not None else import_runner(backend.runner)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    if backend.factory is not None:
        return made(spec)
    runner: BaseRunner = made(spec["artifact"], **RUNNER_OPTIONS[backend.family](backend, spec))
    return runner


def _torch_options(backend: Backend, spec: dict[str, Any]) -> dict[str, Any]:
    input_size = tuple(spec["input_size"]) if spec.get("input_size") else None
    return {"model_name": spec.get("model_name"), "input_size": input_size, "device": spec["device"],
            "dtype": backend.option("dtype", "fp32"), "channels_last": bool(backend.option("channels_last")),
            "compile": bool(backend.option("compile")), "threads": spec.get("threads"),
            "tf32": bool(backend.option("tf32")) and is_cuda(str(spec["device"]))}


def _ort_options(backend: Backend, spec: dict[str, Any]) -> dict[str, Any]:
    return {"providers": ort_providers(backend, spec), "threads": spec.get("threads")}


def _ov_options(backend: Backend, spec: dict[str, Any]) -> dict[str, Any]:
    return {"precision": backend.option("precision", "fp32"), "threads": spec.get("threads")}


def _trt_options(backend: Backend, spec: dict[str, Any]) -> dict[str, Any]:
    return {"cuda_graphs": bool(spec.get("cuda_graphs")), "device": device_index(str(spec["device"]))}


# The keyword options each built-in family's runner (RUNNERS[family]) is made with.
RUNNER_OPTIONS: dict[str, Callable[[Backend, dict[str, Any]], dict[str, Any]]] = {
    "torch": _torch_options, "ort": _ort_options, "ov": _ov_options, "trt": _trt_options,
}


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
