"""ONNX export, its metadata, and output parity checks."""

from .metadata import config_from_metadata, config_metadata, read_metadata
from .onnx_export import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, ExportResult, export_onnx, verify_onnx
from .parity import Parity, compare_logits

__all__ = [
    "export_onnx", "verify_onnx", "ExportResult", "DEFAULT_OPSET", "INPUT_NAME", "OUTPUT_NAME",
    "config_metadata", "read_metadata", "config_from_metadata", "Parity", "compare_logits",
]
