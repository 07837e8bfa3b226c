"""Option types that validate on the option, so bad values are usage errors (exit 2) naming the option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["MODEL", "INPUT_SIZE", "BATCH", "WEIGHTS", "OUTPUT_FILE"]


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
