"""Triton's Prometheus counters for one model: requests, executions (formed batches) and inferences (images)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ModelCounters", "parse_counters", "scrape_counters", "scrape_models", "model_names"]

_LINE = re.compile(r'^(nv_inference_request_success|nv_inference_request_failure|nv_inference_exec_count|'
                   r'nv_inference_count)\{([^}]*)\}\s+([0-9.eE+-]+)\s*$')


@dataclass(frozen=True)
class ModelCounters:
    requests: int  # successful requests
    failures: int
    executions: int  # batches the model ran
    inferences: int  # images (a request of batch b counts b)

    def __sub__(self, other: ModelCounters) -> ModelCounters:
        return ModelCounters(self.requests - other.requests, self.failures - other.failures,
                             self.executions - other.executions, self.inferences - other.inferences)

    @property
    def average_batch(self) -> float | None:
        """Images per execution: the batch size Triton's dynamic batcher actually formed."""
        return self.inferences / self.executions if self.executions else None


def parse_counters(text: str, model: str) -> ModelCounters:
    """The counters of `model` (all versions) in a Prometheus text exposition."""
    totals = {"nv_inference_request_success": 0.0, "nv_inference_request_failure": 0.0,
              "nv_inference_exec_count": 0.0, "nv_inference_count": 0.0}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match and f'model="{model}"' in match.group(2):
            totals[match.group(1)] += float(match.group(3))
    return ModelCounters(int(totals["nv_inference_request_success"]), int(totals["nv_inference_request_failure"]),
                         int(totals["nv_inference_exec_count"]), int(totals["nv_inference_count"]))


def model_names(text: str) -> list[str]:
    """The models a Prometheus text exposition has inference counters for."""
    return sorted(set(re.findall(r'^nv_inference_count\{[^}]*model="([^"]+)"', text, flags=re.MULTILINE)))


def _fetch(metrics_url: str, timeout_s: float) -> str:
    import urllib.request

    with urllib.request.urlopen(metrics_url, timeout=timeout_s) as response:  # noqa: S310 (the user's URL)
        return response.read().decode("utf-8", "replace")


def scrape_counters(metrics_url: str, model: str, *, timeout_s: float = 5.0) -> ModelCounters:
    """Read `metrics_url` (e.g. http://127.0.0.1:8002/metrics) once."""
    return parse_counters(_fetch(metrics_url, timeout_s), model)


def scrape_models(metrics_url: str, *, timeout_s: float = 5.0) -> list[str]:
    """The models Triton reports metrics for (its repository API may be restricted, as PyTriton's is)."""
    return model_names(_fetch(metrics_url, timeout_s))
