"""The records the bench passes around and writes: a worker's result, a report row, the report itself.

report.json is `BenchReport.to_dict()`; its JSON Schema (report.schema.json) is generated from these classes
(`schema.report_schema`). Free-form parts (the machine's facts, a parity's figures, what a runtime executed)
stay dicts in the producer's key order; `field(metadata=schema_meta(schema_of=...))` names the record they follow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final, Literal, Optional

from .budget import BudgetChoice
from .dataschema import schema_meta
from .peak import PeakFigure
from .stats import MeasurementSummary

__all__ = ["WorkerResult", "ReportRow", "BenchReport", "ParityFigures", "ExecutedFacts", "SkippedBackend",
           "SettingsFacts", "ModelFacts", "InputFacts", "ReferenceFacts", "ArtifactFacts", "BudgetReport", "json_safe",
           "SCHEMA_NAME", "SCHEMA_VERSION"]

SCHEMA_NAME: Final = "vgg-deploy-bench"
SCHEMA_VERSION: Final = 1
Status = Literal["ok", "failed", "skipped"]
Compute = Literal["fp32", "tf32", "bf16", "fp16", "int8"]


@dataclass(frozen=True)
class ParityFigures:
    """A row's parity: export.parity.Parity's figures, or only the NaN/Inf count when there is no reference."""

    nonfinite: int = field(metadata=schema_meta(minimum=0))
    max_abs_diff: Optional[float] = None
    cosine: Optional[float] = None
    top1_agreement: Optional[float] = field(default=None, metadata=schema_meta(minimum=0, maximum=1))
    top5_containment: Optional[float] = field(default=None, metadata=schema_meta(minimum=0, maximum=1))
    samples: Optional[int] = field(default=None, metadata=schema_meta(minimum=0))
    note: Optional[str] = None


@dataclass(frozen=True)
class ExecutedFacts:
    """What a runtime executed: compute layers counted by precision (more keys than these, per runtime)."""

    source: str
    available: bool
    note: Optional[str] = None


@dataclass
class WorkerResult:
    """One backend at one batch size, as a worker measured it (JSON between the worker and the harness).
    Fields stay None where the run did not get that far."""

    backend: str
    batch_size: int
    status: Status = "ok"
    reason: Optional[str] = None
    notes: list[str] = field(default_factory=list)
    activation_s: Optional[float] = None
    runner: Optional[str] = None
    copies_included: Optional[bool] = None
    measurement: Optional[MeasurementSummary] = None
    peak_rss_mb: Optional[float] = None
    gpu_memory: Optional[dict[str, Any]] = None
    parity: Optional[dict[str, Any]] = field(default=None, metadata=schema_meta(schema_of=Optional[ParityFigures]))
    accuracy: Optional[float] = None
    executed: Optional[dict[str, Any]] = None
    subprocess: bool = False  # measured in a worker process (a worker that died says False, as before)

    def fail(self, reason: str) -> WorkerResult:
        self.status, self.reason = "failed", reason
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkerResult:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("measurement") is not None:
            values["measurement"] = MeasurementSummary(**values["measurement"])
        return cls(**values)


@dataclass
class ReportRow:
    """One backend at one batch size in report.json; the last three are derived across rows."""

    backend: str
    batch_size: int = field(metadata=schema_meta(minimum=1))
    status: Status
    reason: Optional[str]
    precision: str
    compute: Compute
    family: str
    device: str
    artifact: Optional[str]
    artifact_mb: Optional[float] = field(metadata=schema_meta(minimum=0))
    runner: Optional[str]
    measurement: Optional[MeasurementSummary]
    parity: Optional[dict[str, Any]] = field(metadata=schema_meta(schema_of=Optional[ParityFigures]))
    accuracy: Optional[float] = field(metadata=schema_meta(minimum=0, maximum=1))
    peak_rss_mb: Optional[float] = field(metadata=schema_meta(minimum=0))
    gpu_memory: Optional[dict[str, Any]]
    copies_included: Optional[bool]
    activation_s: Optional[float] = field(metadata=schema_meta(minimum=0))
    subprocess: bool
    notes: list[str]
    warning: Optional[str]
    speedup_vs_torch: Optional[float] = field(default=None, metadata=schema_meta(minimum=0))
    achieved_ops_per_s: Optional[float] = field(default=None, metadata=schema_meta(minimum=0))
    peak_fraction: Optional[float] = field(default=None, metadata=schema_meta(minimum=0))


@dataclass(frozen=True)
class SettingsFacts:
    """The settings every report has (BenchOptions as resolved: batch sizes, duration, threads; and the rest)."""

    backends: str
    batch_sizes: list[int] = field(metadata=schema_meta(minimum=1, min_items=1))
    warmup: int = field(metadata=schema_meta(minimum=0))
    iterations: Optional[int] = field(metadata=schema_meta(minimum=1))
    duration_s: Optional[float] = field(metadata=schema_meta(minimum=0))
    threads: Optional[int] = field(metadata=schema_meta(minimum=1))
    device: str
    include_copies: bool
    cuda_graphs: bool
    in_process: bool
    latency_budget_ms: Optional[float] = field(metadata=schema_meta(minimum=0))


@dataclass(frozen=True)
class SkippedBackend:
    backend: str
    precision: str
    reason: str


@dataclass(frozen=True)
class ModelFacts:
    name: str
    input_size: list[int] = field(metadata=schema_meta(minimum=1, min_items=2, max_items=2))
    in_channels: int = field(metadata=schema_meta(minimum=1))
    num_classes: int = field(metadata=schema_meta(minimum=1))
    weights: str
    macs_per_image: int = field(metadata=schema_meta(minimum=1))
    flops_per_image: int = field(metadata=schema_meta(minimum=1))


@dataclass(frozen=True)
class InputFacts:
    note: str
    count: int = field(metadata=schema_meta(minimum=1))
    source: str
    labelled: bool
    synthetic: bool
    calibration: Optional[str]
    synthetic_calibration: bool


@dataclass(frozen=True)
class ReferenceFacts:
    backend: str
    accuracy: Optional[float] = field(metadata=schema_meta(minimum=0, maximum=1))


@dataclass(frozen=True)
class ArtifactFacts:
    path: str
    size_mb: Optional[float]
    origin: str


@dataclass(frozen=True)
class BudgetReport:
    budget_ms: float = field(metadata=schema_meta(minimum=0))
    choices: list[BudgetChoice]


@dataclass
class BenchReport:
    """report.json: what was measured, on what, how, and every row."""

    schema: Literal["vgg-deploy-bench"]
    schema_version: Literal[1]
    created: str
    wall_s: float = field(metadata=schema_meta(minimum=0))
    command: list[str]
    machine: dict[str, Any] = field(metadata=schema_meta(required=("cpu", "gpus", "python")))
    settings: dict[str, Any] = field(metadata=schema_meta(schema_of=SettingsFacts))  # BenchOptions, resolved
    copies: str
    model: ModelFacts
    inputs: InputFacts
    reference: ReferenceFacts
    machine_peak: dict[str, dict[str, PeakFigure]]  # device kind ("cpu", "cuda") -> precision -> peak
    artifacts: dict[str, ArtifactFacts]
    results: list[ReportRow]
    skipped: list[SkippedBackend]
    executed: dict[str, dict[str, Any]] = field(metadata=schema_meta(schema_of=dict[str, ExecutedFacts]))
    budget: Optional[BudgetReport]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, NaN and Inf as null (JSON has no such numbers)."""
        return json_safe(asdict(self))


def json_safe(value: Any) -> Any:
    """NaN and Inf (e.g. the parity of a NaN output) become null; tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
