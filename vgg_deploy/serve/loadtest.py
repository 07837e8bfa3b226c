"""`loadtest`: concurrent tritonclient clients against a Triton server, latency percentiles per request and the
batch Triton's dynamic batcher formed (from its metrics), as JSON and Markdown like `bench`.

Bounded in both count (`requests`) and time (`timeout_s`): a slow or dead server ends the run, never hangs it.
"""

from __future__ import annotations

import platform
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..bench.stats import Measurement
from .facts import ServeError
from .metrics import ModelCounters, scrape_counters, scrape_models

__all__ = ["LoadTestSpec", "LoadTestResult", "run_loadtest", "render_markdown", "split_url"]

_DEFAULT_PORTS = {"http": 8000, "grpc": 8001}
_MAX_ERROR_SAMPLES = 5
_REQUEST_TIMEOUT_S = 60.0


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


_METRICS_SETTLE_S = 3.0


def split_url(url: str, protocol: str) -> tuple[str, str]:
    """('grpc', '127.0.0.1:8001') from 'grpc://127.0.0.1:8001', or from '127.0.0.1' and protocol 'grpc'."""
    parts = urlsplit(url if "://" in url else f"{protocol}://{url}")
    scheme = {"https": "http"}.get(parts.scheme, parts.scheme)
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ServeError(f"{url!r} is not a Triton address; use HOST:PORT, http://HOST:PORT or grpc://HOST:PORT")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return scheme, f"{host}:{parts.port or _DEFAULT_PORTS[scheme]}"


def _client_module(protocol: str) -> Any:
    from ..optional import require

    return require(f"tritonclient.{protocol}", extra="serve", purpose="for the load test's clients")


def _resolve(module: Any, address: str, spec: LoadTestSpec, metrics_url: str) -> tuple[str, str, str, list[int], str]:
    """(model, input name, output name, per-image dims, datatype) from the server's own metadata."""
    client = _client(module, address)
    try:
        if not client.is_server_ready():
            raise ServeError(f"the Triton server at {address} is not ready")
        model = spec.model
        if model is None:
            names = _model_names(client, metrics_url)
            if len(names) != 1:
                raise ServeError(f"the server at {address} has models {', '.join(names) or '(none found)'}; "
                                 "name one with --model")
            model = names[0]
        meta = client.get_model_metadata(model)
        meta = meta if isinstance(meta, dict) else _as_dict(meta)
    finally:
        client.close()
    (inp,), out = meta["inputs"], meta["outputs"][0]
    dims = [int(d) for d in inp["shape"][1:]]
    return model, inp["name"], out["name"], dims, inp["datatype"]


def _model_names(client: Any, metrics_url: str) -> list[str]:
    """Ready models from the repository index, or from the metrics where that API is restricted (PyTriton)."""
    try:
        index = client.get_model_repository_index()
    except Exception:  # restricted or disabled: the metrics name every loaded model too
        try:
            return scrape_models(metrics_url)
        except OSError:
            return []
    entries = _as_dicts(index.models) if hasattr(index, "models") else index
    return sorted({e["name"] for e in entries if e.get("state", "READY") == "READY"})


def _as_dict(message: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(message, preserving_proto_field_name=True)


def _as_dicts(messages: Any) -> list[dict[str, Any]]:
    return [_as_dict(m) for m in messages]


def run_loadtest(spec: LoadTestSpec, *, command: tuple[str, ...] = ()) -> LoadTestResult:
    """Send `spec.requests` requests from `spec.concurrency` clients (after `spec.warmup` untimed ones)."""
    if spec.concurrency < 1 or spec.requests < 1 or spec.batch < 1 or spec.warmup < 0:
        raise ServeError("concurrency, requests and batch must be >= 1, warmup >= 0")
    protocol, address = split_url(spec.url, spec.protocol)
    module = _client_module(protocol)
    metrics_url = spec.metrics_url or f"http://{address.rsplit(':', 1)[0]}:8002/metrics"
    try:
        model, input_name, output_name, dims, datatype = _resolve(module, address, spec, metrics_url)
    except ServeError:
        raise
    except Exception as exc:  # connection refused, unknown model: one line naming the server
        raise ServeError(f"cannot reach model {spec.model or '(any)'} at {protocol}://{address}: "
                         f"{(str(exc).splitlines() or [type(exc).__name__])[0][:300]}") from None
    if datatype != "FP32":
        raise ServeError(f"model {model} takes {datatype} input; the load test sends FP32")
    shape = (spec.batch, *dims)
    deadline = time.monotonic() + spec.timeout_s
    _drive(module, address, model, input_name, output_name, shape, spec.warmup, min(spec.concurrency, max(spec.warmup, 1)),
           deadline, spec.seed)
    before = _settled_counters(metrics_url, model)
    start = time.perf_counter()
    latencies, errors, timed_out = _drive(module, address, model, input_name, output_name, shape, spec.requests,
                                          spec.concurrency, deadline, spec.seed + 1)
    wall = time.perf_counter() - start
    after = _settled_counters(metrics_url, model, at_least=None if before is None else before.requests + len(latencies))
    server = after - before if before is not None and after is not None else None
    return LoadTestResult(
        spec=spec, model=model, input_shape=shape,
        latency=Measurement(spec.batch, tuple(latencies)) if latencies else None, wall_s=wall,
        completed=len(latencies), errors=len(errors), error_samples=tuple(dict.fromkeys(errors))[:_MAX_ERROR_SAMPLES],
        server=server, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), machine=_machine(), command=command,
        timed_out=timed_out, endpoint=f"{protocol}://{address}",
    )


def _counters(url: str, model: str) -> ModelCounters | None:
    try:
        return scrape_counters(url, model)
    except OSError:
        return None


def _settled_counters(url: str, model: str, *, at_least: int | None = None,
                      timeout_s: float = _METRICS_SETTLE_S) -> ModelCounters | None:
    """The counters once they stop moving: Triton counts a request after its response is on its way, so a read
    right after the last response can miss the last few (seen: 36 of 40)."""
    deadline = time.monotonic() + timeout_s
    last = _counters(url, model)
    while last is not None and time.monotonic() < deadline:
        time.sleep(0.1)
        now = _counters(url, model)
        if now is None:
            return last
        if now == last and (at_least is None or now.requests >= at_least):
            return now
        last = now
    return last


def _drive(module: Any, address: str, model: str, input_name: str, output_name: str, shape: tuple[int, ...],
           total: int, concurrency: int, deadline: float, seed: int) -> tuple[list[float], list[str], bool]:
    """`total` requests from `concurrency` threads, each with its own client; stops at `deadline`."""
    if total == 0:
        return [], [], False
    lock = threading.Lock()
    issued = [0]
    latencies: list[float] = []
    errors: list[str] = []
    timed_out = [False]

    def worker(index: int) -> None:
        rng = np.random.default_rng(seed * 1000 + index)
        batch = rng.standard_normal(shape).astype(np.float32)
        client = _client(module, address)
        try:
            request = module.InferInput(input_name, list(shape), "FP32")
            request.set_data_from_numpy(batch)
            outputs = [module.InferRequestedOutput(output_name)]
            timeout = {"client_timeout": _REQUEST_TIMEOUT_S} if module.__name__.endswith("grpc") else {}
            while True:
                with lock:
                    if issued[0] >= total:
                        return
                    if time.monotonic() > deadline:
                        timed_out[0] = True
                        return
                    issued[0] += 1
                began = time.perf_counter()
                try:
                    # outputs by keyword: infer's third positional argument is the model version
                    client.infer(model, [request], outputs=outputs, **timeout)
                    elapsed = time.perf_counter() - began
                    with lock:
                        latencies.append(elapsed)
                except Exception as exc:  # the server's error response: counted, not fatal
                    with lock:
                        errors.append((str(exc).splitlines() or [type(exc).__name__])[0][:200])
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + _REQUEST_TIMEOUT_S + 5)
    return latencies, errors, timed_out[0]


def _client(module: Any, address: str) -> Any:
    """A client whose every call is bounded in time (HTTP sets it on the client, gRPC on each call)."""
    if module.__name__.endswith("http"):
        return module.InferenceServerClient(address, connection_timeout=_REQUEST_TIMEOUT_S,
                                            network_timeout=_REQUEST_TIMEOUT_S)
    return module.InferenceServerClient(address)


def _machine() -> dict[str, Any]:
    import os

    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fp:
            model = next((line.split(":", 1)[1].strip() for line in fp if line.startswith("model name")), model)
    except OSError:
        pass
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": model,
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
    lines += ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |",
              "| " + " | ".join(row) + " |", ""]
    notes = []
    if server is None:
        notes.append("Triton's metrics were unreachable, so the batch formed is unknown.")
    if report["timed_out"]:
        notes.append(f"The run hit its {spec['timeout_s']:g} s time limit before all requests were sent.")
    notes += [f"error: {e}" for e in report["error_samples"]]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)
