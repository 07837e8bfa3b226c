"""`vgg-deploy export`: a VGG to a verified ONNX file with a dynamic batch."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import click

from .params import BATCH, INPUT_SIZE, MODEL, WEIGHTS, Command, deprecated_alias, output_option

__all__ = ["export"]

log = logging.getLogger(__name__)


@click.command(cls=Command)
@click.option("--model", "model_name", type=MODEL, required=True,
              help="Registered model: vgg11/13/16/19[_bn], d2l_vgg11_fashion, vgg_tiny.")
@click.option("--weights", type=WEIGHTS, default=None,
              help="Checkpoint (.pt/.pth/.safetensors, torchvision layout) or 'imagenet'. Default: random weights.")
@click.option("--num-classes", type=click.IntRange(min=1), default=None,
              help="Classifier outputs. Default: the model's, or the checkpoint's.")
@click.option("--in-channels", type=click.IntRange(min=1), default=None,
              help="Input channels (1 for grayscale). Default: the model's, or the checkpoint's.")
@click.option("--width-divisor", type=click.IntRange(min=1), default=None,
              help="Divide every block's channels by this (d2l's narrow VGG uses 4). Default: 1, or the checkpoint's.")
@click.option("--classifier-width", type=click.IntRange(min=1), default=None,
              help="Width of the two hidden classifier layers. Default: the model's (4096), or the checkpoint's.")
@click.option("--input-size", type=INPUT_SIZE, default=None, help="H or HxW, fixed in the ONNX. Default: the model's.")
@click.option("--classifier-input", type=click.Choice(["avgpool", "flatten"]), default=None,
              help="7x7 adaptive average pool (torchvision) or a plain flatten (d2l). Default: the model's.")
@click.option("--opset", type=click.IntRange(min=17), default=17, show_default=True, help="ONNX opset.")
@click.option("--fixed-batch", type=BATCH, default=None,
              help="Bake this batch size into the ONNX. Default: a dynamic batch.")
@deprecated_alias("--batch", replaces="fixed_batch", new="--fixed-batch")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random verification batches.")
@output_option(help="The ONNX file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def export(
    model_name: str, weights: str | None, num_classes: int | None, in_channels: int | None,
    width_divisor: int | None, classifier_width: int | None, input_size: tuple[int, int] | None, classifier_input: str | None,
    opset: int, fixed_batch: int | None, seed: int, output: Path, as_json: bool,
) -> None:
    """Export a VGG to ONNX, check it, and verify it against PyTorch with ONNX Runtime.

    The model runs in eval mode; the input is named `input` (N, C, H, W) and the output `logits`. The file is
    written only if its outputs match PyTorch on seeded random batches (max abs diff <= 1e-4 x the logit scale,
    cosine >= 0.99999, no NaN/Inf); otherwise the command exits 1 and leaves no file.

    \b
    Examples:
      vgg-deploy export --model vgg16 -o vgg16.onnx
      vgg-deploy export --model vgg16 --weights finetuned.pth --input-size 160 -o vgg16_160.onnx
      vgg-deploy export --model d2l_vgg11_fashion --weights fashion.safetensors -o fashion.onnx
    """
    from ..export import export_onnx
    from ..export.onnx_export import check_opset
    from ..models import create_model

    check_opset(opset)  # before the model is built
    started = time.perf_counter()
    log.info("building %s (%s)", model_name, "random weights" if weights is None else weights)
    model = create_model(
        model_name, num_classes=num_classes, in_channels=in_channels, width_divisor=width_divisor,
        classifier_width=classifier_width, input_size=input_size, classifier_input=classifier_input,
        weights=weights,
    )
    result = export_onnx(model, output, opset=opset, batch=fixed_batch, weights=weights or "random", seed=seed)
    total = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "total_seconds": round(total, 3)}, indent=2))
        return
    shape = ", ".join(map(str, result.input_shape))
    click.echo(
        f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB): {result.model}, input [{shape}], "
        f"opset {result.opset}; export {result.export_seconds:.1f} s, total {total:.1f} s"
    )
    if result.parity is not None:
        batches = " and ".join(map(str, result.verify_batches))
        click.echo(f"parity vs PyTorch (ONNX Runtime CPU, batches {batches}): {result.parity.summary()}")
