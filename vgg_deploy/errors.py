"""Error types: user errors end in one clear line; anything else is a bug and keeps its traceback."""

from __future__ import annotations

__all__ = ["first_line", "VGGDeployError", "ConfigError", "CheckpointError", "ExportError", "ParityError", "MissingDependencyError",
           "DataError"]


class VGGDeployError(Exception):
    """A problem with the user's input or environment; the CLI prints it as one line and exits 1."""


class ConfigError(VGGDeployError, ValueError):
    """A model configuration that cannot be built (e.g. an input too small for its pooling blocks)."""


class CheckpointError(VGGDeployError):
    """A weights file that cannot be read or does not fit the model."""


class ExportError(VGGDeployError):
    """The ONNX export or its check failed."""


class ParityError(VGGDeployError):
    """An artifact's outputs differ from the PyTorch reference beyond tolerance."""


class MissingDependencyError(VGGDeployError):
    """An optional package is not installed."""


class DataError(VGGDeployError):
    """Input data that cannot be used: a missing or empty source, a wrong shape, no readable image."""


def first_line(error: BaseException | str, *, limit: int = 300, default: str | None = None) -> str:
    """The first non-empty line of an exception's message (or of a text), at most `limit` characters, for one-line
    error reports. An empty message gives `default`, else the exception's type name (never an IndexError)."""
    lines = str(error).strip().splitlines()
    if lines:
        return lines[0][:limit]
    if default is not None:
        return default
    return type(error).__name__ if isinstance(error, BaseException) else ""
