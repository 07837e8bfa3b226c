"""Image folders: every image under a folder, decoded safely and preprocessed; class sub-folders give labels."""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import DataError
from ..log import progress_bar
from ..models.family import ModelFamily
from .preprocess import preprocess_image
from .samples import Samples, top_up_order

__all__ = ["load_folder", "check_image_channels", "IMAGE_SUFFIXES", "ACCEPTED"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
ACCEPTED = ("an image folder (jpg/jpeg/png/bmp/webp/tiff; class sub-folders give labels), a .npy or .npz file of "
            "(N, C, H, W) float images, 'digits' or 'synthetic'")


def check_image_channels(source: object, config: ModelFamily) -> None:
    if config.in_channels not in (1, 3):
        raise DataError(f"{source}: images can feed only 1- or 3-channel models, and {config.name} takes "
                        f"{config.in_channels}; pass a .npy/.npz file of (N, {config.in_channels}, H, W) floats")


def _walk_files(root: Path) -> list[Path]:
    """Every non-hidden file under `root`, following folder links once each (a link loop ends, not hangs)."""
    files: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for folder, dirnames, filenames in os.walk(root, followlinks=True):
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(folder) / name for name in filenames if not name.startswith("."))
    return sorted(files, key=lambda p: p.relative_to(root).parts)


def _decode(path: Path, config: ModelFamily) -> np.ndarray | str:
    """A preprocessed image, or the reason it cannot be read (garbage, truncated, or too large to decode safely)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # large but under the limit: decode it
            with Image.open(path) as image:
                image.load()
    except Image.DecompressionBombError as exc:
        return f"too large to decode safely ({exc})"
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        return f"not a readable image ({exc})"
    return preprocess_image(image, config)


def load_folder(root: Path, config: ModelFamily, *, limit: int | None, seed: int, show_progress: bool) -> Samples:
    """Images under `root`, sorted; when images sit only in sub-folders, each direct sub-folder is a class."""
    check_image_channels(root, config)
    files = _walk_files(root)
    skipped = [(str(p), f"not an image file ({p.suffix or 'no suffix'})")
               for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    candidates = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if not candidates:
        found = f"{len(files)} other files" if files else "nothing"
        raise DataError(f"{root}: no image files (jpg/jpeg/png/bmp/webp) in this folder or below, found {found}; "
                        f"pass {ACCEPTED}")
    classes: tuple[str, ...] | None = None
    class_of: dict[str, int] = {}
    if all(len(p.relative_to(root).parts) > 1 for p in candidates):
        # torchvision's ImageFolder rule: every direct sub-folder is a class, labelled in sorted name order.
        classes = tuple(sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")))
        class_of = {name: label for label, name in enumerate(classes)}

    target = min(limit or len(candidates), len(candidates))
    images = np.empty((target, config.in_channels, *config.input_size), dtype=np.float32)
    positions: list[int] = []
    attempts = top_up_order(len(candidates), target, np.random.default_rng(seed), found=lambda: len(positions))
    slots: Iterable[int] = range(target)
    if show_progress:
        slots = progress_bar(slots, desc=f"decoding {root.name or root}", total=target, unit="img")
    for _ in slots:
        for pos in attempts:
            decoded = _decode(candidates[pos], config)
            if isinstance(decoded, str):
                skipped.append((str(candidates[pos]), decoded))
                continue
            images[len(positions)] = decoded
            positions.append(pos)
            break
        else:
            break  # every candidate has been tried
    if not positions:
        raise DataError(f"{root}: none of its {len(candidates)} image files could be read ({len(skipped)} files "
                        f"skipped, e.g. {skipped[-1][0]}: {skipped[-1][1]})")
    order = np.argsort(positions, kind="stable")
    images = images[: len(positions)]
    if np.any(order != np.arange(len(order))):
        images = images[order]  # a file tried after a failure sits earlier in sorted order
    chosen = np.asarray(positions, dtype=np.int64)[order]
    labels = None
    if classes is not None:
        labels = np.array([class_of[candidates[i].relative_to(root).parts[0]] for i in chosen], dtype=np.int64)
    skipped.sort()
    return Samples(images=images, labels=labels, classes=classes, source=str(root), skipped=tuple(skipped),
                   indices=chosen)
