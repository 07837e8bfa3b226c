"""`vgg-deploy bench`: throughput, latency, memory and parity of every backend against the eager fp32 model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from ..devices import is_cuda
from ..errors import VGGDeployError
from ..formats import file_type
from .params import (
    DEVICE, INPUT_SIZE, MODEL, OUTPUT_FOLDER, WEIGHTS, Command, ConversionOptions, IntList, conversion_options,
    output_option,
)

__all__ = ["bench", "command_line", "Duration"]


class Duration(click.ParamType):
    """10s, 500ms, 2m or a number of seconds."""

    name = "TIME"
    _UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "m": 60.0, "min": 60.0}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m)?\s*", str(value).lower())
        if match is None or float(match.group(1)) <= 0:
            self.fail(f"{value!r} is not a duration; use e.g. 10s, 500ms or 2m", param, ctx)
        return float(match.group(1)) * self._UNITS[match.group(2) or ""]


@click.command(cls=Command)
@click.argument("models", metavar="[MODEL]...", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--model", "model_name", type=MODEL, default=None,
              help="A registered model (random weights unless --weights); its ONNX and variants are made on the way.")
@click.option("--weights", type=WEIGHTS, default=None, help="Checkpoint for --model.")
@click.option("--input-size", type=INPUT_SIZE, default=None, help="Input size for --model, e.g. 224 or 160x200.")
@click.option("--artifacts", "artifacts_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="A folder of artifacts (.onnx variants, checkpoint, .plan) to compare.")
@click.option("--backends", default=None, metavar="LIST",
              help="Comma-separated backends or groups (cpu, cuda, all) [default: cpu, or cuda with --device cuda].")
@click.option("--batch-sizes", type=IntList(), default=None,
              help="Batch sizes [default: 1,8; 1,2,...,64 with --latency-budget-ms].")
@click.option("--duration", type=Duration(), default=None, help="Timed time per backend and batch size [default: 10s].")
@click.option("--iterations", type=click.IntRange(min=1), default=None, help="Timed calls instead of --duration.")
@click.option("--warmup", type=click.IntRange(min=0), default=3, show_default=True, help="Untimed calls first.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads [default: usable cores].")
@click.option("--device", type=DEVICE, default="cpu", show_default=True,
              help="Where the PyTorch backends run; GPU backends need cuda.")
@click.option("--data", default=None, metavar="PATH|digits|synthetic",
              help="Evaluation inputs (labels give accuracy) [default: digits for vgg_digits, else synthetic].")
@conversion_options
@click.option("--eval-samples", type=click.IntRange(min=1), default=None,
              help="Evaluation inputs [default: what ~0.2 TFLOP of reference work allows, 16 to 512].")
@click.option("--include-copies", is_flag=True, help="GPU: time host->device and device->host copies too.")
@click.option("--cuda-graphs", is_flag=True, help="GPU: replay CUDA graphs (torch, TensorRT).")
@click.option("--latency-budget-ms", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Report per backend the highest-throughput batch whose p99 fits this budget.")
@output_option(type=OUTPUT_FOLDER, required=False, default=Path("out/bench"),
               show_default=True, old="--out",
               help="Report folder (artifacts made on the way are cached in OUTPUT/artifacts unless --work).")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the artifacts made on the way and the worker logs [default: OUTPUT].")
@click.option("--json", "as_json", is_flag=True, help="Print report.json on stdout instead of the tables.")
@click.option("--in-process", is_flag=True, help="Run every backend in this process (memory figures then mix).")
@click.option("--no-peak", is_flag=True, help="Skip the machine-peak calibration (a few seconds).")
def bench(models: tuple[Path, ...], model_name: str | None, weights: str | None,
          input_size: tuple[int, int] | None, artifacts_dir: Path | None, backends: str | None,
          batch_sizes: tuple[int, ...] | None, duration: float | None, iterations: int | None, warmup: int,
          threads: int | None, device: str, data: str | None, conversion: ConversionOptions,
          eval_samples: int | None, include_copies: bool, cuda_graphs: bool, latency_budget_ms: float | None,
          output: Path, work: Path | None, as_json: bool, in_process: bool, no_peak: bool) -> None:
    """Measure every backend at every batch size against the eager fp32 model on the same inputs.

    Per backend and batch size: images/s; latency median, p90, p99, max and IQR; peak memory (host, and GPU on
    CUDA); artifact size; speed-up over eager fp32 and fraction of the machine's own peak, both measured in the
    same run; parity (max abs diff, cosine, top-1 agreement, top-5 containment, NaN/Inf) and accuracy when the
    data has labels. MODEL files (.onnx variants, checkpoint, .plan) are compared as given. Missing artifacts (ONNX, FP16, INT8, engines) are made on the way and cached. Backends that
    cannot run here are listed with the reason. Writes OUTPUT/report.json, report.md, report.html and the charts.

    \b
    Examples:
      vgg-deploy bench --model vgg_digits --weights vgg_digits.pth --duration 2s
      vgg-deploy bench --model vgg16 --backends ort,ort-int8-cpu,ov-int8 --batch-sizes 1,8 --calib-data digits
      vgg-deploy bench model.onnx model.int8.cpu.onnx --backends ort,ort-int8-cpu,ov-int8 --latency-budget-ms 50
    """
    from ..artifacts import removing_new_empty_folders
    from ..bench import BenchOptions, ModelSource, run_bench, write_reports
    from ..bench.report import render_markdown

    if duration is not None and iterations is not None:
        raise click.UsageError("pass --duration or --iterations, not both")
    if weights is not None and model_name is None:
        raise click.UsageError("--weights needs --model NAME (or pass the checkpoint as a model file)")
    files = tuple(models) + ((artifacts_dir,) if artifacts_dir else ())
    if model_name is None and not files:
        raise click.UsageError("nothing to benchmark: pass --model NAME, --artifacts DIR or model files")
    device = _engines_device(models, model_name=model_name, artifacts_dir=artifacts_dir, device=device)
    options = BenchOptions.of(
        calibration=conversion.calibration, gates=conversion.gates, fallback=conversion.fallback,
        backends=backends or ("cuda" if is_cuda(device) else "cpu"), batch_sizes=batch_sizes,
        duration_s=duration, iterations=iterations, warmup=warmup, threads=threads, device=device, data=data,
        eval_samples=eval_samples, include_copies=include_copies, cuda_graphs=cuda_graphs,
        latency_budget_ms=latency_budget_ms, in_process=in_process, measure_peak=not no_peak,
    )
    source = ModelSource(model=model_name, weights=weights, input_size=input_size, files=files,
                         seed=conversion.calibration.seed)
    try:
        with removing_new_empty_folders(output):  # a refused run leaves no empty OUTPUT behind
            report = run_bench(source, out=output, work=work, options=options,
                               command=command_line(click.get_current_context()))
            paths = write_reports(report, output)
    except VGGDeployError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(render_markdown(report))
    click.echo(f"report: {paths['html']} (also {paths['md'].name}, {paths['json'].name}"
               + (", chart.png, latency.png)" if "chart" in paths else ")"))


def _engines_device(models: tuple[Path, ...], *, model_name: str | None, artifacts_dir: Path | None,
                    device: str) -> str:
    """cuda for `vgg-deploy bench x.plan` without --device: engines run nowhere else."""
    from click.core import ParameterSource

    engines_only = bool(models) and model_name is None and artifacts_dir is None and \
        all(file_type(f) == "plan" for f in models)
    if engines_only and click.get_current_context().get_parameter_source("device") == ParameterSource.DEFAULT:
        return "cuda"
    return device


def command_line(ctx: click.Context) -> list[str]:
    """The command as given (options the user set, in declaration order), rebuilt from the parsed parameters
    so it is right however the CLI was started (console script, python -m, a test's CliRunner)."""
    from click.core import ParameterSource

    words = ["vgg-deploy", ctx.info_name or "bench"]
    for param in ctx.command.params:
        name = param.name or ""
        if name not in ctx.params or ctx.get_parameter_source(name) != ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[name]
        if isinstance(param, click.Argument):
            words.extend(str(v) for v in value)
        elif param.is_flag:  # type: ignore[attr-defined]
            words.append(_long_name(param))
        else:
            if name == "duration":
                text = f"{value:g}s"
            elif isinstance(value, tuple):
                text = ("x" if name == "input_size" else ",").join(map(str, value))
            else:
                text = str(value)
            words += [_long_name(param), text]
    return words


def _long_name(param: click.Parameter) -> str:
    return next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])
