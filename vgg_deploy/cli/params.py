"""The CLI's shared vocabulary: option types that validate on the option (bad values are usage errors, exit 2,
naming the option), the options several commands share (declared once here), and the mechanism that keeps old
spellings working as hidden, deprecated aliases (one warning line on stderr each) until REMOVED_IN."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import click
from click.core import ParameterSource

__all__ = [
    "MODEL", "INPUT_SIZE", "BATCH", "WEIGHTS", "OUTPUT_FILE", "OUTPUT_FOLDER", "MODEL_FILE", "CUDA_DEVICE", "DEVICE",
    "REMOVED_IN",
    "IntList", "Device", "AliasedChoice", "Command", "DeprecatedAlias", "conversion_options", "calibration_options",
    "quantizer_option", "deprecated_alias",
    "deprecated_spellings", "deprecation_warning", "model_argument", "output_option", "parse_int_list",
]

# The release in which the deprecated spellings (CHANGELOG.md, "Renamed") stop working.
REMOVED_IN = "0.3.0"

_F = TypeVar("_F", bound=Callable[..., Any])


def deprecation_warning(old: str, new: str) -> None:
    """The one stderr line an old spelling prints."""
    click.echo(f"Warning: {old} is deprecated and goes in vgg-deploy {REMOVED_IN}; use {new}", err=True)


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


class AliasedChoice(click.Choice):
    """A choice whose old value names still work (hidden from help) with a deprecation line."""

    def __init__(self, choices: Sequence[str], *, aliases: Mapping[str, str]) -> None:
        super().__init__(list(choices))
        self.aliases = dict(aliases)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value in self.aliases:
            new = self.aliases[value]
            flag = param.opts[0] if isinstance(param, click.Option) else ""
            deprecation_warning(f"{flag} {value}".strip(), f"{flag} {new}".strip())
            value = new
        return super().convert(value, param, ctx)


class DeprecatedAlias(click.Option):
    """The old spelling of another parameter of the same command: hidden, and folded into that parameter by
    `Command` (which prints the deprecation line). `replaces` is the parameter's name, `new` how to write it,
    `values` old values that are spelled differently now (e.g. gpu -> cuda)."""

    def __init__(self, param_decls: Sequence[str], *, replaces: str, new: str,
                 values: Mapping[str, str] | None = None, **attrs: Any) -> None:
        super().__init__(list(param_decls), hidden=True, default=None, metavar="VALUE", **attrs)
        self.replaces, self.new, self.values = replaces, new, dict(values or {})

    @property
    def old(self) -> str:
        return self.opts[0]


def deprecated_alias(old: str, *, replaces: str, new: str,
                     values: Mapping[str, str] | None = None) -> Callable[[_F], _F]:
    """Keep `old` (e.g. '--onnx') working for the parameter named `replaces`; the command needs cls=Command."""
    def decorate(command: _F) -> _F:
        return click.option(old, "deprecated__" + replaces, cls=DeprecatedAlias, replaces=replaces, new=new,
                            values=values)(command)
    return decorate


class Command(click.Command):
    """A command that folds its DeprecatedAlias options into the parameters they replace (after validating the
    value with that parameter's type), and checks the parameters a DeprecatedAlias made optional."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        by_name = {param.name: param for param in self.params}
        for alias in [p for p in self.params if isinstance(p, DeprecatedAlias)]:
            raw = ctx.params.pop(alias.name or "", None)
            if raw is None:
                continue
            target = by_name[alias.replaces]
            if ctx.get_parameter_source(alias.replaces) == ParameterSource.COMMANDLINE:
                raise click.UsageError(f"{alias.old} is the old spelling of {alias.new}; give only {alias.new}", ctx)
            deprecation_warning(alias.old, alias.new)
            try:
                ctx.params[alias.replaces] = target.type_cast_value(ctx, alias.values.get(raw, raw))
            except click.BadParameter as exc:
                exc.param, exc.param_hint = alias, f"'{alias.old}'"
                raise
            ctx.set_parameter_source(alias.replaces, ParameterSource.COMMANDLINE)
        for param in self.params:
            if getattr(param, "required_with_alias", False) and ctx.params.get(param.name or "") is None:
                raise click.MissingParameter(ctx=ctx, param=param)
        return rest


class _RequiredPositional(click.Argument):
    """A positional argument that is required, but may come through its deprecated option instead (so click
    must not insist on it; Command checks it once the alias is folded in)."""

    required_with_alias = True


MODEL_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def model_argument(*, old_option: str | None = None) -> Callable[[_F], _F]:
    """The positional MODEL every command that reads one model file takes; `old_option` keeps a former
    `--onnx FILE` spelling working (the command needs cls=Command)."""
    def decorate(command: _F) -> _F:
        if old_option is None:
            return click.argument("model", metavar="MODEL", type=MODEL_FILE)(command)
        command = deprecated_alias(old_option, replaces="model", new="MODEL (positional)")(command)
        return click.argument("model", metavar="MODEL", type=MODEL_FILE, required=False,
                              cls=_RequiredPositional)(command)
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


def quantizer_option(command: _F) -> _F:
    """--quantizer ort|modelopt: which quantizer makes INT8 (bench: its TensorRT-scheme INT8)."""
    from ..precision.int8 import QUANTIZERS

    return click.option("--quantizer", type=click.Choice(list(QUANTIZERS)), default="ort", show_default=True,
                        help="int8: ONNX Runtime's quantizer, or NVIDIA Model Optimizer's (TensorRT scheme only; "
                             'pip install "vgg-deploy[modelopt]"; bench: the CPU-scheme INT8 stays ONNX Runtime\'s).'
                        )(command)


def _apply(command: _F, options: list[Any]) -> _F:
    for option in reversed(options):
        command = option(command)
    return command


def conversion_options(command: _F) -> _F:
    """The calibration, held-out parity and gate options shared by `quantize`, `build-trt` and `bench`."""
    from ..precision.fallback import DEFAULT_MAX_FALLBACK_LAYERS, FALLBACK_MODES

    gates = [
        click.option("--min-top1-agreement", type=click.FloatRange(0, 1), default=None,
                     help="Fail (exit 1, no file) when held-out top-1 agreement with fp32 is below this."),
        click.option("--min-cosine", type=click.FloatRange(-1, 1), default=None,
                     help="Fail (exit 1, no file) when the worst held-out cosine similarity is below this."),
        click.option("--fallback", type=click.Choice(list(FALLBACK_MODES)), default="off", show_default=True,
                     help="int8 with a gate: 'auto' keeps the most damaging layers out of INT8 (fp16 for the TensorRT "
                          "scheme, fp32 for the CPU scheme) until the gate holds; the output lists them."),
        click.option("--max-fallback-layers", type=click.IntRange(min=1), default=DEFAULT_MAX_FALLBACK_LAYERS,
                     show_default=True, help="--fallback auto: at most this many layers kept out of INT8."),
    ]
    return calibration_options(_apply(command, gates))


def calibration_options(command: _F) -> _F:
    """The calibration and held-out split options (`quantize`, `build-trt`, `bench`, `sensitivity`)."""
    from ..precision.int8 import CALIBRATION_METHODS, QUANTIZER_METHODS

    defaults = "; ".join(f"{q}: {', '.join(m)} (default {m[0]})" for q, m in QUANTIZER_METHODS.items())
    options = [
        click.option("--calib-data", default=None, metavar="PATH|digits|synthetic",
                     help="Calibration images: an image folder (class sub-folders give labels), a .npy/.npz of "
                          "(N,C,H,W) inputs, 'digits' (scikit-learn's, no download), or 'synthetic' (random; only if "
                          "you mean it). Required for int8; for fp16 it is the parity data. bench: default --data "
                          "(digits for vgg_digits)."),
        quantizer_option,
        click.option("--calib-method", type=click.Choice(list(CALIBRATION_METHODS)), default=None,
                     help=f"int8: how activation ranges are chosen from the calibration data ({defaults})."),
        click.option("--calib-samples", type=click.IntRange(min=1), default=128, show_default=True,
                     help="int8: calibration images (held-out parity images are taken on top, from the same source)."),
        click.option("--calib-batch", type=click.IntRange(min=1), default=16, show_default=True,
                     help="int8: calibration batch size, independent of the model's batch."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of the calibration sampling and the held-out split (bench: also of the random "
                          "weights and inputs)."),
    ]
    return _apply(command, options)


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
