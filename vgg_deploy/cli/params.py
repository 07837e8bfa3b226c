"""The CLI's shared vocabulary: option types that validate on the option (bad values are usage errors, exit 2,
naming the option) and the options several commands share, declared once (the conversion options in
conversion.py, the deprecated-alias mechanism in aliases.py; both importable from here too)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from .aliases import (
    REMOVED_IN, AliasedArgument, AliasedChoice, Command, DeprecatedAlias, deprecated_alias, deprecation_warning,
)
from .conversion import ConversionOptions, calibration_options, conversion_options, quantizer_option

__all__ = [
    "MODEL", "INPUT_SIZE", "BATCH", "WEIGHTS", "OUTPUT_FILE", "OUTPUT_FOLDER", "MODEL_FILE", "CUDA_DEVICE", "DEVICE",
    "REMOVED_IN",
    "IntList", "Device", "AliasedChoice", "Command", "DeprecatedAlias", "conversion_options", "calibration_options",
    "quantizer_option", "deprecated_alias", "ConversionOptions",
    "deprecated_spellings", "deprecation_warning", "model_argument", "output_option", "parse_int_list",
]

_F = TypeVar("_F", bound=Callable[..., Any])


def parse_int_list(text: str) -> tuple[int, ...]:
    """'1,8,32' -> (1, 8, 32): the one comma-list parser. ValueError when a part is not an integer."""
    return tuple(int(part) for part in str(text).split(",") if part.strip())


class _LowerMetavar(click.ParamType):
    """Help shows the type's name as written (cpu|cuda, PATH|imagenet), not upper-cased."""

    def get_metavar(self, *args: Any, **kwargs: Any) -> str | None:
        return self.name


class IntList(_LowerMetavar):
    """Comma-separated integers >= 1 (batch sizes); `none_word` (e.g. 'none') allows the empty list."""

    def __init__(self, *, none_word: str | None = None, sort: bool = False) -> None:
        self.none_word, self.sort = none_word, sort
        self.name = "N,N,..." + (f"|{none_word}" if none_word else "")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        if self.none_word is not None and str(value).strip().lower() in (self.none_word, ""):
            return ()
        try:
            sizes = parse_int_list(value)
        except ValueError:
            sizes = ()
        if not sizes or min(sizes) < 1:
            hint = f" (or '{self.none_word}')" if self.none_word else ""
            self.fail(f"{value!r} is not a list of batch sizes >= 1; use e.g. 1,8,32{hint}", param, ctx)
        return tuple(sorted(set(sizes))) if self.sort else sizes


class Device(_LowerMetavar):
    """cpu, cuda or cuda:N. `cuda_only` refuses cpu; `legacy_index` still takes the old bare integer N (= cuda:N)
    with a deprecation line."""

    def __init__(self, *, cuda_only: bool = False, legacy_index: bool = False, index: bool = True) -> None:
        self.cuda_only, self.legacy_index, self.index = cuda_only, legacy_index, index
        self.name = ("cuda" if cuda_only else "cpu|cuda") + ("|cuda:N" if index else "")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().lower()
        if self.legacy_index and text.isdigit():
            deprecation_warning(f"--device {text}", f"--device cuda:{text}")
            text = f"cuda:{text}"
        if not re.fullmatch(r"cpu|cuda(:\d+)?", text) or (self.cuda_only and text == "cpu") \
                or (not self.index and ":" in text):
            *first, last = self.name.split("|")
            choices = f"{', '.join(first)} or {last}"
            self.fail(f"{value!r} is not a device here; use {choices}", param, ctx)
        return text


MODEL_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def model_argument(*, old_option: str | None = None) -> Callable[[_F], _F]:
    """The positional MODEL every command that reads one model file takes; `old_option` keeps a former
    `--onnx FILE` spelling working (the command needs cls=Command)."""
    def decorate(command: _F) -> _F:
        if old_option is None:
            return click.argument("model", metavar="MODEL", type=MODEL_FILE)(command)
        command = deprecated_alias(old_option, replaces="model", new="MODEL (positional)")(command)
        return click.argument("model", metavar="MODEL", type=MODEL_FILE, required=False,
                              cls=AliasedArgument)(command)
    return decorate


def output_option(*, help: str, type: click.ParamType | None = None, required: bool = True, default: Any = None,
                  show_default: bool = False, old: str | None = None) -> Callable[[_F], _F]:
    """-o/--output, where a command writes (a file or a folder); `old` keeps a former spelling (e.g. '--out')."""
    def decorate(command: _F) -> _F:
        if old is not None:
            command = deprecated_alias(old, replaces="output", new="-o/--output")(command)
        return click.option("-o", "--output", type=type or OUTPUT_FILE, required=required, default=default,
                            show_default=show_default, help=help)(command)
    return decorate


class ModelName(click.ParamType):
    """A registered model name (vgg16, vgg_tiny...); NAME, since MODEL is the positional model file."""

    name = "NAME"

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
    """A fixed batch size N ('dynamic', the default, leaves the batch dynamic)."""

    name = "N"

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


class Weights(_LowerMetavar):
    """'imagenet' or an existing checkpoint file."""

    name = "PATH|imagenet"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if str(value).lower() == "imagenet":
            return "imagenet"
        path = Path(value)
        if path.is_dir():
            self.fail(f"'{value}' is a folder; pass a .pt/.pth/.safetensors checkpoint file or 'imagenet'", param, ctx)
        if not path.is_file():
            self.fail(f"file '{value}' does not exist; pass a .pt/.pth/.safetensors checkpoint or 'imagenet'", param, ctx)
        return str(path)


class OutputFile(click.ParamType):
    """A file to write; its folder is created, but it must not be an existing directory."""

    name = "FILE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        from ..artifacts import OutputError, check_output

        path = Path(value)
        if path.is_dir():
            self.fail(f"'{value}' is a directory; give a file name such as {Path(value) / 'model.onnx'}", param, ctx)
        try:
            return check_output(path)  # a file in the way, a read-only folder: before any work is done
        except OutputError as exc:
            self.fail(str(exc), param, ctx)


class OutputFolder(click.ParamType):
    """A folder to write into; a file in the way or a folder we cannot write in is refused before any work."""

    name = "DIRECTORY"  # as click.Path(file_okay=False) shows it

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        from ..artifacts import OutputError, check_output

        try:
            return check_output(Path(value), folder=True)
        except OutputError as exc:
            self.fail(str(exc), param, ctx)


MODEL, INPUT_SIZE, BATCH, WEIGHTS, OUTPUT_FILE = ModelName(), InputSize(), Batch(), Weights(), OutputFile()
DEVICE, CUDA_DEVICE = Device(), Device(cuda_only=True, legacy_index=True)
OUTPUT_FOLDER = OutputFolder()


def deprecated_spellings(command: click.Command) -> list[tuple[str, str]]:
    """(old, new) for every old spelling `command` still accepts: hidden alias options, old choice values and
    the old bare-integer --device; read from the click objects, so CHANGELOG.md and the tests cannot miss one."""
    found: list[tuple[str, str]] = []
    for param in command.params:
        if isinstance(param, DeprecatedAlias):
            found.append((param.old, param.new))
            continue
        flag = param.opts[0] if isinstance(param, click.Option) else (param.name or "")
        if isinstance(param.type, AliasedChoice):
            found.extend((f"{flag} {old}", f"{flag} {new}") for old, new in param.type.aliases.items())
        if isinstance(param.type, Device) and param.type.legacy_index:
            found.append((f"{flag} N", f"{flag} cuda:N"))
    return found
