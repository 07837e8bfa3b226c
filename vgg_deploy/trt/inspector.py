"""Which precision each engine layer runs in, from the engine inspector's JSON listing (pure Python).

An "INT8 engine" whose convolutions run in fp32 builds and runs without complaint; this summary makes it
visible. The listing needs `ProfilingVerbosity.DETAILED` at build time (otherwise layers are bare names).
Formats read: 10.x layers describe each tensor with "Format/Datatype" (e.g. "Row major linear FP32",
"Channel major INT8 format where channel % 32 == 0"); 11.x splits it into "Format" and "DataType" and replaces
"Bindings" with "I/O Tensors" (migration guide page "Migrating IEngineInspector Usage from TensorRT 10.x to 11.x").
A layer's precision is that of its first input (of its first output when it has none), as NVIDIA's
trt-engine-explorer reads it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["LayerSummary", "summarize_layers", "tensor_precision"]

# Longest names first, so "BFloat16" is not read as "Float" and "FP8" not as "FP" anything else.
_PRECISION_WORDS = (
    ("bfloat16", "bf16"), ("bf16", "bf16"), ("fp8", "fp8"), ("fp4", "fp4"), ("int4", "int4"), ("uint8", "uint8"),
    ("int8", "int8"), ("fp16", "fp16"), ("half", "fp16"), ("fp32", "fp32"), ("float", "fp32"),
    ("int32", "int32"), ("int64", "int64"), ("bool", "bool"),
)
_COMPUTE_TYPES = ("convolution", "deconvolution", "gemm", "matrixmultiply", "fullyconnected")
_TYPE_KEYS = ("DataType", "Datatype", "Format/Datatype", "Format/DataType", "Format")


@dataclass(frozen=True)
class LayerSummary:
    """Layer counts per precision; `compute` counts convolution/GEMM layers only (where int8/fp16 pays off)."""

    layers: int
    precisions: dict[str, int] = field(default_factory=dict)
    compute: dict[str, int] = field(default_factory=dict)
    fp32_compute_layers: tuple[str, ...] = ()
    detailed: bool = True  # False: the listing has names only (built without ProfilingVerbosity.DETAILED)

    def to_dict(self) -> dict[str, Any]:
        return {"layers": self.layers, "precisions": dict(self.precisions), "compute": dict(self.compute),
                "fp32_compute_layers": list(self.fp32_compute_layers), "detailed": self.detailed}

    def describe(self) -> str:
        """One line, e.g. "14 layers: int8 10, fp32 4; convolution/GEMM layers: int8 8, fp32 1"."""
        if not self.detailed:
            return f"{self.layers} layers (no precision details: built without detailed profiling verbosity)"
        counts = ", ".join(f"{p} {n}" for p, n in _by_count(self.precisions))
        text = f"{self.layers} layers: {counts or 'none'}"
        if self.compute:
            text += "; convolution/GEMM layers: " + ", ".join(f"{p} {n}" for p, n in _by_count(self.compute))
        return text

    def warning(self, precision: str) -> str | None:
        """A warning when an fp16/int8 engine runs convolution/GEMM layers in fp32; None otherwise."""
        if precision == "fp32" or not self.fp32_compute_layers:
            return None
        total = sum(self.compute.values())
        names = ", ".join(self.fp32_compute_layers[:5]) + (" ..." if len(self.fp32_compute_layers) > 5 else "")
        return f"{len(self.fp32_compute_layers)} of {total} convolution/GEMM layers of this {precision} engine run " \
               f"in fp32: {names}"


def _by_count(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def tensor_precision(tensor: Mapping[str, Any]) -> str:
    """The precision of one tensor description of the listing; "unknown" when it names none."""
    for key in _TYPE_KEYS:
        text = tensor.get(key)
        if isinstance(text, str):
            words = re.findall(r"[a-z0-9]+", text.lower())
            for word, precision in _PRECISION_WORDS:
                if word in words:
                    return precision
    return "unknown"


def _layer_precision(layer: Mapping[str, Any]) -> str:
    for key in ("Inputs", "Outputs"):
        tensors = layer.get(key)
        if isinstance(tensors, list) and tensors and isinstance(tensors[0], Mapping):
            return tensor_precision(tensors[0])
    return "unknown"


def _is_compute(layer: Mapping[str, Any]) -> bool:
    kinds = " ".join(str(layer.get(key, "")) for key in ("ParameterType", "LayerType")).lower().replace(" ", "")
    return any(kind in kinds for kind in _COMPUTE_TYPES)


def summarize_layers(listing: str | Mapping[str, Any]) -> LayerSummary:
    """Summarize `get_engine_information(LayerInformationFormat.JSON)` (the text or its parsed object)."""
    data = json.loads(listing) if isinstance(listing, str) else listing
    layers = data.get("Layers") if isinstance(data, Mapping) else None
    if not isinstance(layers, list):
        raise ValueError("not an engine inspector listing: no \"Layers\" list")
    if not all(isinstance(layer, Mapping) for layer in layers):
        return LayerSummary(layers=len(layers), detailed=False)
    precisions: dict[str, int] = {}
    compute: dict[str, int] = {}
    fp32_compute: list[str] = []
    for layer in layers:
        if str(layer.get("LayerType", "")).lower() in ("signal", "wait"):  # stream synchronization, not compute
            continue
        precision = _layer_precision(layer)
        precisions[precision] = precisions.get(precision, 0) + 1
        if _is_compute(layer):
            compute[precision] = compute.get(precision, 0) + 1
            if precision == "fp32":
                fp32_compute.append(str(layer.get("Name", "?")))
    return LayerSummary(layers=sum(precisions.values()), precisions=precisions, compute=compute,
                        fp32_compute_layers=tuple(fp32_compute))
