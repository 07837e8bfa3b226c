"""`vgg-deploy loadtest`: concurrent clients against a Triton server; latency percentiles and the batch formed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .params import OUTPUT_FOLDER, Command, deprecated_alias, output_option

__all__ = ["loadtest"]


@click.command(cls=Command)
@click.argument("url")
@click.option("--name", default=None, help="Model name on the server. Default: the server's only model.")
@deprecated_alias("--model", replaces="name", new="--name")
@click.option("--concurrency", type=click.IntRange(min=1, max=256), default=8, show_default=True,
              help="Clients sending requests at the same time.")
@click.option("--requests", type=click.IntRange(min=1, max=1_000_000), default=400, show_default=True,
              help="Timed requests in all.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True, help="Images per request.")
@deprecated_alias("--batch", replaces="batch_size", new="--batch-size")
@click.option("--protocol", type=click.Choice(["http", "grpc"]), default="http", show_default=True,
              help="Used when URL has no http:// or grpc:// prefix.")
@click.option("--warmup", type=click.IntRange(min=0), default=8, show_default=True, help="Untimed requests first.")
@click.option("--metrics-url", default=None, help="Triton's metrics. Default: http://HOST:8002/metrics.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=300, show_default=True,
              help="Seconds the whole run may take; it stops sending after that.")
@output_option(type=OUTPUT_FOLDER, required=False, old="--out",
               help="Write loadtest.json and loadtest.md into this folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def loadtest(url: str, name: str | None, concurrency: int, requests: int, batch_size: int, protocol: str, warmup: int,
             metrics_url: str | None, timeout_s: float, output: Path | None, as_json: bool) -> None:
    """Load-test the Triton server at URL (HOST:PORT, http://HOST:PORT or grpc://HOST:PORT).

    \b
    Examples:
      vgg-deploy loadtest 127.0.0.1:8000 --concurrency 8 --requests 2000
      vgg-deploy loadtest grpc://127.0.0.1:8001 --batch-size 4 -o loadtest-results --json
    """
    from ..artifacts import write_text_atomic
    from ..serve.loadtest import run_loadtest
    from ..serve.loadtest_results import LoadTestSpec, render_markdown

    spec = LoadTestSpec(url=url, protocol=protocol, model=name, concurrency=concurrency, requests=requests,
                        batch=batch_size, warmup=warmup, metrics_url=metrics_url, timeout_s=timeout_s)
    command = ("vgg-deploy", "loadtest", *sys.argv[2:]) if Path(sys.argv[0]).name in ("vgg-deploy", "__main__.py") else ()
    result = run_loadtest(spec, command=command)
    report = result.to_dict()
    markdown = render_markdown(report)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        for name, text in (("loadtest.json", json.dumps(report, indent=2) + "\n"), ("loadtest.md", markdown)):
            write_text_atomic(output / name, text)
    if as_json:
        click.echo(json.dumps({k: v for k, v in report.items() if k != "latencies_s"}, indent=2))
    else:
        click.echo(markdown.rstrip())
    if result.completed == 0:
        raise click.ClickException(f"no request succeeded ({result.errors} errors)")
