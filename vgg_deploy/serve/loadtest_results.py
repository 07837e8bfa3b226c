"""What a load test asks for (`LoadTestSpec`) and what it measured (`LoadTestResult`), as JSON and Markdown like
`bench`'s reports."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

from ..bench.stats import Measurement
from ..environment import read_cpuinfo
from ..tables import md_table
from .metrics import ModelCounters

__all__ = ["LoadTestSpec", "LoadTestResult", "render_markdown", "machine_facts"]


@dataclass(frozen=True)
class LoadTestSpec:
    url: str  # host:port, with or without http:// or grpc://
    protocol: str = "http"
    model: str | None = None  # None: the only model the server has
    concurrency: int = 8
    requests: int = 400
    batch: int = 1
    warmup: int = 8
    metrics_url: str | None = None  # None: port 8002 on the server's host
    timeout_s: float = 300.0  # the whole run, warmup included
    seed: int = 0


@dataclass(frozen=True)
class LoadTestResult:
    spec: LoadTestSpec
    model: str
    input_shape: tuple[int, ...]  # one request's shape, batch included
    latency: Measurement | None  # seconds per successful request; None when none succeeded
    wall_s: float
    completed: int
    errors: int
    error_samples: tuple[str, ...]
    server: ModelCounters | None  # counter deltas over the timed run; None when metrics were unreachable
    created: str
    machine: dict[str, Any] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    timed_out: bool = False
    endpoint: str = ""  # protocol://host:port actually used

    @property
    def requests_per_s(self) -> float:
        return self.completed / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        latency = self.latency
        ms = (lambda v: round(v * 1e3, 4))
        return {
            "schema": "vgg-deploy-loadtest", "schema_version": 1, "created": self.created,
            "command": list(self.command), "machine": self.machine, "spec": asdict(self.spec), "model": self.model,
            "endpoint": self.endpoint,
            "input_shape": list(self.input_shape), "wall_s": round(self.wall_s, 4), "completed": self.completed,
            "errors": self.errors, "error_samples": list(self.error_samples), "timed_out": self.timed_out,
            "requests_per_s": round(self.requests_per_s, 3),
            "images_per_s": round(self.requests_per_s * self.spec.batch, 3),
            "latency_ms": None if latency is None else {
                "p50": ms(latency.median), "p90": ms(latency.p90), "p99": ms(latency.p99),
                "mean": ms(latency.mean), "min": ms(latency.min), "max": ms(latency.max)},
            "latencies_s": [] if latency is None else [round(v, 7) for v in latency.latencies_s],
            "server": None if self.server is None else {
                **asdict(self.server), "average_batch": self.server.average_batch,
                "requests_per_execution": (self.server.requests / self.server.executions
                                           if self.server.executions else None)},
        }


def machine_facts() -> dict[str, Any]:
    """Python, platform, CPU model and core count of the machine that sends the requests."""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": read_cpuinfo()[0] or "unknown",
            "cores": os.cpu_count()}


def render_markdown(report: dict[str, Any]) -> str:
    """The load-test report (its JSON form) as Markdown."""
    spec, lat, server = report["spec"], report["latency_ms"], report["server"]
    lines = [f"# vgg-deploy loadtest: {report['model']}", ""]
    lines += [f"- command: `{' '.join(report['command'])}`" if report["command"] else "- command: (API call)",
              f"- created: {report['created']}",
              f"- machine: {report['machine'].get('cpu')}, {report['machine'].get('cores')} cores, "
              f"Python {report['machine'].get('python')}",
              f"- server: {report['endpoint']}, {spec['concurrency']} concurrent clients, "
              f"{spec['requests']} requests of batch {spec['batch']} (shape {report['input_shape']}), "
              f"{spec['warmup']} warmup", ""]
    cell = (lambda v: "—" if v is None else f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}")
    header = ["Requests ok", "Errors", "req/s", "img/s", "p50 ms", "p90 ms", "p99 ms", "Avg batch formed",
              "Executions"]
    row = [str(report["completed"]), str(report["errors"]), cell(report["requests_per_s"]),
           cell(report["images_per_s"]), *(cell(lat[k]) if lat else "—" for k in ("p50", "p90", "p99")),
           cell(server["average_batch"]) if server else "—", str(server["executions"]) if server else "—"]
    lines += [*md_table(header, [row]), ""]
    notes = []
    if server is None:
        notes.append("Triton's metrics were unreachable, so the batch formed is unknown.")
    if report["timed_out"]:
        notes.append(f"The run hit its {spec['timeout_s']:g} s time limit before all requests were sent.")
    notes += [f"error: {e}" for e in report["error_samples"]]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)
