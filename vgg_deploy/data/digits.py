"""scikit-learn's bundled 8x8 digits (1,797 labelled images, no download) as images: real data for demos and tests."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..artifacts import atomic_folder
from ..errors import DataError
from ..optional import require

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["digits_images", "write_digits_folder", "DIGIT_CLASSES"]

DIGIT_CLASSES = tuple(str(d) for d in range(10))


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """8-bit pixels (N, 8, 8) and int64 labels (N,), read once: load_digits parses a CSV each call."""
    require("sklearn", extra="demo", purpose="for the digits data set")
    from sklearn.datasets import load_digits

    data = load_digits()
    # The data set's pixel values are 0..16; spread them over 0..255 as an 8-bit grayscale image would.
    pixels = np.rint(data.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    labels = np.asarray(data.target, dtype=np.int64)
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


def digits_images() -> tuple[list[Image.Image], np.ndarray]:
    """The digits as 8-bit grayscale ("L") 8x8 PIL images and their int64 labels, in the data set's order."""
    from PIL import Image

    pixels, labels = _digits_arrays()
    return [Image.fromarray(np.array(p)) for p in pixels], labels.copy()


def write_digits_folder(out_dir: str | Path, *, limit: int | None = None) -> int:
    """Write the first `limit` digits (all by default) as `out_dir/<digit>/<index>.png`; return how many.

    The folder is written under a temporary name next to `out_dir` and renamed into place when complete, so a
    failed run leaves nothing behind. `out_dir` must not exist yet, or be an empty folder.
    """
    out_dir = Path(out_dir)
    if limit is not None and limit < 1:
        raise DataError(f"{out_dir}: the number of digits to write must be at least 1, not {limit}")
    if out_dir.exists() and not (out_dir.is_dir() and not any(out_dir.iterdir())):
        raise DataError(f"{out_dir} already exists and is not an empty folder; choose a new folder name")
    images, labels = digits_images()
    count = len(images) if limit is None else min(limit, len(images))
    with atomic_folder(out_dir) as tmp:
        for digit in DIGIT_CLASSES:
            (tmp / digit).mkdir()
        for index in range(count):
            # Zero-padded so that sorted file order is index order within each class.
            images[index].save(tmp / str(labels[index]) / f"{index:04d}.png")
    return count
