"""Option types that validate on the option, so bad values are usage errors (exit 2) naming the option."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

import click

__all__ = ["MODEL", "INPUT_SIZE", "BATCH", "WEIGHTS", "OUTPUT_FILE", "conversion_options"]


class ModelName(click.ParamType):
    name = "MODEL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from ..models import UnknownModelError, model_config

        try:
            return model_config(str(value)).name
        except UnknownModelError as exc:
            self.fail(str(exc), param, ctx)


class InputSize(click.ParamType):
    """224 or 160x200 (height x width)."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        parts = str(value).lower().split("x")
        try:
            sizes = [int(p) for p in parts]
        except ValueError:
            sizes = []
        if len(sizes) not in (1, 2) or min(sizes) < 1:
            self.fail(f"{value!r} is not a size; use e.g. 224 or 160x200 (height x width)", param, ctx)
        return (sizes[0], sizes[-1])


class Batch(click.ParamType):
    """'dynamic' or a fixed batch size."""

    name = "dynamic|N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        if value is None or str(value).lower() == "dynamic":
            return None
        try:
            batch = int(value)
        except ValueError:
            batch = 0
        if batch < 1:
            self.fail(f"{value!r}: use 'dynamic' or a batch size >= 1", param, ctx)
        return batch


class Weights(click.ParamType):
    """'imagenet' or an existing checkpoint file."""

    name = "PATH|imagenet"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if str(value).lower() == "imagenet":
            return "imagenet"
        path = Path(value)
        if not path.is_file():
            self.fail(f"file '{value}' does not exist; pass a .pt/.pth/.safetensors checkpoint or 'imagenet'", param, ctx)
        return str(path)


class OutputFile(click.ParamType):
    """A file to write; its folder is created, but it must not be an existing directory."""

    name = "FILE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        if path.is_dir():
            self.fail(f"'{value}' is a directory; give a file name such as {Path(value) / 'model.onnx'}", param, ctx)
        return path


MODEL, INPUT_SIZE, BATCH, WEIGHTS, OUTPUT_FILE = ModelName(), InputSize(), Batch(), Weights(), OutputFile()


_F = TypeVar("_F", bound=Callable[..., Any])


def conversion_options(command: _F) -> _F:
    """The calibration, held-out parity and gate options shared by `quantize` and `build-trt`."""
    from ..precision.int8 import CALIBRATION_METHODS, DEFAULT_CALIBRATION_METHOD

    options = [
        click.option("--calib-data", default=None, metavar="PATH|digits|synthetic",
                     help="Calibration images: an image folder (class sub-folders give labels), a .npy/.npz of "
                          "(N,C,H,W) inputs, 'digits' (scikit-learn's, no download), or 'synthetic' (random; only if "
                          "you mean it). Required for int8; for fp16 it is the parity data."),
        click.option("--calib-method", type=click.Choice(list(CALIBRATION_METHODS)),
                     default=DEFAULT_CALIBRATION_METHOD, show_default=True,
                     help="int8: how activation ranges are chosen from the calibration data."),
        click.option("--calib-samples", type=click.IntRange(min=1), default=128, show_default=True,
                     help="int8: calibration images (held-out parity images are taken on top, from the same source)."),
        click.option("--calib-batch", type=click.IntRange(min=1), default=16, show_default=True,
                     help="int8: calibration batch size, independent of the model's batch."),
        click.option("--min-top1-agreement", type=click.FloatRange(0, 1), default=None,
                     help="Fail (exit 1, no file) when held-out top-1 agreement with fp32 is below this."),
        click.option("--min-cosine", type=click.FloatRange(-1, 1), default=None,
                     help="Fail (exit 1, no file) when the worst held-out cosine similarity is below this."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of the calibration sampling and the held-out split."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
