"""Device names as the CLI and the bench spell them: "cpu", "cuda", "cuda:N"."""

from __future__ import annotations

__all__ = ["device_index", "is_cuda"]


def device_index(device: str) -> int:
    """cuda:N -> N; cuda (and cpu) -> 0."""
    return int(device.split(":")[1]) if ":" in device else 0


def is_cuda(device: str) -> bool:
    """Whether `device` names a CUDA device (cuda or cuda:N)."""
    return device.startswith("cuda")
