"""`vgg-deploy quantize`: the FP16 or calibrated INT8 (Q/DQ) variant of an exported fp32 ONNX."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .params import Command, ConversionOptions, conversion_options, model_argument, output_option

if TYPE_CHECKING:
    from ..precision import ConversionRequest, ConversionResult

__all__ = ["quantize"]


@click.command(cls=Command)
@model_argument(old_option="--onnx")
@click.option("--precision", type=click.Choice(["int8", "fp16"]), required=True, help="The variant to make.")
@conversion_options
@click.option("--target", type=click.Choice(["tensorrt", "cpu"]), default="tensorrt", show_default=True,
              help="int8 scheme: 'tensorrt' (signed symmetric, TensorRT's rules) or 'cpu' (fastest on ONNX Runtime's "
                   "CPU kernels: unsigned activations, needs VNNI).")
@click.option("--keep-io-types/--no-keep-io-types", default=True, show_default=True,
              help="fp16: keep fp32 inputs and outputs.")
@output_option(help="The ONNX file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def quantize(
    model: Path, precision: str, conversion: ConversionOptions, target: str, keep_io_types: bool, output: Path,
    as_json: bool,
) -> None:
    """Make the FP16 or INT8 variant of the fp32 ONNX MODEL, and check it against fp32 on held-out samples.

    MODEL is the fp32 ONNX from `vgg-deploy export` (its metadata gives the preprocessing).

    TensorRT 11 takes precision from the graph: FP16 from casts, INT8 from explicit Q/DQ nodes. INT8 is
    calibrated with ONNX Runtime on real images; the held-out parity images never overlap the calibration
    images. NaN/Inf in the outputs, or results below --min-top1-agreement / --min-cosine, exit 1 and leave no file;
    with --fallback auto the most damaging layers are first kept out of INT8 (listed in the output) until the gate
    holds, at most --max-fallback-layers of them.

    \b
    Examples:
      vgg-deploy quantize vgg16.onnx --precision int8 --calib-data images/ -o vgg16.int8.onnx
      vgg-deploy quantize vgg16.onnx --precision int8 --target cpu --calib-data images/ -o vgg16.cpu.int8.onnx
      vgg-deploy quantize vgg16.onnx --precision int8 --quantizer modelopt --calib-data images/ -o vgg16.mo.int8.onnx
      vgg-deploy quantize vgg16.onnx --precision int8 --calib-data images/ --min-top1-agreement 0.99 \
          --fallback auto -o vgg16.int8.onnx
      vgg-deploy quantize vgg16.onnx --precision fp16 -o vgg16.fp16.onnx
    """
    from ..artifacts import check_output
    from ..export import config_from_metadata, read_metadata
    from ..precision import conversion_inputs, convert

    if precision == "int8" and conversion.calibration.data is None:
        raise click.UsageError(
            "INT8 needs calibration images: pass --calib-data PATH (image folder, .npy or .npz), 'digits', or "
            "'synthetic' to calibrate on random inputs on purpose (the result says so)"
        )
    check_output(output, inputs=[model])  # before the calibration images are read
    if precision == "int8":
        conversion = conversion.resolved(target=target)
    request = conversion.request(precision=precision, target=target, keep_io_types=keep_io_types)
    config = config_from_metadata(read_metadata(model), source=str(model))
    result = convert(model, output, request, conversion_inputs(config, request))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    _print_result(result, request)


def _print_result(result: ConversionResult, request: ConversionRequest) -> None:
    calibration = request.calibration
    what = request.precision if request.precision == "fp16" else (
        f"int8 ({request.target} scheme by {calibration.quantizer}, {calibration.method} calibration"
        + (", SYNTHETIC data)" if result.facts.get("synthetic_calibration") else ")"))
    click.echo(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, {result.source_size_bytes / 1e6:.1f} MB fp32): {what}")
    click.echo(f"parity vs fp32 on held-out samples ({result.holdout}): {result.parity.summary()}")
    kept = result.facts.get("int8_kept_high")
    if kept:
        click.echo(f"kept out of INT8 ({result.facts['int8_kept_high_precision']}): {', '.join(kept)}")
