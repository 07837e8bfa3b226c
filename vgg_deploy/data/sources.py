"""Where inputs come from: an image folder, a .npy/.npz array, the bundled digits, or explicit synthetic noise."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..log import progress_bar
from ..models.family import ModelFamily
from .arrays import load_npy, load_npz
from .digits import DIGIT_CLASSES, digits_images
from .folders import ACCEPTED, IMAGE_SUFFIXES, check_image_channels, load_folder
from .preprocess import preprocess_image
from .samples import Samples, choose_subset

__all__ = [
    "Samples", "load_samples", "split_holdout", "IMAGE_SUFFIXES", "BUILTIN_SOURCES",
    "DEFAULT_SYNTHETIC_COUNT",
]

BUILTIN_SOURCES = ("digits", "synthetic")
DEFAULT_SYNTHETIC_COUNT = 128


def load_samples(
    source: str | Path,
    config: ModelFamily,
    *,
    limit: int | None = None,
    seed: int = 0,
    input_name: str = "input",
    show_progress: bool = True,
) -> Samples:
    """Load and preprocess inputs for `config` from an image folder, a .npy/.npz file, "digits" or "synthetic".

    `limit` keeps a seeded random subset (in source order), chosen before anything is decoded. The names
    "digits" and "synthetic" are the built-in sources; write "./digits" for a folder that happens to be so named.
    """
    if limit is not None and limit < 1:
        raise DataError(f"{source}: the number of samples to load must be at least 1, not {limit}")
    if isinstance(source, str) and source == "synthetic":
        return _synthetic(config, count=limit or DEFAULT_SYNTHETIC_COUNT, seed=seed, source="synthetic")
    if isinstance(source, str) and source == "digits":
        return _load_digits(config, limit=limit, seed=seed, show_progress=show_progress)
    path = Path(source)
    if path.is_dir():
        return load_folder(path, config, limit=limit, seed=seed, show_progress=show_progress)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npy":
            return load_npy(path, config, limit=limit, seed=seed)
        if suffix == ".npz":
            return load_npz(path, config, limit=limit, seed=seed, input_name=input_name)
        raise DataError(f"{path}: unsupported file type '{suffix or path.name}'; pass {ACCEPTED}")
    raise DataError(f"{path}: no such file or folder; pass {ACCEPTED}")


def split_holdout(
    samples: Samples,
    *,
    calib_count: int,
    holdout_fraction: float = 0.2,
    min_holdout: int = 16,
    seed: int = 0,
) -> tuple[Samples, Samples, str]:
    """Split into (calibration, held-out parity) samples that never overlap, and a sentence saying how.

    A real split needs N >= min(calib_count, min_holdout) + min_holdout. Then held-out = a seeded random
    round(N * holdout_fraction) images, raised to min_holdout and lowered so that min(calib_count, min_holdout)
    remain, and calibration = up to calib_count of the rest. Otherwise calibration keeps real data (up to
    calib_count of all N images) and held-out parity uses min_holdout separate seeded synthetic inputs.
    """
    if calib_count < 1 or min_holdout < 1 or not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"split_holdout needs calib_count >= 1, min_holdout >= 1 and 0 < holdout_fraction < 1, "
                         f"got {calib_count}, {min_holdout}, {holdout_fraction}")
    total = len(samples)
    if total == 0:
        raise DataError(f"{samples.source}: no samples to split into calibration and held-out sets")
    rng = np.random.default_rng(seed)
    noun = samples.noun
    calib_floor = min(calib_count, min_holdout)
    if total < calib_floor + min_holdout:
        calib = samples.subset(choose_subset(total, calib_count, rng))
        shape = samples.images.shape[1:]
        # A seed stream of its own, so held-out noise never repeats a synthetic source made with the same seed.
        holdout = _synthetic_like(shape, count=min_holdout, rng=np.random.default_rng([seed, 0x401D]))
        how = (f"{samples.source} has too few {noun} ({total}) to hold out {min_holdout} and calibrate on the rest: "
               f"calibration uses {len(calib)} of them; held-out parity uses {min_holdout} separate synthetic inputs")
        return calib, holdout, how
    held = min(max(min_holdout, math.floor(total * holdout_fraction + 0.5)), total - calib_floor)
    order = rng.permutation(total)
    holdout_idx = np.sort(order[:held])
    rest = order[held:]
    calib_idx = np.sort(rest[:calib_count])
    calib, holdout = samples.subset(calib_idx), samples.subset(holdout_idx)
    how = (f"held out {held / total:.0%} ({held} of {total} {noun}) of {samples.source}, "
           f"disjoint from the {len(calib)} calibration {noun}")
    if len(rest) > len(calib_idx):
        how += f" ({len(rest) - len(calib_idx)} more unused)"
    return calib, holdout, how


# --- built-in sources ----------------------------------------------------------------------------------------------

def _synthetic_like(
    shape: tuple[int, ...], *, count: int, rng: np.random.Generator, source: str = "synthetic"
) -> Samples:
    images = rng.standard_normal((count, *shape), dtype=np.float32)
    return Samples(images=images, labels=None, classes=None, source=source, synthetic=True)


def _synthetic(config: ModelFamily, *, count: int, seed: int, source: str) -> Samples:
    """Seeded standard-normal inputs of the model's shape: for smoke tests, only when asked for by name."""
    shape = (config.in_channels, *config.input_size)
    return _synthetic_like(shape, count=count, rng=np.random.default_rng(seed), source=source)


def _load_digits(config: ModelFamily, *, limit: int | None, seed: int, show_progress: bool) -> Samples:
    check_image_channels("digits", config)
    images, labels = digits_images()
    # The order in which a folder written by write_digits_folder loads: by digit, then by index.
    folder_order = np.argsort(labels, kind="stable")
    chosen = choose_subset(len(folder_order), limit, np.random.default_rng(seed))
    arrays = np.empty((len(chosen), config.in_channels, *config.input_size), dtype=np.float32)
    picked = folder_order[chosen]
    decoding = progress_bar(picked, desc="digits", unit="img") if show_progress else picked
    for slot, index in enumerate(decoding):
        arrays[slot] = preprocess_image(images[index], config)
    return Samples(images=arrays, labels=labels[picked].astype(np.int64), classes=DIGIT_CLASSES, source="digits",
                   indices=chosen)
