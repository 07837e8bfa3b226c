"""`vgg-deploy serve`: a real Triton Inference Server (through PyTriton) with our runner behind its dynamic batcher."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from ..serve.server import BACKENDS
from .params import AliasedChoice, Command, model_argument

__all__ = ["serve"]


@click.command(cls=Command)
@model_argument()
@click.option("--name", default=None, help="Model name on the server. Default: the file's name.")
@click.option("--backend", type=AliasedChoice(BACKENDS, aliases={"openvino": "ov"}), default="auto", show_default=True,
              help="Runner inside Triton's Python backend (the bench's names); auto: TensorRT for engines, ONNX Runtime for .onnx.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address HTTP, gRPC and metrics bind to. Loopback unless you ask for another.")
@click.option("--http-port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--grpc-port", type=click.IntRange(1, 65535), default=8001, show_default=True)
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=8002, show_default=True)
@click.option("--max-batch", type=click.IntRange(min=1), default=32, show_default=True,
              help="Largest batch the dynamic batcher forms.")
@click.option("--max-queue-delay-us", type=click.IntRange(min=0), default=2000, show_default=True,
              help="How long the batcher may hold a request to form a larger batch.")
@click.option("--instances", type=click.IntRange(min=1), default=1, show_default=True,
              help="Model instances (each its own runner) serving batches in parallel.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Intra-op threads per runner (CPU backends).")
def serve(model: Path, name: str | None, backend: str, host: str, http_port: int, grpc_port: int,
          metrics_port: int, max_batch: int, max_queue_delay_us: int, instances: int, threads: int | None) -> None:
    """Serve MODEL (.onnx or TensorRT engine) with Triton on HTTP, gRPC and Prometheus metrics until Ctrl+C or SIGTERM.

    Needs the serve extra (pip install "vgg-deploy[serve]"; PyTriton requires numpy < 2).

    \b
    Examples:
      vgg-deploy serve vgg16.int8.plan
      vgg-deploy serve vgg_digits.onnx --backend ov --instances 2 --threads 1
    """
    from ..serve.repository import default_name
    from ..serve.server import ServeOptions, ServerInfo, serve_model

    if len({http_port, grpc_port, metrics_port}) != 3:
        raise click.UsageError("--http-port, --grpc-port and --metrics-port must differ")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        click.echo(f"serve: binding {host}: the server is reachable from other machines", err=True)
    options = ServeOptions(
        name=name or default_name(model), backend=backend, host=host, http_port=http_port, grpc_port=grpc_port,
        metrics_port=metrics_port, max_batch=max_batch, max_queue_delay_us=max_queue_delay_us, instances=instances,
        threads=threads,
    )

    def ready(info: ServerInfo) -> None:
        click.echo(f"serving {info.name} ({info.runner}, input {list(info.input_shape)}, {info.classes} classes, "
                   f"max batch {info.max_batch})")
        click.echo(f"  HTTP {info.http_url}  gRPC {info.grpc_url}  metrics {info.metrics_url}")
        click.echo(f"  try: vgg-deploy loadtest {info.http_url}   (Ctrl+C or SIGTERM stops the server)", nl=True)

    serve_model(model, options=options, on_ready=ready)
    click.echo("server stopped")
