""".npy and .npz files of preprocessed images: headers checked against the model and the file's size before any
memory is allocated, subsets read without loading the rest (memory-mapped .npy)."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import DataError
from ..models.family import ModelFamily
from .samples import Samples, choose_subset

__all__ = ["load_npy", "load_npz"]


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


def load_npy(path: Path, config: ModelFamily, *, limit: int | None, seed: int) -> Samples:
    with open(path, "rb") as fp:
        shape, dtype, offset = _read_header(fp, str(path))
    _check_images_header(str(path), shape, dtype, path.stat().st_size - offset, config)
    chosen = choose_subset(shape[0], limit, np.random.default_rng(seed))
    # Memory-mapped: a subset reads only its own rows, whatever the file's size.
    mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    try:
        images = np.ascontiguousarray(mapped if len(chosen) == shape[0] else mapped[chosen], dtype=np.float32)
    finally:
        del mapped
    return Samples(images=_finite(str(path), images), labels=None, classes=None, source=str(path), indices=chosen)


def load_npz(path: Path, config: ModelFamily, *, limit: int | None, seed: int, input_name: str) -> Samples:
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
        chosen = choose_subset(shape[0], limit, np.random.default_rng(seed))
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
