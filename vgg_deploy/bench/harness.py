"""`run_bench`: every requested backend at every batch size, against the eager fp32 model on the same inputs,
with the machine's own peak for context; the result is the report (BenchReport.to_dict(), as report.json holds it).

The steps: plan (which backends can run) -> prepare (inputs, artifacts) -> reference (eager fp32 logits) ->
measure (one worker per backend and batch size) -> derive (speed-ups, peak fractions) -> assemble (the report).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import VGGDeployError
from ..models.family import ModelFamily
from ..precision.request import DEFAULT_MAX_FALLBACK_LAYERS, CalibrationRequest, FallbackPolicy, ParityGates
from .availability import BackendContext, trt_status, unavailable_reason
from .backends import Backend, BenchError, resolve_backends
from .budget import DEFAULT_SWEEP, select_within_budget
from .cells import BASELINE, Cell, Reference, copies_sentence, derive_rows, device_kind, measure_cells, size_mb
from .flops import model_flops, model_macs
from .inputs import BenchInputs, default_eval_samples, load_bench_inputs
from .prepare import ModelSource, open_workspace
from .records import (SCHEMA_NAME, SCHEMA_VERSION, ArtifactFacts, BenchReport, BudgetReport, InputFacts,
                      ModelFacts, ReferenceFacts, ReportRow, SkippedBackend)
from .stats import Measurement
from .workspace import Workspace

if TYPE_CHECKING:
    from .peak import PeakFigure

log = logging.getLogger(__name__)

__all__ = ["BenchOptions", "run_bench", "SCHEMA_VERSION", "DEFAULT_BATCH_SIZES"]

DEFAULT_BATCH_SIZES = (1, 8)
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

    @classmethod
    def of(cls, *, calibration: CalibrationRequest, gates: ParityGates = ParityGates(),
           fallback: FallbackPolicy = FallbackPolicy(), **options: Any) -> BenchOptions:
        """Options whose conversion settings are the request objects' (the report keeps them flat, as these
        fields: its `settings` are this record)."""
        return cls(calib_data=calibration.data, calib_samples=calibration.samples, calib_method=calibration.method,
                   calib_batch=calibration.batch, quantizer=calibration.quantizer, seed=calibration.seed,
                   min_top1=gates.min_top1, min_cosine=gates.min_cosine, fallback=fallback.mode,
                   max_fallback_layers=fallback.max_layers, **options)

    @property
    def calibration_request(self) -> CalibrationRequest:
        return CalibrationRequest(data=self.calib_data, quantizer=self.quantizer, method=self.calib_method,
                                  samples=self.calib_samples, batch=self.calib_batch, seed=self.seed)

    @property
    def gates(self) -> ParityGates:
        return ParityGates(min_top1=self.min_top1, min_cosine=self.min_cosine)

    @property
    def fallback_policy(self) -> FallbackPolicy:
        return FallbackPolicy(mode=self.fallback, max_layers=self.max_fallback_layers)

    def resolved_batch_sizes(self) -> tuple[int, ...]:
        if self.batch_sizes:
            return tuple(sorted(set(self.batch_sizes)))
        return DEFAULT_SWEEP if self.latency_budget_ms is not None else DEFAULT_BATCH_SIZES


@dataclass
class _Plan:
    """What will run: the workspace, the backends that can run here, those that cannot (with why)."""

    ws: Workspace
    runnable: list[Backend]
    skipped: list[SkippedBackend]
    batch_sizes: tuple[int, ...]
    threads: int | None
    duration: float | None  # per cell, when not counting iterations


def run_bench(source: ModelSource, *, out: Path, work: Path | None = None, options: BenchOptions = BenchOptions(),
              command: list[str] | None = None) -> dict[str, Any]:
    """Measure, and return the report (not yet written: see report.write_reports). Artifacts made on the way
    are cached in `work`/artifacts (default: `out`), the inputs and worker logs in `work`/work."""
    started = time.time()
    base = work or out
    plan = _plan(source, base / "artifacts", options)
    inputs, failed_prep = _prepare(plan, options)
    reference = _reference(plan.ws, inputs.eval.images, plan.threads)
    files = _write_inputs(base / "work", inputs.eval, reference.logits)
    plan.ws.model = None  # the parent's copy of the weights is no longer needed
    peaks = _peaks(plan, options) if options.measure_peak else {}
    cell = Cell(ws=plan.ws, options=options, files=files, threads=plan.threads, duration=plan.duration,
                work=base / "work")
    rows, executed = measure_cells(cell, plan.runnable, plan.batch_sizes, failed_prep)
    derive_rows(rows, peaks, model_flops(plan.ws.config))
    report = _assemble(plan, options, inputs, reference, peaks, rows, executed)
    report.created = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
    report.wall_s = round(time.time() - started, 1)
    report.command = list(command if command is not None else sys.argv)
    return report.to_dict()


def _plan(source: ModelSource, artifacts: Path, options: BenchOptions) -> _Plan:
    """Open the workspace and sort the requested backends into runnable and skipped (with the reason)."""
    threads = options.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    duration = options.duration_s if options.duration_s is not None or options.iterations else 10.0
    ws = open_workspace(source, artifacts)
    context = BackendContext(device=options.device, torch_model=ws.model is not None or "checkpoint" in ws.artifacts,
                             artifact_kinds=ws.makeable(tensorrt=trt_status() is None))
    skipped: list[SkippedBackend] = []
    runnable: list[Backend] = []
    for backend in resolve_backends(options.backends, device=options.device):
        reason = unavailable_reason(backend, context)
        if reason is None:
            runnable.append(backend)
        else:
            skipped.append(SkippedBackend(backend=backend.name, precision=backend.label, reason=reason))
            log.info("skipping %s: %s", backend.name, reason)
    if not runnable:
        reasons = "; ".join(f"{s.backend}: {s.reason}" for s in skipped)
        raise BenchError(f"no requested backend can run here: {reasons}")
    return _Plan(ws=ws, runnable=runnable, skipped=skipped, batch_sizes=options.resolved_batch_sizes(),
                 threads=threads, duration=duration)


def _prepare(plan: _Plan, options: BenchOptions) -> tuple[BenchInputs, dict[str, str]]:
    """The evaluation (and calibration) inputs, then the missing artifacts; a backend whose artifact cannot be
    made fails with the reason."""
    ws = plan.ws
    inputs = load_bench_inputs(ws.config, data=options.data, calib_data=options.calib_data,
                               eval_samples=options.eval_samples or default_eval_samples(model_flops(ws.config)),
                               calib_samples=options.calib_samples,
                               need_calibration=any(ws.needs_calibration(b.artifact) for b in plan.runnable),
                               seed=options.seed)
    failed: dict[str, str] = {}
    for backend in plan.runnable:  # custom backends too: they name the artifact kind they run
        try:
            ws.ensure(backend.artifact, calibration=inputs.calibration, holdout=inputs.eval.images[:32],
                      how=options.calibration_request, gates=options.gates, fallback=options.fallback_policy,
                      batch_sizes=plan.batch_sizes, device=backend.runs_on(options.device))
        except VGGDeployError as exc:
            failed[backend.name] = f"could not make its {backend.artifact} artifact: {exc}"
            log.info("%s: %s", backend.name, failed[backend.name])
    return inputs, failed


def _reference(ws: Workspace, images: np.ndarray, threads: int | None) -> Reference:
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
        log.info("no reference: parity is not measured (only NaN/Inf are counted)")
        return Reference(backend=NO_REFERENCE, logits=None)
    log.info("reference logits: %s, %d inputs", what, len(images))
    with runner:
        logits = runner.infer_all(images, batch_size=32)
    return Reference(backend=what, logits=logits)


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


def _peaks(plan: _Plan, options: BenchOptions) -> dict[str, dict[str, PeakFigure]]:
    """The machine's peak per device kind the backends run on: ORT on the CPU next to torch on a GPU."""
    from .peak import measure_peaks

    peaks: dict[str, dict[str, PeakFigure]] = {}
    for kind in dict.fromkeys(device_kind(b.runs_on(options.device)) for b in plan.runnable):
        where = options.device if kind == "cuda" else "cpu"
        peaks[kind] = measure_peaks(device=where, threads=plan.threads)
    return peaks


def _assemble(plan: _Plan, options: BenchOptions, inputs: BenchInputs, reference: Reference,
              peaks: dict[str, dict[str, PeakFigure]], rows: list[ReportRow], executed: dict[str, Any]) -> BenchReport:
    """The report, but for when and how it was made (run_bench sets those)."""
    from ..environment import environment_facts

    ws, config, labels = plan.ws, plan.ws.config, inputs.eval.labels
    accuracy = float((reference.logits.argmax(1) == labels).mean()) \
        if labels is not None and reference.logits is not None else None
    budget = None
    if options.latency_budget_ms is not None:
        measured = [(r.backend, Measurement.from_summary(r.measurement)) for r in rows
                    if r.status == "ok" and r.measurement]
        budget = BudgetReport(budget_ms=options.latency_budget_ms,
                              choices=select_within_budget(measured, options.latency_budget_ms))
    settings = {**{k: v for k, v in asdict(options).items() if k not in ("batch_sizes", "duration_s")},
                "batch_sizes": list(plan.batch_sizes), "duration_s": plan.duration if not options.iterations else None,
                "threads": plan.threads}
    return BenchReport(
        schema=SCHEMA_NAME, schema_version=SCHEMA_VERSION, created="", wall_s=0.0, command=[],
        machine=environment_facts(), settings=settings, copies=copies_sentence(options.include_copies, rows),
        model=_model_facts(config, ws.weights_note), inputs=_input_facts(inputs),
        reference=ReferenceFacts(backend=reference.backend, accuracy=accuracy), machine_peak=peaks,
        artifacts={kind: ArtifactFacts(path=str(path), size_mb=size_mb(path),
                                       origin="given" if kind in ws.given else ws.made.get(kind, "made"))
                   for kind, path in ws.artifacts.items()},
        results=rows, skipped=plan.skipped, executed=executed, budget=budget, warnings=_warnings(rows, plan.runnable),
    )


def _model_facts(config: ModelFamily, weights: str) -> ModelFacts:
    return ModelFacts(name=config.name, input_size=list(config.input_size), in_channels=config.in_channels,
                      num_classes=config.num_classes, weights=weights, macs_per_image=model_macs(config),
                      flops_per_image=model_flops(config))


def _input_facts(inputs: BenchInputs) -> InputFacts:
    calibration = inputs.calibration
    return InputFacts(note=inputs.note, count=len(inputs.eval), source=inputs.eval.source,
                      labelled=inputs.eval.labels is not None, synthetic=inputs.eval.synthetic,
                      calibration=None if calibration is None else calibration.describe(),
                      synthetic_calibration=bool(calibration is not None and calibration.synthetic))


def _warnings(rows: list[ReportRow], runnable: list[Backend]) -> list[str]:
    warnings = [f"{r.backend} at batch {r.batch_size}: {r.warning}" for r in rows if r.warning]
    if all(b.name != BASELINE for b in runnable):
        warnings.append(f"no speed-ups: the baseline backend {BASELINE!r} (eager fp32) was not in the run")
    return warnings
