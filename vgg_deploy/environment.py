"""Facts about this machine and its libraries: what `vgg-deploy info` prints and reports record."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .optional import installed_version

__all__ = ["environment_facts", "cpu_facts", "gpu_facts", "read_cpuinfo"]

_CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def read_cpuinfo() -> tuple[str, set[str]]:
    """The CPU's model name and feature flags from /proc/cpuinfo ("" and an empty set where there is none)."""
    model, flags = "", set[str]()
    cpuinfo = Path("/proc/cpuinfo")
    try:
        text = cpuinfo.read_text(errors="replace") if cpuinfo.exists() else ""
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name" and not model:
            model = value
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model, flags


def cpu_facts() -> dict[str, Any]:
    model, flags = read_cpuinfo()
    model = model or platform.processor() or platform.machine()
    return {
        "model": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "flags": [f for f in _CPU_FLAGS if f in flags],
    }


def gpu_facts() -> list[dict[str, Any]]:
    """NVIDIA GPUs from nvidia-smi (no CUDA library needed), else from torch; empty when there are none."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return _torch_gpus()
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,compute_cap,memory.total,driver_version", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, cc, memory, driver = (part.strip() for part in line.split(","))
        gpus.append({"name": name, "compute_capability": cc, "memory_mib": int(float(memory)), "driver": driver})
    return gpus


def _torch_gpus() -> list[dict[str, Any]]:
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        gpus.append({
            "name": props.name, "compute_capability": f"{props.major}.{props.minor}",
            "memory_mib": props.total_memory // 2**20, "driver": None,
        })
    return gpus


def _torch_facts() -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {"version": None}
    return {
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "threads": torch.get_num_threads(),
    }


def _onnxruntime_facts() -> dict[str, Any]:
    try:
        import onnxruntime
    except ImportError:
        return {"version": None, "providers": []}
    return {"version": onnxruntime.__version__, "providers": onnxruntime.get_available_providers()}


def _tensorrt_facts() -> dict[str, Any]:
    if installed_version("tensorrt") is None and installed_version("tensorrt-cu12") is None \
            and installed_version("tensorrt-cu13") is None:
        return {"version": None, "status": "not installed"}
    try:
        import tensorrt  # the PyPI package is a stub on machines without NVIDIA's libraries
    except Exception as exc:
        return {"version": None, "status": f"installed but fails to import: {type(exc).__name__}: {exc}"}
    return {"version": tensorrt.__version__, "status": "ok"}


def environment_facts() -> dict[str, Any]:
    """Everything a bug report needs: Python, platform, CPU, GPUs, and the versions of every backend."""
    from . import __version__

    return {
        "vgg_deploy": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_facts(),
        "gpus": gpu_facts(),
        "torch": _torch_facts(),
        "onnx": installed_version("onnx"),
        "onnxscript": installed_version("onnxscript"),
        "onnxruntime": _onnxruntime_facts(),
        "openvino": installed_version("openvino"),
        "tensorrt": _tensorrt_facts(),
        "cuda_python": installed_version("cuda-python") or installed_version("cuda-bindings"),
        "numpy": installed_version("numpy"),
    }
