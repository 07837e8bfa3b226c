"""`vgg-deploy zoo`: the model-zoo chart (speed / accuracy / memory) of the VGG family beside AlexNet and LeNet,
per backend, measured on this machine."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..errors import VGGDeployError
from .bench_cmd import Duration, command_line
from .params import (
    DEVICE, INPUT_SIZE, OUTPUT_FOLDER, Command, ConversionOptions, IntList, conversion_options, output_option,
)

__all__ = ["zoo"]


class ModelList(click.ParamType):
    """vgg11,vgg16,alexnet"""

    name = "LIST"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, ...]:
        from ..models import UnknownModelError, model_config

        if isinstance(value, tuple):
            return value
        names = [part.strip() for part in str(value).split(",") if part.strip()]
        if not names:
            self.fail("give at least one model, e.g. vgg16,alexnet", param, ctx)
        try:
            return tuple(dict.fromkeys(model_config(n).name for n in names))
        except UnknownModelError as exc:
            self.fail(str(exc), param, ctx)


@click.command(cls=Command)
@click.option("--models", type=ModelList(), default="vgg11,vgg13,vgg16,vgg19,alexnet", show_default=True,
              help="Registered models to measure (list_models: VGGs and the references alexnet, lenet).")
@click.option("--bn", is_flag=True,
              help="Also show each VGG's _bn twin: at its twin's measured speed (batch norm folds away) with its "
                   "own published accuracy, unless the _bn model is in --models (then it is measured).")
@click.option("--backends", default="torch,ort,ov-bf16,ov-int8", show_default=True, metavar="LIST",
              help="Backends or groups, as `vgg-deploy bench` names them.")
@click.option("--batch-sizes", type=IntList(), default="8", show_default=True,
              help="Batch sizes to measure (the chart and ratios use the largest).")
@click.option("--device", type=DEVICE, default="cpu", show_default=True,
              help="Where the PyTorch backends run; CUDA and TensorRT backends need cuda.")
@click.option("--weights", "weights_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A folder of trained checkpoints, one per model (NAME.pth or torchvision's NAME-<hash>.pth): "
                   "accuracy is then measured on --data. Default: random weights, published accuracy.")
@click.option("--data", default=None, metavar="PATH",
              help="Labelled evaluation images (class folders) for measured accuracy with --weights.")
@click.option("--input-size", type=INPUT_SIZE, default=None, help="Input size for every model [default: each model's].")
@click.option("--duration", type=Duration(), default=None, help="Timed time per cell [default: 10s].")
@click.option("--iterations", type=click.IntRange(min=1), default=None, help="Timed calls per cell instead.")
@click.option("--warmup", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads [default: usable cores].")
@conversion_options
@click.option("--eval-samples", type=click.IntRange(min=1), default=None,
              help="Evaluation inputs per model [default: as bench].")
@output_option(type=OUTPUT_FOLDER, required=False, default=Path("out/zoo"),
               show_default=True, help="Folder for zoo.json, zoo.md, zoo.html and zoo.png.")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the artifacts made on the way (cached) and worker logs [default: OUTPUT/work].")
@click.option("--json", "as_json", is_flag=True, help="Print zoo.json on stdout instead of the tables.")
@click.option("--in-process", is_flag=True, help="Run every backend in this process (memory figures then mix).")
def zoo(models: tuple[str, ...], bn: bool, backends: str, batch_sizes: tuple[int, ...], device: str,
        weights_dir: Path | None, data: str | None, input_size: tuple[int, int] | None, duration: float | None,
        iterations: int | None, warmup: int, threads: int | None, conversion: ConversionOptions,
        eval_samples: int | None, output: Path, work: Path | None, as_json: bool, in_process: bool) -> None:
    """Redraw the model-zoo chart for this machine: every model x backend measured through the bench harness.

    Per cell: images/s, p50/p99 latency, peak memory (host RSS; GPU memory on CUDA), file size. Accuracy is
    measured with --weights and labelled --data, else each architecture's published ImageNet top-1 (labelled as
    such). Writes OUTPUT/zoo.json, zoo.md, zoo.html and zoo.png: the GluonCV chart (log-x images/s, y accuracy,
    bubble area = memory) and each model's speed relative to AlexNet per backend. Ctrl-C keeps the rows finished.

    \b
    Examples:
      vgg-deploy zoo --models vgg11,vgg13,vgg16,vgg19,alexnet --bn --backends torch,ort,ov-bf16,ov-int8 --batch-sizes 8
      vgg-deploy zoo --models vgg16,alexnet --device cuda --backends torch,torch-fp16,trt-fp16,trt-int8
      vgg-deploy zoo --models vgg16,alexnet --weights checkpoints/ --data imagenet-val/ --backends ort,ov-int8
    """
    from ..artifacts import removing_new_empty_folders
    from ..bench import BenchOptions
    from ..bench.zoo import ZooOptions, run_zoo
    from ..bench.zoo_report import render_zoo_markdown, write_zoo

    if duration is not None and iterations is not None:
        raise click.UsageError("pass --duration or --iterations, not both")
    if data is not None and weights_dir is None:
        raise click.UsageError("--data measures accuracy and needs --weights DIR (random weights have none)")

    calibration = replace(conversion.calibration, data=conversion.calibration.data or data or "digits")
    bench = BenchOptions.of(calibration=calibration, gates=conversion.gates, fallback=conversion.fallback,
                            duration_s=duration, iterations=iterations, warmup=warmup, threads=threads, device=device,
                            data=data, eval_samples=eval_samples, in_process=in_process)
    options = ZooOptions(models=models, backends=tuple(b.strip() for b in backends.split(",") if b.strip()),
                         batch_sizes=batch_sizes, bn=bn, weights_dir=weights_dir, input_size=input_size, bench=bench)
    try:
        with removing_new_empty_folders(output):  # a refused run leaves no empty OUTPUT behind
            report = run_zoo(options, work=work or output / "work", command=command_line(click.get_current_context()))
            paths = write_zoo(report, output)
    except VGGDeployError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_zoo_markdown(report))
        click.echo(f"zoo: {paths['html']} (also {', '.join(p.name for k, p in paths.items() if k != 'html')})")
    if report["interrupted"]:
        click.echo(f"interrupted: kept {len(report['results'])} finished rows in {output}", err=True)
        raise SystemExit(130)
