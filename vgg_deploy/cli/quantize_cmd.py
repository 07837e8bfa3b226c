"""`vgg-deploy quantize`: the FP16 or calibrated INT8 (Q/DQ) variant of an exported fp32 ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .params import Command, conversion_options, model_argument, output_option

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
    model: Path, precision: str, quantizer: str, calib_data: str | None, calib_method: str | None, calib_samples: int,
    calib_batch: int, target: str, keep_io_types: bool, min_top1_agreement: float | None,
    min_cosine: float | None, fallback: str, max_fallback_layers: int, seed: int, output: Path, as_json: bool,
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
    from ..precision import QuantizeError, calibration_method, conversion_inputs, convert_precision

    def progress(message: str) -> None:
        click.echo(f"[vgg-deploy] {message}", err=True)

    if precision == "int8" and calib_data is None:
        raise click.UsageError(
            "INT8 needs calibration images: pass --calib-data PATH (image folder, .npy or .npz), 'digits', or "
            "'synthetic' to calibrate on random inputs on purpose (the result says so)"
        )
    check_output(output, inputs=[model])  # before the calibration images are read
    if precision == "int8":
        try:  # a quantizer/target/method combination that cannot work is a usage error, before any data loads
            calib_method = calibration_method(quantizer, calib_method, target=target)
        except QuantizeError as exc:
            raise click.UsageError(str(exc)) from None
    config = config_from_metadata(read_metadata(model), source=str(model))
    inputs = conversion_inputs(config, precision=precision, calib_data=calib_data, calib_samples=calib_samples,
                               seed=seed, progress=progress)
    result = convert_precision(
        model, output, precision=precision, holdout=inputs.holdout, holdout_note=inputs.holdout_note,
        calibration=inputs.calibration, calibration_source=calib_data, synthetic=inputs.synthetic,
        classes=inputs.classes, target=target, method=calib_method, quantizer=quantizer, calib_batch=calib_batch,
        keep_io_types=keep_io_types, min_top1=min_top1_agreement, min_cosine=min_cosine, fallback=fallback,
        max_fallback_layers=max_fallback_layers, progress=progress,
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    what = precision if precision == "fp16" else f"int8 ({target} scheme by {quantizer}, {calib_method} calibration" + \
        (", SYNTHETIC data)" if inputs.synthetic else ")")
    click.echo(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, {result.source_size_bytes / 1e6:.1f} MB fp32): {what}")
    click.echo(f"parity vs fp32 on held-out samples ({result.holdout}): {result.parity.summary()}")
    kept = result.facts.get("int8_kept_high")
    if kept:
        click.echo(f"kept out of INT8 ({result.facts['int8_kept_high_precision']}): {', '.join(kept)}")
