"""`vgg-deploy sensitivity`: which quantized layers cost the accuracy, per layer, on held-out images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .params import Command, ConversionOptions, calibration_options, model_argument, output_option

if TYPE_CHECKING:
    from ..precision import ConversionInputs, ConversionRequest
    from ..precision.sensitivity import SensitivityReport

__all__ = ["sensitivity"]


@click.command(cls=Command)
@model_argument()
@calibration_options
@click.option("--target", type=click.Choice(["tensorrt", "cpu"]), default="tensorrt", show_default=True,
              help="int8 scheme; layers kept out of INT8 run in fp16 for tensorrt, fp32 for cpu.")
@click.option("--qdq", "qdq_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Measure this Q/DQ model (made from MODEL) instead of calibrating one.")
@output_option(required=False,
               help="Write the table here (Markdown, e.g. sens.md), with sens.json and the bar chart sens.png beside it.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def sensitivity(
    model: Path, conversion: ConversionOptions, target: str, qdq_path: Path | None, output: Path | None,
    as_json: bool,
) -> None:
    """Per-layer INT8 sensitivity of the fp32 ONNX MODEL, measured on held-out images.

    Calibrates once (or takes --qdq), then for each quantized layer measures two variants of that calibration
    against fp32 on held-out images never used to calibrate: only this layer INT8, and all layers INT8 but this
    one (kept in fp16 for the TensorRT scheme, fp32 for the CPU scheme). Prints a table, most damaging layer
    first: worst-sample cosine, max abs diff, top-1 agreement, and accuracy when the data has labels.

    \b
    Examples:
      vgg-deploy sensitivity vgg16.onnx --calib-data images/ -o sensitivity.md
      vgg-deploy sensitivity vgg16.onnx --calib-data digits --quantizer modelopt --json
      vgg-deploy sensitivity vgg16.onnx --qdq vgg16.int8.onnx --calib-data images/
    """
    from ..artifacts import check_output
    from ..errors import VGGDeployError
    from ..export import config_from_metadata, read_metadata
    from ..export.metadata import load_onnx
    from ..precision import conversion_inputs
    from ..precision.layers import high_precision_for
    from ..precision.logits import onnx_logits
    from ..precision.sensitivity import layer_sensitivity

    if conversion.calibration.data is None:
        raise click.UsageError("sensitivity needs held-out images (and calibration images unless --qdq is given): "
                               "pass --calib-data PATH (image folder, .npy or .npz), 'digits', or 'synthetic'")
    request = conversion.resolved(target=target).request(precision="int8", target=target)
    if output is not None:  # before the calibration: a path in the way, or one of the inputs, is refused now
        for path in (output, output.with_suffix(".json"), output.with_suffix(".png")):
            check_output(path, inputs=[model, qdq_path])
    facts = read_metadata(model)
    if facts.get("precision", "fp32") != "fp32":
        raise VGGDeployError(f"{model}: MODEL must be the fp32 export (this one is {facts['precision']}); pass a "
                             "Q/DQ model with --qdq")
    inputs = conversion_inputs(config_from_metadata(facts, source=str(model)), request)
    source = load_onnx(model, weights=True)
    qdq, qdq_facts, target, note = _quantized(model, qdq_path, output, request, inputs)
    report = layer_sensitivity(
        qdq, source, inputs.holdout, labels=inputs.holdout_labels, high_precision=high_precision_for(target),
        model_name=model.name, holdout_note=note, reference=onnx_logits(model, inputs.holdout),
        facts={k: qdq_facts.get(k) for k in ("quantizer", "calibration_method", "calibration_samples", "int8_target")},
    )
    _write_and_print(report, output, as_json)


def _quantized(model: Path, qdq_path: Path | None, output: Path | None, request: ConversionRequest,
               inputs: ConversionInputs) -> tuple[Any, dict[str, Any], str, str]:
    """(the Q/DQ model measured, its facts, its INT8 target, the held-out note): --qdq's, or one calibrated here."""
    import onnx

    from ..artifacts import scratch_folder
    from ..export import read_metadata
    from ..export.metadata import load_onnx
    from ..precision import convert

    if qdq_path is not None:
        qdq = load_onnx(qdq_path, weights=True)
        qdq_facts = read_metadata(qdq)
        return (qdq, qdq_facts, qdq_facts.get("int8_target", request.target),
                f"{inputs.holdout_note} (--qdq given: its calibration data is not known to be disjoint)")
    with scratch_folder(output, name="sensitivity") as tmp:
        result = convert(model, tmp / "model.int8.onnx", request, inputs)
        return onnx.load(str(result.path)), result.facts, request.target, inputs.holdout_note


def _write_and_print(report: SensitivityReport, output: Path | None, as_json: bool) -> None:
    from ..artifacts import write_text_atomic
    from ..precision.sensitivity import draw_sensitivity_chart

    chart_note = None
    if output is not None:
        write_text_atomic(output, report.to_markdown())
        write_text_atomic(output.with_suffix(".json"), json.dumps(report.to_dict(), indent=2) + "\n")
        chart_note = draw_sensitivity_chart(report, output.with_suffix(".png"))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(report.to_markdown(), nl=False)
    if output is not None:
        click.echo(f"wrote {output}, {output.with_suffix('.json').name}"
                   + (f"; {chart_note}" if chart_note else f", {output.with_suffix('.png').name}"))
