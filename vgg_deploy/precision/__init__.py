"""Precision variants in the graph: FP16 casts and INT8 Q/DQ, as TensorRT 11 requires (and ONNX Runtime runs)."""

from .convert import ConversionResult, convert, onnx_logits
from .fp16 import Fp16Overflow, convert_fp16, find_fp16_overflows
from .inputs import ConversionInputs, conversion_inputs
from .int8 import (
    CALIBRATION_METHODS, QUANTIZER_METHODS, QUANTIZERS, TARGETS, Int8Scheme, QuantizeError, calibration_method,
    int8_scheme, quantize_int8,
)
from .qdq_check import QdqViolation, check_tensorrt_qdq
from .request import CalibrationRequest, ConversionRequest, FallbackPolicy, ParityGates

__all__ = [
    "convert", "ConversionRequest", "CalibrationRequest", "ParityGates", "FallbackPolicy", "ConversionResult",
    "onnx_logits", "convert_fp16", "find_fp16_overflows", "Fp16Overflow",
    "quantize_int8", "int8_scheme", "Int8Scheme", "QuantizeError", "CALIBRATION_METHODS", "TARGETS",
    "QUANTIZERS", "QUANTIZER_METHODS", "calibration_method", "check_tensorrt_qdq", "QdqViolation",
    "conversion_inputs", "ConversionInputs",
]
