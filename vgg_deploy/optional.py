"""Lazy imports of optional packages: a missing one becomes an error naming the extra to install."""

from __future__ import annotations

import importlib
import importlib.metadata
from types import ModuleType

from .errors import MissingDependencyError

__all__ = ["require", "installed_version"]


def require(module: str, *, extra: str | None = None, purpose: str = "") -> ModuleType:
    """Import `module`, or raise MissingDependencyError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = f'pip install "vgg-deploy[{extra}]"' if extra else f"pip install {module.split('.')[0]}"
        why = f" (needed {purpose})" if purpose else ""
        raise MissingDependencyError(f"{module} is not installed{why}: {hint}  [{exc}]") from None


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, without importing it; None when absent."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
