"""The images a precision conversion needs: calibration images (INT8) and disjoint held-out parity images.

Shared by `vgg-deploy quantize` and `vgg-deploy build-trt` (which makes the FP16 / Q/DQ ONNX before building).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..models.family import ModelFamily
from .int8 import QuantizeError
from .request import ConversionRequest

__all__ = ["ConversionInputs", "conversion_inputs", "HOLDOUT_FRACTION", "MIN_HOLDOUT"]

HOLDOUT_FRACTION = 0.2
MIN_HOLDOUT = 16
_FP16_PARITY_SAMPLES = 64

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ConversionInputs:
    holdout: np.ndarray
    holdout_note: str  # how the held-out parity samples were chosen
    calibration: np.ndarray | None = None  # INT8 only
    classes: tuple[str, ...] | None = None
    synthetic: bool = False  # calibrated on random inputs, on purpose
    holdout_labels: np.ndarray | None = None  # when the source has labels (INT8 split only)


def conversion_inputs(config: ModelFamily, request: ConversionRequest) -> ConversionInputs:
    """Load calibration and held-out images for `request`'s conversion of a model with `config`.

    INT8: the request's `samples` calibration images plus 20% more (at least 16) held out from the same source,
    never overlapping. FP16: up to 64 parity images from its data, or seeded synthetic inputs without it.
    """
    from ..data import load_samples, split_holdout

    calib_data, calib_samples, seed = request.calibration.data, request.calibration.samples, request.calibration.seed
    if request.precision == "int8":
        if calib_data is None:
            raise QuantizeError("INT8 needs calibration images: pass --calib-data PATH (image folder, .npy or .npz), "
                                "'digits', or 'synthetic' to calibrate on random inputs on purpose")
        held = max(MIN_HOLDOUT, math.ceil(calib_samples * HOLDOUT_FRACTION / (1 - HOLDOUT_FRACTION)))
        samples = load_samples(calib_data, config, limit=calib_samples + held, seed=seed)
        log.info("loaded %s", samples.describe())
        calib, holdout, note = split_holdout(
            samples, calib_count=calib_samples, holdout_fraction=HOLDOUT_FRACTION, min_holdout=MIN_HOLDOUT, seed=seed
        )
        if samples.synthetic:
            log.warning("calibrating on SYNTHETIC random inputs: the INT8 scales are not representative of real "
                        "images")
        return ConversionInputs(holdout=holdout.images, holdout_note=note, calibration=calib.images,
                                classes=samples.classes, synthetic=samples.synthetic, holdout_labels=holdout.labels)
    parity = load_samples(calib_data or "synthetic", config, limit=_FP16_PARITY_SAMPLES, seed=seed + 1)
    note = (f"{len(parity)} {parity.noun} from {parity.source}" if calib_data
            else f"{len(parity)} seeded synthetic inputs (pass --calib-data for real images)")
    return ConversionInputs(holdout=parity.images, holdout_note=note)
