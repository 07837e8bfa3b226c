"""The model's own preprocessing (from its config or ONNX metadata): resize, center crop, scale, normalise."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ..errors import VGGDeployError
from ..models.family import ModelFamily

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["preprocess_image", "to_model_mode", "ImageInput"]

ImageInput = Union["PIL.Image.Image", str, Path]  # PIL is imported lazily


def preprocess_image(image: ImageInput, config: ModelFamily) -> np.ndarray:
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
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # large but allowed: no raw warning
                with Image.open(image) as opened:
                    image = to_model_mode(opened, config.in_channels)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise VGGDeployError(f"{image}: not a readable image ({exc})") from None
    else:
        image = to_model_mode(image, config.in_channels)
    crop_h, crop_w = config.input_size
    width, height = image.size
    scale = max(config.preprocess_resize / min(width, height), crop_h / height, crop_w / width)
    new_w, new_h = max(crop_w, round(width * scale)), max(crop_h, round(height * scale))
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    top, left = int(round((new_h - crop_h) / 2.0)), int(round((new_w - crop_w) / 2.0))
    image = image.crop((left, top, left + crop_w, top + crop_h))
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim == 2 and config.in_channels == 3:
        array = np.repeat(array[:, :, None], 3, axis=2)  # a high-bit-depth grayscale image for an RGB model
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    mean = np.asarray(config.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(config.std, dtype=np.float32)[:, None, None]
    return np.ascontiguousarray((array - mean) / std, dtype=np.float32)


_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_model_mode(image: Any, channels: int) -> Any:
    """An image as 8-bit "L"/"RGB", or for 16-bit and float images, as "F" with values on the same 0-255 scale.

    A plain convert("L") saturates 16-bit pixels at 255 (a dark 16-bit digit becomes a white square) and
    truncates float pixels; palette and alpha images (P, PA, LA, RGBA) go through their colours, alpha dropped.
    16-bit (and 32-bit integer) pixels are taken as 0..65535, float pixels (e.g. float TIFF) as 0..1.
    """
    from PIL import Image

    if image.mode in _SIXTEEN_BIT or image.mode == "F":
        scale = 255.0 if image.mode == "F" else 255.0 / 65535.0
        array = np.asarray(image, dtype=np.float32) * scale
        array = np.nan_to_num(array, nan=0.0, posinf=255.0, neginf=0.0).clip(0.0, 255.0)
        return Image.fromarray(np.ascontiguousarray(array), mode="F")
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    return image.convert("L" if channels == 1 else "RGB")
