"""Checks a Q/DQ graph against what TensorRT's ONNX parser accepts, violation by violation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["QdqViolation", "check_tensorrt_qdq"]


@dataclass(frozen=True)
class QdqViolation:
    node: str
    rule: str

    def __str__(self) -> str:
        return f"{self.node}: {self.rule}"


def check_tensorrt_qdq(model: Any) -> list[QdqViolation]:
    """TensorRT's rules: int8 with zero points 0, weights per output channel (axis 0; Gemm's transB=0 weights
    axis 1), activations per tensor, biases not quantized. An empty list means the graph conforms.

    A weight may be stored quantized (int8 initializer -> DQ, as ONNX Runtime and ModelOpt's --dq_only write it)
    or in float with its Q/DQ pair (fp32 initializer -> Q -> DQ, ModelOpt's default): TensorRT accepts both and
    quantizes the float weights itself when it builds the engine."""
    inits = {i.name: i for i in model.graph.initializer}
    producers = {out: node for node in model.graph.node for out in node.output}
    bias_inputs = {node.input[2]: node for node in model.graph.node
                   if node.op_type in ("Conv", "Gemm") and len(node.input) > 2 and node.input[2]}
    weight_axis = _weight_axes(model)
    weight_ends = _weight_ends(model, weight_axis, inits, producers)

    def weight_input(node: Any) -> str | None:
        if node.output[0] not in weight_ends:
            return None
        source = node.input[0] if node.op_type == "QuantizeLinear" else None
        if source is None:
            q = producers.get(node.input[0])
            source = node.input[0] if q is None else (q.input[0] if q.op_type == "QuantizeLinear" else None)
        return weight_ends[node.output[0]] if source in inits and source not in producers else None

    violations: list[QdqViolation] = []
    qdq = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    if not qdq:
        return [QdqViolation("<graph>", "no QuantizeLinear/DequantizeLinear nodes: not a Q/DQ model")]
    for node in qdq:
        name = node.name or f"{node.op_type}({node.input[0]})"
        if node.op_type == "DequantizeLinear" and node.output[0] in bias_inputs:
            violations.append(QdqViolation(name, "quantized bias (TensorRT needs fp32 biases)"))
            continue
        zero_point = _zero_point_rule(node, inits)
        if zero_point is not None:
            violations.append(QdqViolation(name, zero_point))
        scale = inits.get(node.input[1])
        if scale is None:
            violations.append(QdqViolation(name, "scale is not a constant"))
            continue
        per_channel = len(scale.dims) == 1 and scale.dims[0] > 1
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        weight = weight_input(node)
        if weight is not None:
            expected = weight_axis[weight]
            if not per_channel:
                violations.append(QdqViolation(name, "weight quantized per tensor; expected per output channel"))
            elif axis != expected:
                violations.append(QdqViolation(name, f"weight quantized along axis {axis}; expected {expected}"))
        elif per_channel:
            violations.append(QdqViolation(name, "activation quantized per channel; expected per tensor"))
    return violations


def _weight_axes(model: Any) -> dict[str, int]:
    """The tensor feeding each Conv/Gemm weight -> its output-channel axis."""
    axes: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type == "Conv" and len(node.input) > 1:
            axes[node.input[1]] = 0
        elif node.op_type == "Gemm" and len(node.input) > 1:
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axes[node.input[1]] = 0 if trans_b else 1
    return axes


def _weight_ends(model: Any, weight_axis: dict[str, int], inits: dict[str, Any],
                 producers: dict[str, Any]) -> dict[str, str]:
    """Q/DQ output -> the weight input it ends in: int8 init -> DQ -> op, or float init -> Q -> DQ -> op."""
    ends: dict[str, str] = {}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.output[0] in weight_axis:
            ends[node.output[0]] = node.output[0]
            q = producers.get(node.input[0])
            if q is not None and q.op_type == "QuantizeLinear" and q.input[0] in inits and q.input[0] not in producers:
                ends[q.output[0]] = node.output[0]
    return ends


def _zero_point_rule(node: Any, inits: dict[str, Any]) -> str | None:
    """The zero-point rule a Q/DQ node breaks (TensorRT: a constant INT8 zero), or None."""
    from onnx import TensorProto, numpy_helper

    zero = inits.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if zero is None:
        return "no constant zero point (defaults to uint8)"
    if zero.data_type != TensorProto.INT8:
        return f"zero point is {TensorProto.DataType.Name(zero.data_type)}, not INT8"
    if np.any(numpy_helper.to_array(zero) != 0):
        return "non-zero zero point (TensorRT supports symmetric quantization only)"
    return None
