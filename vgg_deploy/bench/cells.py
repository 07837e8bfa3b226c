"""The measuring step of `run_bench`: every (backend, batch size) cell in a worker, as a report row, then the
figures derived across rows (speed-up over eager fp32, fraction of the machine's peak)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..devices import is_cuda
from ..log import progress_bar
from .backends import Backend, spec_fields
from .budget import over_budget
from .measure import run_in_subprocess, run_spec
from .workspace import Workspace
from .records import ReportRow, WorkerResult
from .stats import Measurement

if TYPE_CHECKING:
    from .harness import BenchOptions
    from .peak import PeakFigure

log = logging.getLogger(__name__)

__all__ = ["Cell", "Reference", "measure_cells", "derive_rows", "copies_sentence", "device_kind", "size_mb",
           "BASELINE"]

BASELINE = "torch"


@dataclass(frozen=True)
class Reference:
    """The logits every backend is compared with, and what produced them."""

    backend: str
    logits: np.ndarray | None


@dataclass(frozen=True)
class Cell:
    """How every cell of one run is measured (the same for all of them)."""

    ws: Workspace
    options: BenchOptions
    files: dict[str, str | None]  # inputs.npy, reference.npy, labels.npy
    threads: int | None
    duration: float | None
    work: Path


def measure_cells(cell: Cell, runnable: list[Backend], batch_sizes: tuple[int, ...],
                  failed_prep: dict[str, str]) -> tuple[list[ReportRow], dict[str, Any]]:
    """Every backend at every batch size (in a worker unless in_process); rows in plan order, and what each
    backend executed (inspected once per backend). A sweep stops a backend at the first batch over budget."""
    options = cell.options
    plan = [(b, n) for b in runnable for n in batch_sizes]
    rows: list[ReportRow] = []
    executed: dict[str, Any] = {}
    over: dict[str, int] = {}
    spent: list[float] = []
    for index, (backend, batch) in enumerate(progress_bar(plan, desc="bench", unit="cell"), start=1):
        if backend.name in failed_prep:
            rows.append(_row(backend, batch, cell, WorkerResult(backend.name, batch, "failed", failed_prep[backend.name])))
            continue
        if backend.name in over:
            reason = f"batch {over[backend.name]} already exceeded the {options.latency_budget_ms:g} ms budget"
            rows.append(_row(backend, batch, cell, WorkerResult(backend.name, batch, "skipped", reason)))
            continue
        left = (len(plan) - index + 1) * (sum(spent) / len(spent)) if spent else None
        log.info(f"[{index}/{len(plan)}] {backend.name}, batch {batch}" + (f" (~{_clock(left)} left)" if left else ""))
        spec = _spec(backend, batch, cell, inspect=backend.name not in executed)
        tick = time.perf_counter()
        result = run_spec(spec, backend=backend) if options.in_process else \
            run_in_subprocess(spec, log_path=cell.work / "logs" / f"{backend.name}-b{batch}.log")
        spent.append(time.perf_counter() - tick)
        if result.executed is not None:
            executed[backend.name] = result.executed
            result.executed = None
        row = _row(backend, batch, cell, result)
        rows.append(row)
        log.info("    " + _summary(row))
        m = row.measurement
        if options.latency_budget_ms is not None and m and over_budget(Measurement.from_summary(m),
                                                                       options.latency_budget_ms):
            over[backend.name] = batch
    return rows, executed


def _spec(backend: Backend, batch: int, cell: Cell, *, inspect: bool) -> dict[str, Any]:
    ws, options = cell.ws, cell.options
    artifact = ws.artifacts.get(backend.artifact)
    return {
        "backend": backend.name, "batch_size": batch, "artifact": str(artifact) if artifact else None,
        "model_name": ws.model_name, "input_size": list(ws.config.input_size),
        "device": backend.runs_on(options.device), "threads": cell.threads, "warmup": options.warmup,
        "iterations": options.iterations, "duration_s": None if options.iterations else cell.duration,
        "include_copies": options.include_copies, "cuda_graphs": options.cuda_graphs, "inspect": inspect,
        "work": str(cell.work), "custom_backend": spec_fields(backend), **cell.files,
    }


def _row(backend: Backend, batch: int, cell: Cell, result: WorkerResult) -> ReportRow:
    artifact = cell.ws.artifacts.get(backend.artifact)
    measurement = result.measurement
    warning = Measurement.from_summary(measurement).warning() if measurement else None
    return ReportRow(
        backend=backend.name, batch_size=batch, status=result.status, reason=result.reason,
        precision=backend.label, compute=backend.compute,  # type: ignore[arg-type]  # a Backend's compute is one of them
        family=backend.family, device=backend.runs_on(cell.options.device),
        artifact=str(artifact) if artifact else None, artifact_mb=size_mb(artifact) if artifact else None,
        runner=result.runner, measurement=measurement, parity=result.parity, accuracy=result.accuracy,
        peak_rss_mb=result.peak_rss_mb, gpu_memory=result.gpu_memory, copies_included=result.copies_included,
        activation_s=result.activation_s, subprocess=result.subprocess, notes=list(result.notes), warning=warning,
    )


def derive_rows(rows: list[ReportRow], peaks: dict[str, dict[str, PeakFigure]], flops: int) -> None:
    """Speed-up against eager fp32 at the same batch size, and the fraction of the machine's peak."""
    baseline = {r.batch_size: r.measurement.images_per_s for r in rows
                if r.backend == BASELINE and r.status == "ok" and r.measurement}
    for row in rows:
        if row.status != "ok" or not row.measurement:
            continue
        speed = row.measurement.images_per_s
        if row.batch_size in baseline:
            row.speedup_vs_torch = speed / baseline[row.batch_size]
        row.achieved_ops_per_s = speed * flops
        peak = peaks.get(device_kind(row.device), {}).get(row.compute)
        if peak:
            row.peak_fraction = row.achieved_ops_per_s / peak.ops_per_s


def copies_sentence(include_copies: bool, rows: list[ReportRow]) -> str:
    flags = {r.backend: r.copies_included for r in rows if r.copies_included is not None}
    if not flags:
        return "not applicable: every backend ran on the CPU (inputs and outputs are host arrays)"
    included = sorted({b for b, f in flags.items() if f})
    excluded = sorted({b for b, f in flags.items() if not f})
    parts = []
    if included:
        parts.append(f"host<->device copies included for {', '.join(included)}")
    if excluded:
        parts.append(f"excluded (inputs already on the GPU) for {', '.join(excluded)}")
    return "; ".join(parts) + f" (--include-copies {'on' if include_copies else 'off'})"


def device_kind(device: str) -> str:
    return "cuda" if is_cuda(device) else "cpu"


def size_mb(path: Path | None) -> float | None:
    try:
        return path.stat().st_size / 1e6 if path is not None else None
    except OSError:
        return None


def _summary(row: ReportRow) -> str:
    if row.status != "ok" or row.measurement is None:
        return f"{row.status}: {row.reason}"
    m = row.measurement
    parity = row.parity or {}
    text = f"{m.images_per_s:.4g} img/s, p50 {m.median_ms:.4g} ms, p99 {m.p99_ms:.4g} ms"
    if "top1_agreement" in parity:
        text += f", top-1 agreement {parity['top1_agreement']:.1%}"
    return text


def _clock(seconds: float) -> str:
    seconds = max(0, math.ceil(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
