"""`serve`: a real Triton Inference Server (PyTriton's bundled tritonserver) with one of our runners behind
Triton's dynamic batcher, on HTTP, gRPC and Prometheus metrics; loopback unless another address is asked for.

The runner runs in this process; Triton forwards each formed batch to it. SIGINT and SIGTERM stop Triton, which
removes its processes, sockets, shared memory and workspace before `serve_model` returns.
"""

from __future__ import annotations

import inspect
import os
import shutil
import signal
import sysconfig
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..export.metadata import INPUT_NAME, OUTPUT_NAME
from ..formats import FORMATS, RUNNERS, import_runner, triton_format, triton_suffixes
from .facts import ServeError

__all__ = ["ServeOptions", "ServerInfo", "serve_model", "make_runner", "BACKENDS", "EXIT_TIMEOUT_S"]

# The bench's family names of the runners that take a file Triton serves (ort, ov, trt), from the table of formats.
BACKENDS = ("auto", *(family for family, runner in RUNNERS.items()
                      if any(runner in row.runners for row in FORMATS if row.triton_platform is not None)))
EXIT_TIMEOUT_S = 5  # PyTriton's shutdown needs at least this to stop the stub processes cleanly
_POLL_S = 0.5


@dataclass(frozen=True)
class ServeOptions:
    name: str
    backend: str = "auto"
    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    max_batch: int = 32
    max_queue_delay_us: int = 2000
    instances: int = 1
    threads: int | None = None  # intra-op threads per runner (CPU backends)


@dataclass(frozen=True)
class ServerInfo:
    """Where a started server answers."""

    name: str
    runner: str
    http_url: str
    grpc_url: str
    metrics_url: str
    input_shape: tuple[int, int, int]
    classes: int
    max_batch: int


def make_runner(path: Path, *, backend: str, threads: int | None = None) -> Any:
    """An inactive runner for `path` on `backend` ("auto": the one the table of formats names for the file, as
    `load` does; else a runner the table lists for it, by the bench's family name)."""
    row = triton_format(path)
    if row is None:
        raise ServeError(f"{path}: serve takes {', '.join(triton_suffixes())} files (ONNX or a TensorRT engine)")
    if backend == "auto":
        runner_path = row.runner
    elif backend in BACKENDS:
        runner_path = RUNNERS[backend]
        if runner_path not in row.runners:
            runs = [s for r in FORMATS if runner_path in r.runners for s in r.suffixes]
            raise ServeError(f"{path}: the {backend} backend runs {', '.join(dict.fromkeys(runs))} files")
    else:
        raise ServeError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    runner_class = import_runner(runner_path)
    # intra-op threads are a CPU runner's option (ONNX Runtime, OpenVINO); TensorRT's has none
    takes_threads = "threads" in inspect.signature(runner_class).parameters
    return runner_class(path, threads=threads) if takes_threads else runner_class(path)


def _libpython_first() -> None:
    """Triton's Python stub must load this interpreter's libpython, not another one on the library path."""
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir:
        rest = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p and p != libdir]
        os.environ["LD_LIBRARY_PATH"] = ":".join([libdir, *rest])


def _infer_function(runner: Any) -> Callable[..., dict[str, np.ndarray]]:
    from pytriton.decorators import batch

    @batch
    def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        images = inputs[INPUT_NAME]
        # An error response, not HTTP 200 with NaN logits a client may take for an answer.
        if not np.isfinite(images).all():
            raise ValueError(f"{INPUT_NAME} contains NaN/Inf values; send finite, preprocessed images")
        logits = runner.infer(images)
        if not np.isfinite(logits).all():
            raise ValueError(f"the model produced NaN/Inf {OUTPUT_NAME} ({runner.name}); its inputs overflow it")
        return {OUTPUT_NAME: logits}

    return infer


def serve_model(
    model_file: str | os.PathLike[str],
    *,
    options: ServeOptions,
    on_ready: Callable[[ServerInfo], None] = lambda info: None,
    stop: threading.Event | None = None,
) -> None:
    """Serve `model_file` until SIGINT/SIGTERM (or `stop` is set); returns after Triton has shut down."""
    from ..optional import require

    require("pytriton", extra="serve", purpose="to run Triton through PyTriton")
    from pytriton.triton import Triton

    # PyTriton warns (raw, with a source line) when the workspace of a crashed tritonserver is already partly gone.
    warnings.filterwarnings("ignore", message="Could not clean workspace")

    path = Path(model_file)
    if not path.is_file():
        raise ServeError(f"{path}: no such file")
    stop = stop or threading.Event()
    _check_ports_free(options)
    runners = [make_runner(path, backend=options.backend, threads=options.threads) for _ in range(options.instances)]
    previous = _install_signal_handlers(stop)
    stub_folders = _stub_folders(options.name)
    triton_died = False
    try:
        for runner in runners:
            runner.activate()
        shape, classes = _check_batching(runners[0], options.max_batch)
        _libpython_first()
        with Triton(config=_triton_config(options)) as triton:
            _bind(triton, options, runners, shape, classes)
            try:
                triton.run()
            except (TimeoutError, RuntimeError) as exc:  # Triton exited at start (PyTriton waits, then times out)
                raise ServeError(f"Triton did not start on {options.host} ({type(exc).__name__}: {exc}); "
                                 "its log above says why") from None
            host = f"[{options.host}]" if ":" in options.host else options.host
            on_ready(ServerInfo(
                name=options.name, runner=runners[0].name, http_url=f"{host}:{options.http_port}",
                grpc_url=f"{host}:{options.grpc_port}", metrics_url=f"http://{host}:{options.metrics_port}/metrics",
                input_shape=shape, classes=classes, max_batch=options.max_batch,
            ))
            while not stop.wait(_POLL_S):
                if not triton.is_alive():
                    triton_died = True
                    raise ServeError(
                        "Triton stopped unexpectedly (its log above says why, e.g. a request too large for memory); "
                        "run serve under a supervisor that restarts it (README: Serving)")
    finally:
        _restore_signal_handlers(previous)
        if triton_died:  # what tritonserver removes when it stops normally
            for folder in _stub_folders(options.name) - stub_folders:
                shutil.rmtree(folder, ignore_errors=True)
        for runner in runners:
            runner.deactivate()


def _triton_config(options: ServeOptions) -> Any:
    from pytriton.triton import TritonConfig

    return TritonConfig(
        http_address=options.host, http_port=options.http_port, grpc_address=options.host,
        grpc_port=options.grpc_port, metrics_address=options.host, metrics_port=options.metrics_port,
        allow_metrics=True, allow_gpu_metrics=False, exit_timeout_secs=EXIT_TIMEOUT_S, log_verbose=0,
    )


def _bind(triton: Any, options: ServeOptions, runners: list[Any], shape: tuple[int, int, int], classes: int) -> None:
    """One Triton model: our runners (one per instance) behind the dynamic batcher, float32 in and out."""
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor

    preferred = [b for b in (options.max_batch // 2, options.max_batch) if b >= 1]
    triton.bind(
        model_name=options.name, infer_func=[_infer_function(r) for r in runners],
        inputs=[Tensor(name=INPUT_NAME, dtype=np.float32, shape=shape)],
        outputs=[Tensor(name=OUTPUT_NAME, dtype=np.float32, shape=(classes,))],
        config=ModelConfig(max_batch_size=options.max_batch, batcher=DynamicBatcher(
            max_queue_delay_microseconds=options.max_queue_delay_us,
            preferred_batch_size=sorted(set(preferred)))),
        strict=True,
    )


def _stub_folders(name: str) -> set[Path]:
    """tritonserver's Python backend copies each model into the system temporary folder as `folderXXXXXX`; an
    aborted tritonserver leaves it there. Ours are those whose config names our model."""
    found = set()
    for folder in Path(tempfile.gettempdir()).glob("folder*"):
        try:
            config = (folder / "config.pbtxt").read_text(errors="replace")[:4096]
        except OSError:
            continue
        if f'name: "{name}"' in config:
            found.add(folder)
    return found


def _check_ports_free(options: ServeOptions) -> None:
    """A busy port makes tritonserver exit, which PyTriton notices only after a long timeout: check first."""
    import socket

    for option, port in (("--http-port", options.http_port), ("--grpc-port", options.grpc_port),
                         ("--metrics-port", options.metrics_port)):
        family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((options.host, port))
            except OSError as exc:
                raise ServeError(f"cannot bind {options.host}:{port} ({exc.strerror or exc}); "
                                 f"choose another port with {option}") from None


def _check_batching(runner: Any, max_batch: int) -> tuple[tuple[int, int, int], int]:
    """(C, H, W) and the class count; the runner must take every batch from 1 to max_batch."""
    low, high = runner.batch_range
    if low > 1 or (high is not None and high < max_batch):
        raise ServeError(f"{runner.name}: the model takes batches {low}..{high}, but Triton's batcher sends "
                         f"1..{max_batch}; use a dynamic-batch model or --max-batch {high}")
    shape: tuple[int, int, int] = tuple(runner.input_shape)
    classes = int(runner.infer(np.zeros((1, *shape), np.float32)).shape[1])
    return shape, classes


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}  # signals reach the main thread only; a caller in another thread stops us with `stop`
    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda *_: stop.set())
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
