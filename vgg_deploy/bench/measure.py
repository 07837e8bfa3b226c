"""One backend at one batch size: activate, warm up, time, then memory, parity, accuracy and what ran.

`run_spec(spec)` does it in this process; `run_in_subprocess(spec)` runs the same function in a fresh Python
(`python -m vgg_deploy.bench.worker`) so the peak RSS and GPU memory of one backend never include another's.
A spec is a JSON-able dict (see the harness' `_spec`); the result is a WorkerResult (JSON between the processes)
the harness turns into a report row.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import VGGDeployError, first_line
from ..runtime.base import BaseRunner
from ..devices import device_index, is_cuda
from .backends import Backend, backend_for_spec, make_runner
from .calls import timed_call
from .records import WorkerResult
from .stats import Measurement

__all__ = ["run_spec", "run_in_subprocess", "timed_loop", "peak_rss_mb", "WORKER_TIMEOUT_S"]

WORKER_TIMEOUT_S = 3600.0
_MIN_TIMED_CALLS = 3  # a --duration run still times at least this many calls


def timed_loop(call: Callable[[], Any], *, warmup: int, iterations: int | None, duration_s: float | None,
               batch_size: int) -> Measurement:
    """`warmup` untimed calls, then `iterations` timed calls or as many as fit in `duration_s` (at least 3)."""
    for _ in range(warmup):
        call()
    latencies: list[float] = []
    deadline = time.perf_counter() + (duration_s or 0.0)
    while True:
        if iterations is not None and len(latencies) >= iterations:
            break
        if iterations is None and len(latencies) >= _MIN_TIMED_CALLS and time.perf_counter() >= deadline:
            break
        start = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - start)
    return Measurement(batch_size=batch_size, latencies_s=tuple(latencies), warmup=warmup)


def peak_rss_mb() -> float:
    """This process' peak resident memory. Linux's VmHWM belongs to the address space, so it starts afresh at
    exec; ru_maxrss (the fallback elsewhere) is carried over from the parent across fork and exec, which
    would report the harness' own peak for every worker."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6  # kB
    except (OSError, ValueError, IndexError):
        pass
    scale = 1.0 if sys.platform == "darwin" else 1024.0  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def run_spec(spec: dict[str, Any], *, backend: Backend | None = None) -> WorkerResult:
    """Measure one backend at one batch size; never raises for the backend's own failures (status "failed")."""
    result = WorkerResult(backend=spec["backend"], batch_size=spec["batch_size"])
    on_cuda = is_cuda(str(spec["device"]))
    torch_state: tuple[Any, dict[str, Any], bool] | None = None
    runner = None
    try:
        backend = backend or backend_for_spec(spec)  # in here: a backend a worker cannot make is a failed row
        gpu_before = None
        if on_cuda:
            from .cuda import device_used_mib

            gpu_before = device_used_mib(device_index(spec["device"]))  # before this process makes a CUDA context
        if backend.family == "torch" and on_cuda:
            torch_state = _torch_cuda_settings(backend, result)
        runner = make_runner(backend, spec)
        _measure(runner, backend, spec, result, gpu_before=gpu_before)
    except VGGDeployError as exc:
        result.fail(first_line(exc))
    except Exception as exc:  # a backend's crash is a result of the benchmark, not the end of it
        result.fail(f"{type(exc).__name__}: {first_line(exc, default='')}")
        traceback.print_exc(file=sys.stderr)
    finally:
        _release(runner, torch_state, result)
    return result


def _torch_cuda_settings(backend: Backend, result: WorkerResult) -> tuple[Any, dict[str, Any], bool]:
    """IEEE fp32 (or TF32 when asked), cudnn.benchmark on, peak memory counted from here; what to restore."""
    import torch

    from .cuda import set_fp32_math

    saved = (torch, set_fp32_math(torch, tf32=bool(backend.option("tf32"))), torch.backends.cudnn.benchmark)
    torch.backends.cudnn.benchmark = True  # fixed shapes per run: let cuDNN pick its fastest kernels
    result.notes.append("cudnn.benchmark on")
    if hasattr(torch.cuda, "reset_peak_memory_stats"):
        torch.cuda.reset_peak_memory_stats()
    return saved


def _measure(runner: BaseRunner, backend: Backend, spec: dict[str, Any], result: WorkerResult, *,
             gpu_before: float | None) -> None:
    """Activate, time, then memory, parity, accuracy and (once per backend) what executed."""
    started = time.perf_counter()
    runner.activate()
    result.activation_s = time.perf_counter() - started
    result.runner = runner.name
    images = np.load(spec["inputs"])
    batch = _batch_of(images, spec["batch_size"])
    call, copies, notes = timed_call(runner, backend, batch, spec)
    result.copies_included = copies
    result.notes.extend(notes)
    measurement = timed_loop(call, warmup=spec["warmup"], iterations=spec.get("iterations"),
                             duration_s=spec.get("duration_s"), batch_size=spec["batch_size"])
    result.measurement = measurement.summary()
    result.peak_rss_mb = peak_rss_mb()
    if is_cuda(str(spec["device"])):
        result.gpu_memory = _gpu_memory(backend, spec, gpu_before)
    result.parity, result.accuracy = _parity(runner, images, spec)
    if result.parity["nonfinite"]:
        result.fail(f"{result.parity['nonfinite']} NaN/Inf values in the outputs")
    if spec.get("inspect"):
        result.executed = _executed(runner, backend, spec)


def _release(runner: BaseRunner | None, torch_state: tuple[Any, dict[str, Any], bool] | None,
             result: WorkerResult) -> None:
    if runner is not None:
        try:
            runner.deactivate()
        except Exception as exc:
            result.notes.append(f"deactivate failed: {type(exc).__name__}: {exc}")
    if torch_state is not None:
        from ..runtime.cuda_math import restore_fp32_math

        torch, saved, cudnn_benchmark = torch_state
        restore_fp32_math(torch, saved)
        torch.backends.cudnn.benchmark = cudnn_benchmark


def _batch_of(images: np.ndarray, batch_size: int) -> np.ndarray:
    """The first `batch_size` evaluation images (repeated when there are fewer), contiguous float32."""
    reps = -(-batch_size // len(images))
    return np.ascontiguousarray(np.concatenate([images] * reps)[:batch_size] if reps > 1 else images[:batch_size])


def _gpu_memory(backend: Backend, spec: dict[str, Any], before: float | None) -> dict[str, Any]:
    from .cuda import device_used_mib

    after = device_used_mib(device_index(spec["device"]))
    memory: dict[str, Any] = {
        "device_used_increase_mb": None if before is None or after is None else (after - before) * 2**20 / 1e6,
        "method": "device-wide used memory (nvidia-smi, else cudaMemGetInfo) before activation vs after timing: "
                  "includes the CUDA context and library workspaces",
    }
    if backend.family == "torch":
        import torch

        memory["torch_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 1e6
    return memory


def _parity(runner: BaseRunner, images: np.ndarray, spec: dict[str, Any]) -> tuple[dict[str, Any], float | None]:
    """(parity figures, accuracy or None) of every evaluation input."""
    from ..export.parity import compare_logits

    logits = runner.infer_all(images, batch_size=spec["batch_size"])
    parity: dict[str, Any]
    if spec.get("reference"):
        reference = np.load(spec["reference"])
        parity = compare_logits(reference, logits, max_rel_diff=None, min_cosine=None).to_dict()
    else:  # no reference: at least count NaN/Inf
        parity = {"nonfinite": int((~np.isfinite(logits)).sum()), "note": "no reference"}
    accuracy = None
    if spec.get("labels"):
        labels = np.load(spec["labels"])
        finite = bool(np.isfinite(logits).all())
        accuracy = float((logits.argmax(1) == labels).mean()) if finite else 0.0
    return parity, accuracy


def _executed(runner: Any, backend: Backend, spec: dict[str, Any]) -> dict[str, Any]:
    from .backends import ort_providers
    from .executed import ort_executed, tensorrt_executed

    try:
        if backend.family == "ort":
            return ort_executed(spec["artifact"], providers=ort_providers(backend, spec), threads=spec.get("threads"))
        if backend.family == "ov":
            return {"source": "OpenVINO runtime model", "available": True, **runner.runtime_precisions()}
        if backend.family == "trt":
            return tensorrt_executed(spec["artifact"])
        if backend.family == "torch":
            config = runner.config
            layers = config.weighted_layers()
            return {"source": "PyTorch module dtype (every conv and linear runs in it)", "available": True,
                    backend.compute: layers}
    except Exception as exc:
        return {"source": backend.family, "available": False, "note": f"{type(exc).__name__}: {exc}"}
    return {"source": backend.family, "available": False, "note": "no inspector for this backend"}


def run_in_subprocess(spec: dict[str, Any], *, log_path: Path | None = None,
                      timeout_s: float = WORKER_TIMEOUT_S) -> WorkerResult:
    """run_spec in a fresh interpreter; a crash, kill or timeout becomes a "failed" result with the reason."""
    import vgg_deploy

    result_path = Path(spec["work"]) / f".result-{spec['backend']}-b{spec['batch_size']}-{os.getpid()}.json"
    spec = {**spec, "result_path": str(result_path)}
    env = dict(os.environ)
    root = str(Path(vgg_deploy.__file__).resolve().parents[1])  # works from a source tree too
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    failed = WorkerResult(backend=spec["backend"], batch_size=spec["batch_size"], status="failed")
    try:
        done = subprocess.run([sys.executable, "-m", "vgg_deploy.bench.worker"], input=json.dumps(spec),
                              capture_output=True, text=True, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return failed.fail(f"worker did not finish within {timeout_s:.0f} s")
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(f"$ {sys.executable} -m vgg_deploy.bench.worker\n--- stdout\n{done.stdout}\n"
                            f"--- stderr\n{done.stderr}")
    try:
        result = WorkerResult.from_dict(json.loads(result_path.read_text()))
    except (OSError, ValueError):
        why = f"signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
        last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        hint = " (killed: out of memory?)" if done.returncode == -9 else ""
        return failed.fail(f"worker ended with {why}{hint}: {last}")
    finally:
        result_path.unlink(missing_ok=True)
    result.subprocess = True
    return result
