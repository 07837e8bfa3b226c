"""The benchmark's inputs: evaluation images (parity, accuracy, and the timed batches) and, when an INT8 artifact
must be made, calibration images that never overlap them."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .backends import BenchError

if TYPE_CHECKING:
    from ..data import Samples
    from ..models.family import ModelFamily

log = logging.getLogger(__name__)

__all__ = ["BenchInputs", "load_bench_inputs", "default_eval_samples", "default_data_source"]

_EVAL_FLOP_BUDGET = 2e11  # default evaluation images: about this much fp32 reference work ...
_EVAL_RANGE = (16, 512)  # ... but at least 16 and at most 512 images


@dataclass(frozen=True)
class BenchInputs:
    eval: Samples
    calibration: Samples | None
    note: str  # one sentence for the report: where the images came from and how they were split


def default_eval_samples(flops_per_image: float) -> int:
    """As many evaluation images as ~0.2 TFLOP of reference work allows, within 16..512: hundreds for the small
    digits model (accuracy to a fraction of a point), 16 for VGG-16 at 224x224 (where parity is the question)."""
    low, high = _EVAL_RANGE
    return int(min(high, max(low, _EVAL_FLOP_BUDGET // max(flops_per_image, 1.0))))


def default_data_source(config: ModelFamily) -> str:
    """The digits model is evaluated on the digits; any other model on seeded synthetic inputs (speed and parity)."""
    return "digits" if config.name == "vgg_digits" else "synthetic"


def load_bench_inputs(
    config: ModelFamily,
    *,
    data: str | None,
    calib_data: str | None,
    eval_samples: int,
    calib_samples: int,
    need_calibration: bool,
    seed: int = 0,
) -> BenchInputs:
    """Evaluation images from `data` (default: digits for vgg_digits, else synthetic); calibration images from
    `calib_data` (default: `data`, or digits for vgg_digits). From one source the two are a seeded disjoint split.
    Without any calibration source and an INT8 artifact to make, the benchmark refuses (DESIGN: no silent
    synthetic calibration)."""
    from ..data import load_samples

    source = data or default_data_source(config)
    calib_source = calib_data or data or ("digits" if config.name == "vgg_digits" else None)
    if need_calibration and calib_source is None:
        raise BenchError("an INT8 artifact must be made and needs calibration images: pass --calib-data "
                         "PATH|digits|synthetic, --data PATH, or the INT8 ONNX itself")
    if not need_calibration or calib_source is None:
        samples = load_samples(source, config, limit=eval_samples, seed=seed, show_progress=False)
        _check_labels(samples, config)
        log.info("evaluation inputs: %s", samples.describe())
        return BenchInputs(samples, None, f"{len(samples)} {samples.noun} from {samples.source}")
    if calib_source == source:
        both = load_samples(source, config, limit=eval_samples + calib_samples, seed=seed, show_progress=False)
        order = np.random.default_rng([seed, 0xB3]).permutation(len(both))
        if len(both) >= eval_samples + calib_samples:
            n_eval = eval_samples
        else:
            n_eval = max(1, math.ceil(len(both) * eval_samples / (eval_samples + calib_samples)))
        if len(both) - n_eval < 1:
            raise BenchError(f"{source} has {len(both)} {both.noun}: too few to split into evaluation and calibration")
        evaluation, calibration = both.subset(np.sort(order[:n_eval])), both.subset(np.sort(order[n_eval:]))
        note = (f"{len(evaluation)} {both.noun} from {both.source} for evaluation, disjoint from the "
                f"{len(calibration)} calibration {both.noun} (seeded split)")
    else:
        evaluation = load_samples(source, config, limit=eval_samples, seed=seed, show_progress=False)
        calibration = load_samples(calib_source, config, limit=calib_samples, seed=seed + 1, show_progress=False)
        note = (f"{len(evaluation)} {evaluation.noun} from {evaluation.source} for evaluation; calibration: "
                f"{len(calibration)} {calibration.noun} from {calibration.source}")
    _check_labels(evaluation, config)
    log.info("%s", note)
    return BenchInputs(evaluation, calibration, note)


def _check_labels(samples: Any, config: ModelFamily) -> None:
    """Labels the model cannot output would make the accuracy silently 0%: refuse them."""
    if samples.labels is None or not len(samples.labels):
        return
    low, high = int(samples.labels.min()), int(samples.labels.max())
    if low < 0 or high >= config.num_classes:
        where = f"{len(samples.classes)} class folders" if samples.classes else f"labels {low}..{high}"
        raise BenchError(f"{samples.source}: {where}, but {config.name} has {config.num_classes} classes; "
                         "give data whose classes are the model's (class sub-folders in the model's class order)")
