"""The model's own preprocessing (from its config or ONNX metadata): resize, center crop, scale, normalise."""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np

from ..errors import VGGDeployError
from ..models.config import VGGConfig

__all__ = ["preprocess_image", "ImageInput"]

ImageInput = Union["PIL.Image.Image", str, Path]  # noqa: F821 - PIL is imported lazily


def preprocess_image(image: ImageInput, config: VGGConfig) -> np.ndarray:
    """One image -> float32 (C, H, W), as torchvision's ImageClassification transform does it.

    Resize the shorter side to `config.preprocess_resize` (bilinear, enlarged if needed to cover the crop),
    center-crop to `config.input_size`, scale to [0, 1], subtract mean, divide by std. Grayscale models get
    one channel ("L"), others RGB.
    """
    from PIL import Image, UnidentifiedImageError

    if config.in_channels not in (1, 3):
        raise VGGDeployError(f"{config.name}: images need a 1- or 3-channel model, not {config.in_channels}")
    if not isinstance(image, Image.Image):
        try:
            with Image.open(image) as opened:
                image = opened.convert("L" if config.in_channels == 1 else "RGB")
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise VGGDeployError(f"{image}: not a readable image ({exc})") from None
    else:
        image = image.convert("L" if config.in_channels == 1 else "RGB")
    crop_h, crop_w = config.input_size
    width, height = image.size
    scale = max(config.preprocess_resize / min(width, height), crop_h / height, crop_w / width)
    new_w, new_h = max(crop_w, round(width * scale)), max(crop_h, round(height * scale))
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    top, left = int(round((new_h - crop_h) / 2.0)), int(round((new_w - crop_w) / 2.0))
    image = image.crop((left, top, left + crop_w, top + crop_h))
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    mean = np.asarray(config.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(config.std, dtype=np.float32)[:, None, None]
    return np.ascontiguousarray((array - mean) / std, dtype=np.float32)
