"""Latency statistics that keep their raw samples, as torch.utils.benchmark's Measurement does.

Percentiles are numpy's default quantiles: linear interpolation between closest ranks (Hyndman & Fan type 7,
`method="linear"`): for sorted samples x[0..n-1] and a fraction q, the position is h = (n - 1) * q and the value
x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]). The IQR is p75 - p25 under the same rule.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from .dataschema import schema_meta

__all__ = ["Measurement", "MeasurementSummary", "percentile", "WIDE_SPREAD"]

WIDE_SPREAD = 0.10  # IQR / median above this: the run was noisy and its figures deserve a warning


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1) of `values` by linear interpolation between closest ranks."""
    if not len(values):
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    return float(np.quantile(np.asarray(values, dtype=np.float64), q, method="linear"))


@dataclass(frozen=True)
class MeasurementSummary:
    """A Measurement as report.json holds it: the figures in milliseconds, and the raw latencies."""

    batch_size: int = field(metadata=schema_meta(minimum=1))
    warmup: int = field(metadata=schema_meta(minimum=0))
    count: int = field(metadata=schema_meta(minimum=1))
    median_ms: float = field(metadata=schema_meta(minimum=0))
    p90_ms: float = field(metadata=schema_meta(minimum=0))
    p99_ms: float = field(metadata=schema_meta(minimum=0))
    max_ms: float = field(metadata=schema_meta(minimum=0))
    min_ms: float = field(metadata=schema_meta(minimum=0))
    mean_ms: float = field(metadata=schema_meta(minimum=0))
    iqr_ms: float = field(metadata=schema_meta(minimum=0))
    relative_spread: float = field(metadata=schema_meta(minimum=0))
    wide_spread: bool
    images_per_s: float = field(metadata=schema_meta(minimum=0))
    latencies_ms: list[float] = field(metadata=schema_meta(minimum=0, min_items=1))


@dataclass(frozen=True)
class Measurement:
    """Wall-clock seconds of each timed call at one batch size; every figure derives from them."""

    batch_size: int
    latencies_s: tuple[float, ...]
    warmup: int = 0  # calls made before timing began (not in latencies_s)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.latencies_s:
            raise ValueError("a Measurement needs at least one timed call")
        if any(not math.isfinite(t) or t <= 0 for t in self.latencies_s):
            raise ValueError("latencies must be finite and positive")

    @property
    def count(self) -> int:
        return len(self.latencies_s)

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_s, q)

    @property
    def median(self) -> float:
        return self.percentile(0.5)

    @property
    def p90(self) -> float:
        return self.percentile(0.9)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)

    @property
    def max(self) -> float:
        return max(self.latencies_s)

    @property
    def min(self) -> float:
        return min(self.latencies_s)

    @property
    def mean(self) -> float:
        return sum(self.latencies_s) / self.count

    @property
    def iqr(self) -> float:
        return self.percentile(0.75) - self.percentile(0.25)

    @property
    def relative_spread(self) -> float:
        """IQR / median: the run-to-run noise as a fraction of the typical latency."""
        return self.iqr / self.median

    @property
    def wide_spread(self) -> bool:
        return self.relative_spread > WIDE_SPREAD

    @property
    def images_per_s(self) -> float:
        """Throughput at the median latency: batch_size / median (robust to a few slow calls)."""
        return self.batch_size / self.median

    def warning(self) -> str | None:
        """One line when the spread is wide (or the sample too small for its p99), else None."""
        notes = []
        if self.wide_spread:
            notes.append(f"wide spread: IQR {self.iqr * 1e3:.3g} ms is {self.relative_spread:.0%} of the median "
                         f"(> {WIDE_SPREAD:.0%}); the machine was busy or the run too short")
        if self.count < 10:
            notes.append(f"only {self.count} timed calls: p99 is interpolated from few samples")
        return "; ".join(notes) or None

    def summary(self) -> MeasurementSummary:
        ms = 1e3
        return MeasurementSummary(
            batch_size=self.batch_size, warmup=self.warmup, count=self.count,
            median_ms=self.median * ms, p90_ms=self.p90 * ms, p99_ms=self.p99 * ms,
            max_ms=self.max * ms, min_ms=self.min * ms, mean_ms=self.mean * ms, iqr_ms=self.iqr * ms,
            relative_spread=self.relative_spread, wide_spread=self.wide_spread,
            images_per_s=self.images_per_s, latencies_ms=[t * ms for t in self.latencies_s],
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self.summary())

    @classmethod
    def from_summary(cls, summary: MeasurementSummary) -> Measurement:
        """Rebuild from a summary: the raw latencies are the truth, the figures are recomputed."""
        return cls.from_dict(asdict(summary))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        """Rebuild from to_dict()'s output: the raw latencies are the truth, the summary is recomputed."""
        return cls(batch_size=int(data["batch_size"]), warmup=int(data.get("warmup", 0)),
                   latencies_s=tuple(float(t) / 1e3 for t in data["latencies_ms"]))
