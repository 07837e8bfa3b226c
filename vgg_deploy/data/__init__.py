"""Inputs for calibration, evaluation and prediction, preprocessed as the model expects."""

from ..errors import DataError
from .digits import DIGIT_CLASSES, digits_images, write_digits_folder
from .preprocess import preprocess_image
from .sources import (
    BUILTIN_SOURCES, DEFAULT_SYNTHETIC_COUNT, IMAGE_SUFFIXES, Samples, load_samples, split_holdout,
)

__all__ = [
    "preprocess_image", "Samples", "DataError", "load_samples", "split_holdout", "digits_images",
    "write_digits_folder", "DIGIT_CLASSES", "IMAGE_SUFFIXES", "BUILTIN_SOURCES", "DEFAULT_SYNTHETIC_COUNT",
]
