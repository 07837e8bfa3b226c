"""ONNX export, its metadata, and output parity checks (the exporter, which needs torch, loads on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .metadata import (INPUT_NAME, OUTPUT_NAME, OnnxMetadata, config_from_metadata, config_metadata, read_metadata,
                       read_onnx_metadata)
from .parity import Parity, compare_logits

if TYPE_CHECKING:
    from .onnx_export import DEFAULT_OPSET, ExportResult, export_onnx, verify_onnx

__all__ = [
    "export_onnx", "verify_onnx", "ExportResult", "DEFAULT_OPSET", "INPUT_NAME", "OUTPUT_NAME",
    "config_metadata", "read_metadata", "config_from_metadata", "OnnxMetadata", "read_onnx_metadata", "Parity",
    "compare_logits",
]

_EXPORTER_NAMES = {"export_onnx", "verify_onnx", "ExportResult", "DEFAULT_OPSET"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTER_NAMES:
        from . import onnx_export

        return getattr(onnx_export, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
