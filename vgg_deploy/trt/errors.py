"""Errors of the TensorRT path: each is a user error (one line naming the file and the fix), never a bug."""

from __future__ import annotations

from ..errors import VGGDeployError

__all__ = ["TensorRTError", "TensorRTUnavailableError", "OptionError", "EngineBuildError",
           "EngineCompatibilityError", "ManifestError"]


class TensorRTError(VGGDeployError):
    """Something on the TensorRT path failed for a reason the user can act on."""


class TensorRTUnavailableError(TensorRTError):
    """TensorRT, cuda-python or an NVIDIA GPU is missing: says what, and how to install it."""


class OptionError(TensorRTError, ValueError):
    """An option that cannot work with this input or this TensorRT (the CLI turns it into a usage error, exit 2)."""

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class EngineBuildError(TensorRTError):
    """The ONNX parser or the builder refused the network."""


class EngineCompatibilityError(TensorRTError):
    """An engine that cannot run here (other GPU or TensorRT version); the message names the rebuild command."""


class ManifestError(TensorRTError):
    """An engine manifest (`X.plan.json`) that is missing, unreadable or does not describe its engine."""
