"""`vgg-deploy triton-repo`: a Triton Inference Server model repository for .onnx files and TensorRT engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .params import MODEL_FILE, OUTPUT_FOLDER, Command, Device, IntList, deprecated_alias, output_option

__all__ = ["triton_repo"]


@click.command("triton-repo", cls=Command)
@click.argument("models", metavar="MODEL...", nargs=-1, required=True, type=MODEL_FILE)
@click.option("--name", default=None, help="Model name in the repository (one model file only). Default: the file's name.")
@click.option("--max-batch", type=click.IntRange(min=1), default=32, show_default=True,
              help="max_batch_size; an engine's optimization profile must allow it.")
@click.option("--preferred-batch-sizes", type=IntList(none_word="none", sort=True), default="8,16", show_default=True,
              help="Dynamic batcher's preferred batch sizes, or 'none'.")
@deprecated_alias("--preferred-batch", replaces="preferred_batch_sizes", new="--preferred-batch-sizes")
@click.option("--max-queue-delay-us", type=click.IntRange(min=0), default=2000, show_default=True,
              help="How long the dynamic batcher may hold a request to form a larger batch.")
@click.option("--instances", type=click.IntRange(min=1), default=1, show_default=True, help="Model instances per device.")
@click.option("--device", type=Device(index=False), default="cuda", show_default=True,
              help="Where the model instances run (Triton's instance_group kind: KIND_GPU or KIND_CPU).")
@deprecated_alias("--kind", replaces="device", new="--device cpu|cuda", values={"gpu": "cuda"})
@click.option("--labels", "labels_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Class labels, one a line, for Triton's classification output. Default: the model's own.")
@click.option("--from-report", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Take the preferred batch sizes from a bench report's latency-budget section.")
@click.option("--tensorrt-accelerator", type=click.Choice(["fp32", "fp16", "int8"]), default=None,
              help="ONNX on GPU: run it through ONNX Runtime's TensorRT execution accelerator at this precision.")
@output_option(type=OUTPUT_FOLDER,
               help="The repository folder (created; existing models of the same name are replaced).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.pass_context
def triton_repo(ctx: click.Context, models: tuple[Path, ...], name: str | None, max_batch: int,
                preferred_batch_sizes: tuple[int, ...], max_queue_delay_us: int, instances: int, device: str,
                labels_file: Path | None, from_report: Path | None, tensorrt_accelerator: str | None, output: Path,
                as_json: bool) -> None:
    """Write config.pbtxt and 1/model.onnx or 1/model.plan per MODEL (.onnx or TensorRT engine), validated with Triton's protobuf.

    \b
    An engine (.plan) needs its manifest (X.plan.json): it gives the tensors, the batch profile and the GPU
    type the engine was built on, which is the GPU type that must serve it.

    \b
    Examples:
      vgg-deploy triton-repo vgg16.int8.plan -o model_repository
      vgg-deploy triton-repo vgg_digits.onnx --device cpu --from-report out/bench/report.json -o model_repository
    """
    from ..serve.repository import read_labels, write_repository
    from ..serve.triton_config import TritonModelConfig

    if name is not None and len(models) > 1:
        raise click.UsageError("--name names a single model; with several model files each is named after its file")
    if from_report is not None:
        if ctx.get_parameter_source("preferred_batch_sizes") != click.core.ParameterSource.DEFAULT:
            raise click.UsageError("give --preferred-batch-sizes or --from-report, not both")
        preferred_batch_sizes = _budget_batches(from_report, max_batch)
    elif ctx.get_parameter_source("preferred_batch_sizes") == click.core.ParameterSource.DEFAULT:
        # the defaults fit the default --max-batch; a smaller one keeps those that fit (or itself)
        preferred_batch_sizes = tuple(b for b in preferred_batch_sizes if b <= max_batch) or (max_batch,)
    config = TritonModelConfig(
        name=name or "", max_batch=max_batch, preferred_batch=preferred_batch_sizes,
        max_queue_delay_us=max_queue_delay_us, instances=instances, kind="cpu" if device == "cpu" else "gpu",
        tensorrt_accelerator=tensorrt_accelerator,
    )
    labels = read_labels(labels_file) if labels_file is not None else None
    written = write_repository(models, output, config=config, labels=labels)
    if as_json:
        click.echo(json.dumps({"repository": str(output), "models": [m.to_dict() for m in written]}, indent=2))
        return
    for model in written:
        sizes = ",".join(map(str, model.preferred_batch)) or "none"
        click.echo(f"{model.name}: {model.platform}, max batch {model.max_batch}, preferred {sizes} -> {model.folder}")
        if model.gpu_name:
            click.echo(f"  serve it on a {model.gpu_name} (the GPU type the engine was built on)")


def _budget_batches(path: Path, max_batch: int) -> tuple[int, ...]:
    """The batch sizes a bench report's latency-budget sweep chose, limited to max_batch."""
    from ..bench.report import load_report
    from ..errors import VGGDeployError

    budget = load_report(path).get("budget")
    if not budget:
        raise VGGDeployError(f"{path}: the report has no latency-budget section; run "
                             "`vgg-deploy bench ... --latency-budget-ms MS` to make one")
    chosen = sorted({c["batch_size"] for c in budget["choices"] if c["batch_size"] is not None})
    fitting = tuple(b for b in chosen if b <= max_batch)
    if not fitting:
        raise VGGDeployError(f"{path}: no batch size within the {budget['budget_ms']:g} ms budget "
                             f"fits --max-batch {max_batch} (chosen: {', '.join(map(str, chosen)) or 'none'})")
    return fitting
