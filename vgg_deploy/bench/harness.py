"""`run_bench`: every requested backend at every batch size, against the eager fp32 model on the same inputs,
with the machine's own peak for context; the result is the report (a dict matching report.schema.json)."""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import VGGDeployError
from ..precision.fallback import DEFAULT_MAX_FALLBACK_LAYERS
from .backends import (BACKENDS, Backend, BackendContext, BenchError, trt_status, resolve_backends, spec_fields,
                       unavailable_reason)
from .budget import DEFAULT_SWEEP, over_budget, select_within_budget
from .flops import model_flops, model_macs
from .inputs import default_eval_samples, load_bench_inputs
from .measure import run_in_subprocess, run_spec
from .prepare import ModelSource, Workspace, open_workspace
from .stats import Measurement

__all__ = ["BenchOptions", "run_bench", "SCHEMA_VERSION", "DEFAULT_BATCH_SIZES"]

SCHEMA_VERSION = 1
DEFAULT_BATCH_SIZES = (1, 8)
BASELINE = "torch"
NO_REFERENCE = "no reference (no PyTorch model, and no fp32 ONNX given or found)"


@dataclass(frozen=True)
class BenchOptions:
    """How to measure; None means the documented default."""

    backends: str = "cpu"
    batch_sizes: tuple[int, ...] | None = None  # default (1, 8); the sweep 1..64 with a latency budget
    duration_s: float | None = None  # default 10 s per backend and batch size, unless iterations is given
    iterations: int | None = None
    warmup: int = 3
    threads: int | None = None  # default: the cores this process may use
    device: str = "cpu"
    data: str | None = None
    calib_data: str | None = None
    calib_samples: int = 128
    calib_method: str | None = None  # None: the quantizer's default
    calib_batch: int = 16
    quantizer: str = "ort"  # of the TensorRT-scheme INT8 (the CPU scheme is ONNX Runtime's)
    min_top1: float | None = None  # gates on the INT8/FP16 variants made on the way (their backends fail below)
    min_cosine: float | None = None
    fallback: str = "off"  # "auto": INT8 variants keep their most damaging layers high until the gates hold
    max_fallback_layers: int = DEFAULT_MAX_FALLBACK_LAYERS
    eval_samples: int | None = None
    include_copies: bool = False
    cuda_graphs: bool = False
    latency_budget_ms: float | None = None
    in_process: bool = False
    measure_peak: bool = True
    seed: int = 0

    def resolved_batch_sizes(self) -> tuple[int, ...]:
        if self.batch_sizes:
            return tuple(sorted(set(self.batch_sizes)))
        return DEFAULT_SWEEP if self.latency_budget_ms is not None else DEFAULT_BATCH_SIZES


def run_bench(source: ModelSource, *, out: Path, work: Path | None = None, options: BenchOptions = BenchOptions(),
              command: list[str] | None = None, progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Measure, and return the report (not yet written: see report.write_reports). Artifacts made on the way
    are cached in `work`/artifacts (default: `out`), the inputs and worker logs in `work`/work."""
    from ..environment import environment_facts

    started = time.time()
    threads = options.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    duration = options.duration_s if options.duration_s is not None or options.iterations else 10.0
    batch_sizes = options.resolved_batch_sizes()
    base = work or out
    work = base / "work"
    ws = open_workspace(source, base / "artifacts", progress=progress)
    context = BackendContext(device=options.device, torch_model=ws.model is not None or "checkpoint" in ws.artifacts,
                             artifact_kinds=ws.makeable(tensorrt=trt_status() is None))
    skipped, runnable = [], []
    for backend in resolve_backends(options.backends, device=options.device):
        reason = unavailable_reason(backend, context)
        if reason is None:
            runnable.append(backend)
        else:
            skipped.append({"backend": backend.name, "precision": backend.label, "reason": reason})
            progress(f"skipping {backend.name}: {reason}")
    if not runnable:
        reasons = "; ".join(f"{s['backend']}: {s['reason']}" for s in skipped)
        raise BenchError(f"no requested backend can run here: {reasons}")

    config = ws.config
    flops = model_flops(config)
    need_calibration = any(ws.needs_calibration(b.artifact) for b in runnable)
    inputs = load_bench_inputs(config, data=options.data, calib_data=options.calib_data,
                               eval_samples=options.eval_samples or default_eval_samples(flops),
                               calib_samples=options.calib_samples, need_calibration=need_calibration,
                               seed=options.seed, progress=progress)
    failed_prep = _prepare_artifacts(ws, runnable, inputs, options, batch_sizes, progress)
    reference = _reference(ws, inputs.eval.images, threads, progress)
    labels = inputs.eval.labels
    reference["accuracy"] = float((reference["logits"].argmax(1) == labels).mean()) \
        if labels is not None and reference["logits"] is not None else None
    files = _write_inputs(work, inputs.eval, reference["logits"])
    ws.model = None  # the parent's copy of the weights is no longer needed
    peaks: dict[str, dict[str, Any]] = {}
    if options.measure_peak:  # per device kind the backends run on: ORT on the CPU next to torch on a GPU
        for device in dict.fromkeys(_device_kind(b.runs_on(options.device)) for b in runnable):
            where = options.device if device == "cuda" else "cpu"
            peaks[device] = {k: v.to_dict() for k, v in _peaks(where, threads, progress).items()}

    plan = [(b, n) for b in runnable for n in batch_sizes]
    rows: list[dict[str, Any]] = []
    executed: dict[str, Any] = {}
    over: dict[str, int] = {}
    spent: list[float] = []
    for index, (backend, batch) in enumerate(plan, start=1):
        if backend.name in failed_prep:
            rows.append(_row(backend, batch, options, ws, {"status": "failed", "reason": failed_prep[backend.name]}))
            continue
        if backend.name in over:
            rows.append(_row(backend, batch, options, ws, {"status": "skipped", "reason":
                             f"batch {over[backend.name]} already exceeded the {options.latency_budget_ms:g} ms budget"}))
            continue
        left = (len(plan) - index + 1) * (sum(spent) / len(spent)) if spent else None
        progress(f"[{index}/{len(plan)}] {backend.name}, batch {batch}" + (f" (~{_clock(left)} left)" if left else ""))
        spec = _spec(backend, batch, ws, options, files, threads, duration, work,
                     inspect=backend.name not in executed)
        tick = time.perf_counter()
        result = run_spec(spec, backend=backend) if options.in_process else \
            run_in_subprocess(spec, log_path=work / "logs" / f"{backend.name}-b{batch}.log")
        spent.append(time.perf_counter() - tick)
        if "executed" in result:
            executed[backend.name] = result.pop("executed")
        row = _row(backend, batch, options, ws, result)
        rows.append(row)
        progress("    " + _summary(row))
        m = row["measurement"]
        if options.latency_budget_ms is not None and m and over_budget(Measurement.from_dict(m), options.latency_budget_ms):
            over[backend.name] = batch
    _derive(rows, peaks, flops)
    budget = None
    if options.latency_budget_ms is not None:
        measured = [(r["backend"], Measurement.from_dict(r["measurement"])) for r in rows
                    if r["status"] == "ok" and r["measurement"]]
        budget = {"budget_ms": options.latency_budget_ms,
                  "choices": [c.to_dict() for c in select_within_budget(measured, options.latency_budget_ms)]}
    return _json_safe({
        "schema": "vgg-deploy-bench", "schema_version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_s": round(time.time() - started, 1),
        "command": list(command if command is not None else sys.argv),
        "machine": environment_facts(),
        "settings": {**{k: v for k, v in asdict(options).items() if k not in ("batch_sizes", "duration_s")},
                     "batch_sizes": list(batch_sizes), "duration_s": duration if not options.iterations else None,
                     "threads": threads},
        "copies": _copies_sentence(options, rows),
        "model": {"name": config.name, "input_size": list(config.input_size), "in_channels": config.in_channels,
                  "num_classes": config.num_classes, "weights": ws.weights_note, "macs_per_image": model_macs(config),
                  "flops_per_image": flops},
        "inputs": {"note": inputs.note, "count": len(inputs.eval), "source": inputs.eval.source,
                   "labelled": inputs.eval.labels is not None, "synthetic": inputs.eval.synthetic,
                   "calibration": None if inputs.calibration is None else inputs.calibration.describe(),
                   "synthetic_calibration": bool(inputs.calibration is not None and inputs.calibration.synthetic)},
        "reference": {k: v for k, v in reference.items() if k != "logits"},
        "machine_peak": peaks,
        "artifacts": {kind: {"path": str(path), "size_mb": _size_mb(path),
                             "origin": "given" if kind in ws.given else ws.made.get(kind, "made")}
                      for kind, path in ws.artifacts.items()},
        "results": rows, "skipped": skipped, "executed": executed, "budget": budget,
        "warnings": _warnings(rows, runnable),
    })


def _warnings(rows: list[dict[str, Any]], runnable: list[Backend]) -> list[str]:
    warnings = [f"{r['backend']} at batch {r['batch_size']}: {r['warning']}" for r in rows if r.get("warning")]
    if all(b.name != BASELINE for b in runnable):
        warnings.append(f"no speed-ups: the baseline backend {BASELINE!r} (eager fp32) was not in the run")
    return warnings


def _json_safe(value: Any) -> Any:
    """NaN and Inf (e.g. the parity of a NaN output) become null: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _prepare_artifacts(ws: Workspace, runnable: list[Backend], inputs: Any, options: BenchOptions,
                       batch_sizes: tuple[int, ...], progress: Callable[[str], None]) -> dict[str, str]:
    """Make the missing artifacts; a backend whose artifact cannot be made fails with the reason."""
    failed: dict[str, str] = {}
    for backend in runnable:  # custom backends too: they name the artifact kind they run
        try:
            ws.ensure(backend.artifact, calibration=inputs.calibration, holdout=inputs.eval.images[:32],
                      calib_method=options.calib_method, calib_batch=options.calib_batch, quantizer=options.quantizer,
                      gates=(options.min_top1, options.min_cosine), fallback=options.fallback,
                      max_fallback_layers=options.max_fallback_layers, batch_sizes=batch_sizes,
                      device=backend.runs_on(options.device), progress=progress)
        except VGGDeployError as exc:
            failed[backend.name] = f"could not make its {backend.artifact} artifact: {exc}"
            progress(f"{backend.name}: {failed[backend.name]}")
    return failed


def _reference(ws: Workspace, images: np.ndarray, threads: int | None, progress: Callable[[str], None]) -> dict[str, Any]:
    """Eager fp32 PyTorch on the CPU (IEEE fp32 by construction); ONNX Runtime fp32 when there is no PyTorch model."""
    from ..runtime import OnnxRuntimeRunner, TorchRunner

    if ws.model is not None:
        runner: Any = TorchRunner(ws.model, threads=threads)
        what = "PyTorch eager fp32 on the CPU"
    elif "checkpoint" in ws.artifacts:
        runner = TorchRunner(ws.artifacts["checkpoint"], model_name=ws.model_name, input_size=ws.config.input_size,
                             threads=threads)
        what = "PyTorch eager fp32 on the CPU"
    elif (source := ws.artifacts.get("onnx-fp32") or ws.reference_onnx) is not None:
        runner = OnnxRuntimeRunner(source, threads=threads)
        what = "ONNX Runtime fp32 on the CPU (no PyTorch model given)" if "onnx-fp32" in ws.artifacts else \
            f"ONNX Runtime fp32 on the CPU, on {source} (the source ONNX named in the engine's manifest)"
    else:
        progress("no reference: parity is not measured (only NaN/Inf are counted)")
        return {"backend": NO_REFERENCE, "logits": None}
    progress(f"reference logits: {what}, {len(images)} inputs")
    with runner:
        logits = runner.infer_all(images, batch_size=32)
    return {"backend": what, "logits": logits}


def _write_inputs(work: Path, samples: Any, reference: np.ndarray | None) -> dict[str, str | None]:
    work.mkdir(parents=True, exist_ok=True)
    np.save(work / "inputs.npy", samples.images)
    files: dict[str, str | None] = {"inputs": str(work / "inputs.npy"), "reference": None, "labels": None}
    if reference is not None:
        np.save(work / "reference.npy", reference)
        files["reference"] = str(work / "reference.npy")
    if samples.labels is not None:
        np.save(work / "labels.npy", samples.labels)
        files["labels"] = str(work / "labels.npy")
    return files


def _peaks(device: str, threads: int | None, progress: Callable[[str], None]) -> dict[str, Any]:
    from .peak import measure_peaks

    return measure_peaks(device=device, threads=threads, progress=progress)


def _spec(backend: Backend, batch: int, ws: Workspace, options: BenchOptions, files: dict[str, str | None],
          threads: int | None, duration: float | None, work: Path, *, inspect: bool) -> dict[str, Any]:
    artifact = ws.artifacts.get(backend.artifact)
    return {
        "backend": backend.name, "batch_size": batch, "artifact": str(artifact) if artifact else None,
        "model_name": ws.model_name, "input_size": list(ws.config.input_size),
        "device": backend.runs_on(options.device), "threads": threads, "warmup": options.warmup,
        "iterations": options.iterations, "duration_s": None if options.iterations else duration,
        "include_copies": options.include_copies, "cuda_graphs": options.cuda_graphs, "inspect": inspect,
        "work": str(work), "custom_backend": spec_fields(backend), **files,
    }


def _row(backend: Backend, batch: int, options: BenchOptions, ws: Workspace, result: dict[str, Any]) -> dict[str, Any]:
    artifact = ws.artifacts.get(backend.artifact)
    measurement = result.get("measurement")
    warning = Measurement.from_dict(measurement).warning() if measurement else None
    return {
        "backend": backend.name, "batch_size": batch, "status": result.get("status", "failed"),
        "reason": result.get("reason"), "precision": backend.label, "compute": backend.compute,
        "family": backend.family, "device": backend.runs_on(options.device),
        "artifact": str(artifact) if artifact else None, "artifact_mb": _size_mb(artifact) if artifact else None,
        "runner": result.get("runner"), "measurement": measurement, "parity": result.get("parity"),
        "accuracy": result.get("accuracy"), "peak_rss_mb": result.get("peak_rss_mb"),
        "gpu_memory": result.get("gpu_memory"), "copies_included": result.get("copies_included"),
        "activation_s": result.get("activation_s"), "subprocess": bool(result.get("subprocess", False)),
        "notes": list(result.get("notes", [])), "warning": warning,
        "speedup_vs_torch": None, "achieved_ops_per_s": None, "peak_fraction": None,
    }


def _derive(rows: list[dict[str, Any]], peaks: dict[str, Any], flops: int) -> None:
    """Speed-up against eager fp32 at the same batch size, and the fraction of the machine's peak."""
    baseline = {r["batch_size"]: r["measurement"]["images_per_s"] for r in rows
                if r["backend"] == BASELINE and r["status"] == "ok" and r["measurement"]}
    for row in rows:
        if row["status"] != "ok" or not row["measurement"]:
            continue
        speed = row["measurement"]["images_per_s"]
        if row["batch_size"] in baseline:
            row["speedup_vs_torch"] = speed / baseline[row["batch_size"]]
        row["achieved_ops_per_s"] = speed * flops
        peak = peaks.get(_device_kind(row["device"]), {}).get(row["compute"])
        if peak:
            row["peak_fraction"] = row["achieved_ops_per_s"] / peak["ops_per_s"]


def _device_kind(device: str) -> str:
    return "cuda" if device.startswith("cuda") else "cpu"


def _copies_sentence(options: BenchOptions, rows: list[dict[str, Any]]) -> str:
    flags = {r["backend"]: r["copies_included"] for r in rows if r.get("copies_included") is not None}
    if not flags:
        return "not applicable: every backend ran on the CPU (inputs and outputs are host arrays)"
    included = sorted({b for b, f in flags.items() if f})
    excluded = sorted({b for b, f in flags.items() if not f})
    parts = []
    if included:
        parts.append(f"host<->device copies included for {', '.join(included)}")
    if excluded:
        parts.append(f"excluded (inputs already on the GPU) for {', '.join(excluded)}")
    return "; ".join(parts) + f" (--include-copies {'on' if options.include_copies else 'off'})"


def _summary(row: dict[str, Any]) -> str:
    if row["status"] != "ok":
        return f"{row['status']}: {row['reason']}"
    m = row["measurement"]
    parity = row["parity"] or {}
    text = f"{m['images_per_s']:.4g} img/s, p50 {m['median_ms']:.4g} ms, p99 {m['p99_ms']:.4g} ms"
    if "top1_agreement" in parity:
        text += f", top-1 agreement {parity['top1_agreement']:.1%}"
    return text


def _size_mb(path: Path | None) -> float | None:
    try:
        return path.stat().st_size / 1e6 if path is not None else None
    except OSError:
        return None


def _clock(seconds: float) -> str:
    seconds = max(0, math.ceil(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
