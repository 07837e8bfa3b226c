"""Held-out logits of an ONNX file, the one way every precision check computes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["onnx_logits"]


def onnx_logits(path: str | Path, images: np.ndarray) -> np.ndarray:
    """Logits of `images` from ONNX Runtime's CPU provider (any count; a fixed batch is padded)."""
    from ..runtime import OnnxRuntimeRunner

    with OnnxRuntimeRunner(path) as runner:
        return runner.infer_all(images)
