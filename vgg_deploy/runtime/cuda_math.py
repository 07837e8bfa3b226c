"""fp32 math on CUDA: IEEE fp32 or TF32, set explicitly, since torch's cuDNN convolutions default to TF32.

"fp32" on a GPU means IEEE fp32 in vgg-deploy; TF32 is asked for by name (TorchRunner(tf32=True), `torch-tf32`).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

__all__ = ["fp32_math", "restore_fp32_math", "set_fp32_math"]


def set_fp32_math(torch: Any, *, tf32: bool) -> dict[str, Any]:
    """Make fp32 matmuls and convolutions run in TF32 (tf32=True) or IEEE fp32; returns the previous settings.

    torch >= 2.9 has `fp32_precision` ("ieee" | "tf32") on cuda.matmul and cudnn.conv, and warns about the old
    `allow_tf32` flags (mixing the two APIs is refused by some versions), so the new one is used when present.
    """
    backends = torch.backends
    matmul, conv = backends.cuda.matmul, getattr(backends.cudnn, "conv", None)
    if conv is not None and hasattr(matmul, "fp32_precision") and hasattr(conv, "fp32_precision"):
        saved = {"api": "fp32_precision", "matmul": matmul.fp32_precision, "conv": conv.fp32_precision}
        mode = "tf32" if tf32 else "ieee"
        matmul.fp32_precision = mode
        conv.fp32_precision = mode
        return saved
    saved = {"api": "allow_tf32", "matmul": matmul.allow_tf32, "conv": backends.cudnn.allow_tf32}
    matmul.allow_tf32 = tf32
    backends.cudnn.allow_tf32 = tf32
    return saved


def restore_fp32_math(torch: Any, saved: dict[str, Any]) -> None:
    """Put back the settings `set_fp32_math` returned."""
    backends = torch.backends
    if saved["api"] == "fp32_precision":
        backends.cuda.matmul.fp32_precision = saved["matmul"]
        backends.cudnn.conv.fp32_precision = saved["conv"]
    else:
        backends.cuda.matmul.allow_tf32 = saved["matmul"]
        backends.cudnn.allow_tf32 = saved["conv"]


@contextlib.contextmanager
def fp32_math(torch: Any, *, tf32: bool) -> Iterator[None]:
    """Within the block fp32 math is TF32 or IEEE; the previous settings come back afterwards."""
    saved = set_fp32_math(torch, tf32=tf32)
    try:
        yield
    finally:
        restore_fp32_math(torch, saved)
