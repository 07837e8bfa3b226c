"""What a precision conversion is asked to do, as small frozen records that cross the layers (CLI -> convert ->
int8/modelopt/fallback/sensitivity) instead of a dozen loose keyword arguments.

- CalibrationRequest: where the calibration (and held-out) images come from and how INT8 is calibrated;
- ParityGates: the held-out agreement with fp32 a result must reach (none: only NaN/Inf fail);
- FallbackPolicy: whether, and how far, INT8 layers may be kept high to reach the gates;
- ConversionRequest: the precision and INT8 target, plus the three above.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..errors import VGGDeployError

if TYPE_CHECKING:
    from ..export.parity import Parity

__all__ = [
    "CalibrationRequest", "ParityGates", "FallbackPolicy", "ConversionRequest", "FALLBACK_MODES",
    "DEFAULT_MAX_FALLBACK_LAYERS",
]

FALLBACK_MODES = ("off", "auto")
DEFAULT_MAX_FALLBACK_LAYERS = 4


@dataclass(frozen=True)
class CalibrationRequest:
    """The calibration images and how INT8 is calibrated on them (for FP16 the images only check parity)."""

    data: str | None = None  # PATH (image folder, .npy, .npz), "digits" or "synthetic"; None: none given
    quantizer: str = "ort"  # "ort" (ONNX Runtime's) or "modelopt" (NVIDIA Model Optimizer's, TensorRT scheme only)
    method: str | None = None  # None: the quantizer's default
    samples: int = 128  # calibration images (the held-out images come on top, from the same source)
    batch: int = 16  # calibration batch size, independent of the model's
    seed: int = 0  # of the sampling and the held-out split

    def resolved(self, *, target: str = "tensorrt") -> CalibrationRequest:
        """This request with `method` checked against the quantizer's (None: its default); QuantizeError if the
        quantizer, target and method do not go together."""
        from .int8 import calibration_method

        return replace(self, method=calibration_method(self.quantizer, self.method, target=target))


@dataclass(frozen=True)
class ParityGates:
    """The held-out agreement with fp32 a converted model must reach; None: not checked."""

    min_top1: float | None = None
    min_cosine: float | None = None

    @property
    def any(self) -> bool:
        return self.min_top1 is not None or self.min_cosine is not None

    def apply(self, parity: Parity) -> Parity:
        """`parity` judged against these gates."""
        return replace(parity, min_top1=self.min_top1, min_cosine=self.min_cosine)


@dataclass(frozen=True)
class FallbackPolicy:
    """mode "auto" (INT8 with a gate): keep the most damaging layers out of INT8, at most `max_layers` of them,
    until the gates hold (fallback.py)."""

    mode: str = "off"
    max_layers: int = DEFAULT_MAX_FALLBACK_LAYERS


@dataclass(frozen=True)
class ConversionRequest:
    """fp32 ONNX -> `precision` ("fp16" or "int8", `target` scheme "tensorrt" or "cpu")."""

    precision: str
    target: str = "tensorrt"
    keep_io_types: bool = True  # fp16: fp32 inputs and outputs
    calibration: CalibrationRequest = field(default_factory=CalibrationRequest)
    gates: ParityGates = field(default_factory=ParityGates)
    fallback: FallbackPolicy = field(default_factory=FallbackPolicy)

    def check_fallback(self) -> None:
        """VGGDeployError for a fallback this request cannot have (checked before any work)."""
        if self.fallback.mode not in FALLBACK_MODES:
            raise VGGDeployError(f"unknown fallback {self.fallback.mode!r}; choose one of: {', '.join(FALLBACK_MODES)}")
        if self.fallback.mode == "auto" and (self.precision != "int8" or not self.gates.any):
            raise VGGDeployError("--fallback auto needs --precision int8 and a gate to reach: --min-top1-agreement "
                                 "and/or --min-cosine")
