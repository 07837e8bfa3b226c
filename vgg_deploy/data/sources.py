"""Where inputs come from: an image folder, a .npy/.npz array, the bundled digits, or explicit synthetic noise."""

from __future__ import annotations

import math
import os
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

import numpy as np

from ..errors import VGGDeployError
from ..models.family import ModelFamily
from ..progress import progress
from .preprocess import preprocess_image

__all__ = [
    "Samples", "DataError", "load_samples", "split_holdout", "IMAGE_SUFFIXES", "BUILTIN_SOURCES",
    "DEFAULT_SYNTHETIC_COUNT",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
BUILTIN_SOURCES = ("digits", "synthetic")
DEFAULT_SYNTHETIC_COUNT = 128
_ACCEPTED = ("an image folder (jpg/jpeg/png/bmp/webp/tiff; class sub-folders give labels), a .npy or .npz file of "
             "(N, C, H, W) float images, 'digits' or 'synthetic'")


class DataError(VGGDeployError):
    """Input data that cannot be used: a missing or empty source, a wrong shape, no readable image."""


@dataclass(frozen=True, eq=False)
class Samples:
    """Preprocessed model inputs (N, C, H, W) float32, with labels when the source has them.

    classes: label index -> class name (sorted class-folder names, as torchvision's ImageFolder).
    skipped: (file, reason) for every file of the source that was not an image or could not be decoded.
    indices: each sample's position in the source's full, sorted list, so subsets can be traced back.
    """

    images: np.ndarray
    labels: np.ndarray | None
    classes: tuple[str, ...] | None
    source: str
    skipped: tuple[tuple[str, str], ...] = ()
    synthetic: bool = False
    indices: np.ndarray = field(default=None)  # type: ignore[assignment]  # None -> 0..N-1

    def __post_init__(self) -> None:
        # Internal consistency (a bug if violated), not user input: user data is checked before it gets here.
        if self.images.ndim != 4 or self.images.dtype != np.float32:
            raise ValueError(f"Samples.images must be float32 (N, C, H, W), "
                             f"got {self.images.dtype} {self.images.shape}")
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise ValueError(f"Samples.labels must have shape ({len(self.images)},), got {self.labels.shape}")
        if self.indices is None:
            object.__setattr__(self, "indices", np.arange(len(self.images), dtype=np.int64))
        elif self.indices.shape != (len(self.images),):
            raise ValueError(f"Samples.indices must have shape ({len(self.images)},), got {self.indices.shape}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def noun(self) -> str:
        return "synthetic inputs" if self.synthetic else "images"

    def subset(self, indices: Sequence[int] | np.ndarray) -> Samples:
        """The samples at the given positions (in the order given), with their labels, indices and provenance."""
        idx = np.asarray(indices, dtype=np.intp).reshape(-1)
        return Samples(
            images=self.images[idx], labels=None if self.labels is None else self.labels[idx], classes=self.classes,
            source=self.source, skipped=self.skipped, synthetic=self.synthetic, indices=self.indices[idx],
        )

    def describe(self) -> str:
        """One line for logs and reports: how many, from where, labelled or not, how many files were skipped."""
        text = f"{len(self)} {self.noun} {tuple(self.images.shape[1:])} from {self.source}"
        if self.labels is not None:
            text += f", labelled ({len(self.classes) if self.classes else 'no'} class names)"
        if self.skipped:
            text += f", {len(self.skipped)} files skipped"
        return text


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
        return _load_folder(path, config, limit=limit, seed=seed, show_progress=show_progress)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npy":
            return _load_npy(path, config, limit=limit, seed=seed)
        if suffix == ".npz":
            return _load_npz(path, config, limit=limit, seed=seed, input_name=input_name)
        raise DataError(f"{path}: unsupported file type '{suffix or path.name}'; pass {_ACCEPTED}")
    raise DataError(f"{path}: no such file or folder; pass {_ACCEPTED}")


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
        calib = samples.subset(_choose(total, calib_count, rng))
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


# --- subsets -------------------------------------------------------------------------------------------------------

def _choose(count: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of a random `limit` of `count` items; all of them when limit is None or not smaller."""
    if limit is None or limit >= count:
        return np.arange(count, dtype=np.int64)
    return np.sort(rng.permutation(count)[:limit])


def _top_up_order(count: int, target: int, rng: np.random.Generator, found: Callable[[], int]) -> Iterator[int]:
    """Positions to try: the first `target` of a seeded permutation in sorted order, then more for each failure.

    Without failures this picks exactly what _choose picks, so a folder and the same images in memory agree.
    """
    order = rng.permutation(count) if target < count else np.arange(count)
    cursor = 0
    while cursor < count and found() < target:
        batch = np.sort(order[cursor:cursor + target - found()])
        cursor += len(batch)
        yield from (int(i) for i in batch)


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
    from .digits import DIGIT_CLASSES, digits_images

    _check_image_channels("digits", config)
    images, labels = digits_images()
    # The order in which a folder written by write_digits_folder loads: by digit, then by index.
    folder_order = np.argsort(labels, kind="stable")
    chosen = _choose(len(folder_order), limit, np.random.default_rng(seed))
    arrays = np.empty((len(chosen), config.in_channels, *config.input_size), dtype=np.float32)
    picked = folder_order[chosen]
    for slot, index in enumerate(progress(picked, label="digits", enabled=show_progress)):
        arrays[slot] = preprocess_image(images[index], config)
    return Samples(images=arrays, labels=labels[picked].astype(np.int64), classes=DIGIT_CLASSES, source="digits",
                   indices=chosen)


# --- image folders -------------------------------------------------------------------------------------------------

def _check_image_channels(source: object, config: ModelFamily) -> None:
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


def _load_folder(root: Path, config: ModelFamily, *, limit: int | None, seed: int, show_progress: bool) -> Samples:
    """Images under `root`, sorted; when images sit only in sub-folders, each direct sub-folder is a class."""
    _check_image_channels(root, config)
    files = _walk_files(root)
    skipped = [(str(p), f"not an image file ({p.suffix or 'no suffix'})")
               for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    candidates = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if not candidates:
        found = f"{len(files)} other files" if files else "nothing"
        raise DataError(f"{root}: no image files (jpg/jpeg/png/bmp/webp) in this folder or below, found {found}; "
                        f"pass {_ACCEPTED}")
    classes: tuple[str, ...] | None = None
    class_of: dict[str, int] = {}
    if all(len(p.relative_to(root).parts) > 1 for p in candidates):
        # torchvision's ImageFolder rule: every direct sub-folder is a class, labelled in sorted name order.
        classes = tuple(sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")))
        class_of = {name: label for label, name in enumerate(classes)}

    target = min(limit or len(candidates), len(candidates))
    images = np.empty((target, config.in_channels, *config.input_size), dtype=np.float32)
    positions: list[int] = []
    attempts = _top_up_order(len(candidates), target, np.random.default_rng(seed), found=lambda: len(positions))
    for _ in progress(range(target), label=f"decoding {root.name or root}", enabled=show_progress):
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


# --- arrays --------------------------------------------------------------------------------------------------------

def _read_header(fp: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """An .npy header's shape and dtype and where its data starts, read without touching the data."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except ValueError as exc:
        raise DataError(f"{where}: not a readable .npy array ({exc}); save it with numpy.save/savez") from None
    return tuple(shape), dtype, fp.tell()


def _check_images_header(where: str, shape: tuple[int, ...], dtype: np.dtype, available: int,
                         config: ModelFamily) -> None:
    """Shape, dtype and size against the model and the file, before any memory is allocated for the data."""
    c, (h, w) = config.in_channels, config.input_size
    if len(shape) != 4 or tuple(shape[1:]) != (c, h, w):
        raise DataError(f"{where}: array of shape {shape} does not fit {config.name}; "
                        f"expected (N, {c}, {h}, {w}) preprocessed float images")
    if dtype.kind != "f":
        raise DataError(f"{where}: {dtype} data; expected float images (N, {c}, {h}, {w}), preprocessed as the "
                        f"model expects (mean/std applied)")
    if shape[0] == 0:
        raise DataError(f"{where}: the array holds no images (shape {shape})")
    _check_size(where, shape, dtype, available)


def _check_size(where: str, shape: tuple[int, ...], dtype: np.dtype, available: int) -> None:
    needed = math.prod(shape) * dtype.itemsize
    if needed > available:
        raise DataError(f"{where}: its header declares {shape} {dtype} ({needed} bytes) but only {available} bytes "
                        f"follow; the file is truncated or corrupt")


def _finite(where: str, images: np.ndarray) -> np.ndarray:
    if not np.isfinite(images).all():
        raise DataError(f"{where}: the images contain NaN or Inf values; fix the array before using it")
    return images


def _load_npy(path: Path, config: ModelFamily, *, limit: int | None, seed: int) -> Samples:
    with open(path, "rb") as fp:
        shape, dtype, offset = _read_header(fp, str(path))
    _check_images_header(str(path), shape, dtype, path.stat().st_size - offset, config)
    chosen = _choose(shape[0], limit, np.random.default_rng(seed))
    # Memory-mapped: a subset reads only its own rows, whatever the file's size.
    mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    try:
        images = np.ascontiguousarray(mapped if len(chosen) == shape[0] else mapped[chosen], dtype=np.float32)
    finally:
        del mapped
    return Samples(images=_finite(str(path), images), labels=None, classes=None, source=str(path), indices=chosen)


def _load_npz(path: Path, config: ModelFamily, *, limit: int | None, seed: int, input_name: str) -> Samples:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc}); save it with numpy.savez") from None
    with archive:
        members = {n.removesuffix(".npy"): n for n in archive.namelist() if n.endswith(".npy")}
        others = sorted(k for k in members if k != "labels")
        if input_name in members:
            key = input_name
        elif len(others) == 1:
            key = others[0]
        else:
            raise DataError(f"{path}: no array named '{input_name}' among {sorted(members) or 'no arrays'}; save the "
                            f"images under '{input_name}' (numpy.savez(file, {input_name}=images, labels=labels))")
        where = f"{path}['{key}']"
        shape, dtype, available = _member_header(archive, members[key], where)
        _check_images_header(where, shape, dtype, available, config)
        labels_shape = None
        if "labels" in members and key != "labels":
            labels_where = f"{path}['labels']"
            labels_shape, labels_dtype, labels_available = _member_header(archive, members["labels"], labels_where)
            if labels_shape != (shape[0],) or labels_dtype.kind not in "iu":
                raise DataError(f"{labels_where}: labels must be {shape[0]} integers (shape ({shape[0]},)), "
                                f"got {labels_dtype} of shape {labels_shape}")
            _check_size(labels_where, labels_shape, labels_dtype, labels_available)
        chosen = _choose(shape[0], limit, np.random.default_rng(seed))
        images = _finite(where, np.ascontiguousarray(_read_member(archive, members[key], where)[chosen],
                                                         dtype=np.float32))
        labels = None
        if labels_shape is not None:
            labels = np.asarray(_read_member(archive, members["labels"], labels_where)[chosen]).astype(np.int64)
            if labels.min() < 0:
                raise DataError(f"{labels_where}: labels must be class indices >= 0, found {labels.min()}")
    return Samples(images=images, labels=labels, classes=None, source=str(path), indices=chosen)


def _member_header(archive: zipfile.ZipFile, member: str, where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    with archive.open(member) as fp:
        shape, dtype, offset = _read_header(fp, where)
    return shape, dtype, archive.getinfo(member).file_size - offset


def _read_member(archive: zipfile.ZipFile, member: str, where: str) -> np.ndarray:
    try:
        with archive.open(member) as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{where}: cannot read the array ({exc}); the file is truncated or corrupt") from None
