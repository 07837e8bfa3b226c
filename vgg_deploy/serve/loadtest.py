"""`loadtest`: concurrent tritonclient clients against a Triton server, latency percentiles per request and the
batch Triton's dynamic batcher formed (from its metrics); the report is `loadtest_results`.

Bounded in both count (`requests`) and time (`timeout_s`): a slow or dead server ends the run, never hangs it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterator
from urllib.parse import urlsplit

import numpy as np

from ..bench.stats import Measurement
from ..errors import first_line
from ..log import progress_bar
from .facts import ServeError
from .loadtest_results import LoadTestResult, LoadTestSpec, machine_facts, render_markdown
from .metrics import ModelCounters, scrape_counters, scrape_models

__all__ = ["LoadTestSpec", "LoadTestResult", "run_loadtest", "render_markdown", "split_url"]

_DEFAULT_PORTS = {"http": 8000, "grpc": 8001}
_MAX_ERROR_SAMPLES = 5
_REQUEST_TIMEOUT_S = 60.0
_METRICS_SETTLE_S = 3.0

log = logging.getLogger(__name__)


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
                         f"{first_line(exc)}") from None
    if datatype != "FP32":
        raise ServeError(f"model {model} takes {datatype} input; the load test sends FP32")
    shape = (spec.batch, *dims)
    deadline = time.monotonic() + spec.timeout_s
    _drive(module, address, model, input_name, output_name, shape, spec.warmup, min(spec.concurrency, max(spec.warmup, 1)),
           deadline, spec.seed)
    before = _settled_counters(metrics_url, model)
    log.info("%d requests of batch %d from %d clients to %s at %s://%s", spec.requests, spec.batch, spec.concurrency,
             model, protocol, address)
    start = time.perf_counter()
    latencies, errors, timed_out = _drive(module, address, model, input_name, output_name, shape, spec.requests,
                                          spec.concurrency, deadline, spec.seed + 1, desc="requests")
    wall = time.perf_counter() - start
    after = _settled_counters(metrics_url, model, at_least=None if before is None else before.requests + len(latencies))
    server = after - before if before is not None and after is not None else None
    return LoadTestResult(
        spec=spec, model=model, input_shape=shape,
        latency=Measurement(spec.batch, tuple(latencies)) if latencies else None, wall_s=wall,
        completed=len(latencies), errors=len(errors), error_samples=tuple(dict.fromkeys(errors))[:_MAX_ERROR_SAMPLES],
        server=server, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), machine=machine_facts(), command=command,
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


class _Tally:
    """What the client threads share: requests issued, latencies, errors; `changed` is notified at every change."""

    def __init__(self, *, total: int, deadline: float, clients: int) -> None:
        self.changed = threading.Condition()
        self.total, self.deadline, self.running = total, deadline, clients
        self.issued = 0
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.timed_out = False

    def take(self) -> bool:
        """Whether one more request may be sent: not past `total`, nor past the deadline."""
        with self.changed:
            if self.issued >= self.total:
                return False
            if time.monotonic() > self.deadline:
                self.timed_out = True
                return False
            self.issued += 1
            return True

    def record(self, *, latency: float | None = None, error: str | None = None) -> None:
        with self.changed:
            if error is not None:
                self.errors.append(error)
            elif latency is not None:
                self.latencies.append(latency)
            self.changed.notify_all()

    def client_stopped(self) -> None:
        with self.changed:
            self.running -= 1
            self.changed.notify_all()

    def finished(self, *, give_up: float) -> Iterator[int]:
        """One item per finished request (answered or failed) as the clients report them; ends when every client
        has stopped (or at `give_up`: the joins that follow bound the wait)."""
        seen = 0
        while True:
            with self.changed:
                self.changed.wait_for(lambda: len(self.latencies) + len(self.errors) > seen or self.running == 0,
                                      timeout=max(0.0, give_up - time.monotonic()))
                done, running = len(self.latencies) + len(self.errors), self.running > 0
            while seen < done:
                seen += 1
                yield seen
            if not running or time.monotonic() >= give_up:
                return


def _drive(module: Any, address: str, model: str, input_name: str, output_name: str, shape: tuple[int, ...],
           total: int, concurrency: int, deadline: float, seed: int,
           desc: str | None = None) -> tuple[list[float], list[str], bool]:
    """`total` requests from `concurrency` threads, each with its own client; stops at `deadline`. With `desc`,
    a progress bar counts the finished requests."""
    if total == 0:
        return [], [], False
    tally = _Tally(total=total, deadline=deadline, clients=concurrency)

    def worker(index: int) -> None:
        client = None
        try:
            rng = np.random.default_rng(seed * 1000 + index)
            batch = rng.standard_normal(shape).astype(np.float32)
            client = _client(module, address)
            request = module.InferInput(input_name, list(shape), "FP32")
            request.set_data_from_numpy(batch)
            outputs = [module.InferRequestedOutput(output_name)]
            timeout = {"client_timeout": _REQUEST_TIMEOUT_S} if module.__name__.endswith("grpc") else {}
            while tally.take():
                began = time.perf_counter()
                try:
                    # outputs by keyword: infer's third positional argument is the model version
                    client.infer(model, [request], outputs=outputs, **timeout)
                    tally.record(latency=time.perf_counter() - began)
                except Exception as exc:  # the server's error response: counted, not fatal
                    tally.record(error=first_line(exc, limit=200))
        finally:
            if client is not None:
                client.close()
            tally.client_stopped()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    if desc is not None:
        for _ in progress_bar(tally.finished(give_up=deadline + _REQUEST_TIMEOUT_S), desc=desc, total=total,
                              unit="req"):
            pass
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + _REQUEST_TIMEOUT_S + 5)
    return tally.latencies, tally.errors, tally.timed_out


def _client(module: Any, address: str) -> Any:
    """A client whose every call is bounded in time (HTTP sets it on the client, gRPC on each call)."""
    if module.__name__.endswith("http"):
        return module.InferenceServerClient(address, connection_timeout=_REQUEST_TIMEOUT_S,
                                            network_timeout=_REQUEST_TIMEOUT_S)
    return module.InferenceServerClient(address)
