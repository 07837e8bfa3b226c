"""The call that is timed, per backend: the runner's own `timed_call` hook (host arrays in and out, or on a GPU
without --include-copies inputs already on the device, so the figure is the model's time and not PCIe's), and
what the report says about it in the bench's words (backend names, the flags as given).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..devices import is_cuda
from ..runtime.base import BaseRunner
from .backends import Backend

__all__ = ["timed_call"]

Call = Callable[[], Any]


def timed_call(runner: BaseRunner, backend: Backend, batch: np.ndarray,
               spec: dict[str, Any]) -> tuple[Call, bool | None, list[str]]:
    """(call, host<->device copies included? (None on the CPU), notes) for one active runner and batch."""
    on_cuda = is_cuda(backend.runs_on(str(spec["device"])))
    include = bool(spec.get("include_copies"))
    graphs = bool(spec.get("cuda_graphs"))
    if not on_cuda:
        timed = runner.timed_call(batch, include_copies=include)
        return timed.call, None, ["--cuda-graphs does not apply on the CPU"] if graphs else []
    timed = runner.timed_call(batch, include_copies=include, cuda_graphs=graphs)
    notes = list(timed.notes)
    copies = True if timed.copies_included is None else timed.copies_included  # a runner on the GPU that won't say
    if copies:  # the runner's call copies on every call: say so, and that graphs were not used
        if graphs and not timed.cuda_graphs and backend.family != "trt":
            notes.append(f"--cuda-graphs is not supported by {backend.name}")
        if not include:
            notes.append(f"{backend.name}: its runner copies host<->device on every call; copies are included")
    return timed.call, copies, notes
