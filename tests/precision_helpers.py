"""The INT8 conversion the precision, quantizer and sensitivity tests make, through the request objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vgg_deploy.precision import (
    CalibrationRequest, ConversionInputs, ConversionRequest, FallbackPolicy, ParityGates, convert,
)


def convert_int8(src: Path, out: Path, *, calibration: np.ndarray, holdout: np.ndarray, target: str = "tensorrt",
                 quantizer: str = "ort", method: str | None = "minmax", calib_batch: int = 16,
                 min_top1: float | None = None, min_cosine: float | None = None, fallback: str = "off") -> Any:
    """`src` to INT8 at `out`, calibrated on `calibration`, checked on `holdout` (minmax by default: entropy's
    2048-bin search takes ~10 s, so the tests that need it say so)."""
    request = ConversionRequest(
        precision="int8", target=target,
        calibration=CalibrationRequest(data="test", quantizer=quantizer, method=method, batch=calib_batch),
        gates=ParityGates(min_top1=min_top1, min_cosine=min_cosine), fallback=FallbackPolicy(mode=fallback),
    )
    inputs = ConversionInputs(holdout=holdout, holdout_note="test holdout", calibration=calibration)
    return convert(src, out, request, inputs)
