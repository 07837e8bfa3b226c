"""`--latency-budget-ms`: per backend, the batch size with the highest throughput whose p99 stays within budget —
the question a capacity planner asks ("how many images/s can this serve at p99 <= X ms?")."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

from .stats import Measurement

__all__ = ["BudgetChoice", "select_within_budget", "DEFAULT_SWEEP", "over_budget"]

DEFAULT_SWEEP = (1, 2, 4, 8, 16, 32, 64)  # batch sizes tried when a budget is given without --batch-sizes


@dataclass(frozen=True)
class BudgetChoice:
    backend: str
    budget_ms: float
    batch_size: int | None  # None: no measured batch met the budget
    images_per_s: float | None
    p99_ms: float | None
    tried: tuple[int, ...]  # batch sizes measured for this backend

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tried": list(self.tried)}


def over_budget(measurement: Measurement, budget_ms: float) -> bool:
    """A batch whose median already exceeds the budget: larger batches are slower still, so a sweep stops there."""
    return measurement.median * 1e3 > budget_ms


def select_within_budget(measured: Iterable[tuple[str, Measurement]], budget_ms: float) -> list[BudgetChoice]:
    """For each backend (in first-seen order): the measured batch with the highest images/s among those whose
    p99 <= budget_ms; ties go to the smaller batch (lower latency for the same throughput)."""
    by_backend: dict[str, list[Measurement]] = {}
    for backend, measurement in measured:
        by_backend.setdefault(backend, []).append(measurement)
    choices = []
    for backend, measurements in by_backend.items():
        fitting = [m for m in measurements if m.p99 * 1e3 <= budget_ms]
        tried = tuple(sorted(m.batch_size for m in measurements))
        if not fitting:
            choices.append(BudgetChoice(backend, budget_ms, None, None, None, tried))
            continue
        best = max(fitting, key=lambda m: (m.images_per_s, -m.batch_size))
        choices.append(BudgetChoice(backend, budget_ms, best.batch_size, best.images_per_s, best.p99 * 1e3, tried))
    return choices
