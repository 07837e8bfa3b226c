"""The options every command that converts or calibrates shares (declared once here), and the one way they
become the precision package's request objects: `ConversionOptions.of(params)`.

A command declared with `@conversion_options` (or `@calibration_options`) receives them as one
`conversion: ConversionOptions` argument instead of ten (six) loose ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, TypeVar

import click

from ..precision.request import (
    DEFAULT_MAX_FALLBACK_LAYERS, FALLBACK_MODES, CalibrationRequest, ConversionRequest, FallbackPolicy, ParityGates,
)

__all__ = ["ConversionOptions", "conversion_options", "calibration_options", "quantizer_option",
           "CALIBRATION_PARAMS", "GATE_PARAMS"]

_F = TypeVar("_F", bound=Callable[..., Any])

# The click names of the shared parameters, which `ConversionOptions.of` folds into the request objects.
CALIBRATION_PARAMS = ("calib_data", "quantizer", "calib_method", "calib_samples", "calib_batch", "seed")
GATE_PARAMS = ("min_top1_agreement", "min_cosine", "fallback", "max_fallback_layers")


@dataclass(frozen=True)
class ConversionOptions:
    """The shared options as parsed: how to calibrate, which gates, which fallback (no gates and no fallback for
    the commands that take the calibration options only)."""

    calibration: CalibrationRequest
    gates: ParityGates = field(default_factory=ParityGates)
    fallback: FallbackPolicy = field(default_factory=FallbackPolicy)

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> ConversionOptions:
        """From the parsed parameters by click name (a command's keyword arguments, or ctx.params); the gate
        parameters may be absent. The one place the CLI's names turn into the request objects."""
        calibration = CalibrationRequest(
            data=params["calib_data"], quantizer=params["quantizer"], method=params["calib_method"],
            samples=params["calib_samples"], batch=params["calib_batch"], seed=params["seed"],
        )
        gates = ParityGates(min_top1=params.get("min_top1_agreement"), min_cosine=params.get("min_cosine"))
        fallback = FallbackPolicy(mode=params.get("fallback", "off"),
                                  max_layers=params.get("max_fallback_layers", DEFAULT_MAX_FALLBACK_LAYERS))
        return cls(calibration=calibration, gates=gates, fallback=fallback)

    def resolved(self, *, target: str = "tensorrt") -> ConversionOptions:
        """These options with the calibration method checked against the quantizer and target (None: its
        default); a combination that cannot work is a usage error, before any data loads."""
        from ..precision import QuantizeError

        try:
            return replace(self, calibration=self.calibration.resolved(target=target))
        except QuantizeError as exc:
            raise click.UsageError(str(exc)) from None

    def request(self, *, precision: str, target: str = "tensorrt", keep_io_types: bool = True) -> ConversionRequest:
        """The conversion these options ask for, to `precision` in the `target` scheme."""
        return ConversionRequest(precision=precision, target=target, keep_io_types=keep_io_types,
                                 calibration=self.calibration, gates=self.gates, fallback=self.fallback)


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


def _folding(command: _F, names: tuple[str, ...]) -> _F:
    """`command` receiving the parameters `names` as one `conversion: ConversionOptions` argument."""
    @functools.wraps(command)  # also carries the click parameters declared so far
    def folded(**params: Any) -> Any:
        shared = {name: params.pop(name) for name in names}
        return command(conversion=ConversionOptions.of(shared), **params)

    return folded  # type: ignore[return-value]


def conversion_options(command: _F) -> _F:
    """The calibration, held-out parity and gate options shared by `quantize`, `build-trt`, `bench` and `zoo`; the
    command receives them as one `conversion: ConversionOptions` argument."""
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
    declared = _calibration_declared(_apply(command, gates))
    return _folding(declared, CALIBRATION_PARAMS + GATE_PARAMS)


def calibration_options(command: _F) -> _F:
    """The calibration and held-out split options (`sensitivity`; part of conversion_options); the command receives
    them as one `conversion: ConversionOptions` argument (no gates)."""
    return _folding(_calibration_declared(command), CALIBRATION_PARAMS)


def _calibration_declared(command: _F) -> _F:
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
