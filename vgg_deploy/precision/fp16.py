"""FP16 ONNX: weights and internal tensors in fp16, fp32 inputs/outputs by default.

TensorRT 11 has no FP16 builder flag: an FP16 engine is built from an FP16 graph, so the casts live here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["convert_fp16", "find_fp16_overflows", "Fp16Overflow", "FP16_MAX"]

FP16_MAX = 65504.0


@dataclass(frozen=True)
class Fp16Overflow:
    """An initializer with values outside fp16's range, and the nodes kept in fp32 because of it."""

    initializer: str
    max_abs: float
    nodes: tuple[str, ...]


def find_fp16_overflows(model: Any) -> list[Fp16Overflow]:
    """Float initializers with |x| > 65504 and the nodes that consume them."""
    from onnx import TensorProto, numpy_helper

    consumers: dict[str, list[str]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.name)
    overflows = []
    for init in model.graph.initializer:
        if init.data_type not in (TensorProto.FLOAT, TensorProto.DOUBLE):
            continue
        values = numpy_helper.to_array(init)
        peak = float(np.abs(values).max()) if values.size else 0.0
        if peak > FP16_MAX:
            overflows.append(Fp16Overflow(init.name, peak, tuple(consumers.get(init.name, ()))))
    return overflows


def convert_fp16(model: Any, *, keep_io_types: bool = True) -> tuple[Any, list[Fp16Overflow]]:
    """Convert an fp32 onnx.ModelProto to fp16; nodes fed by out-of-range initializers stay fp32.

    onnxconverter-common would otherwise clamp such values silently (to +-1e4 by default): we pass fp16's
    real limit and block the overflowing nodes explicitly, and report them.
    """
    import warnings

    from onnxconverter_common import float16

    overflows = find_fp16_overflows(model)
    blocked = sorted({node for o in overflows for node in o.nodes})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one warning per tiny weight raised to fp16's smallest normal value
        converted = float16.convert_float_to_float16(
            model, keep_io_types=keep_io_types, max_finite_val=FP16_MAX, node_block_list=blocked or None,
        )
    if overflows:
        _keep_blocked_fp32(converted, model, overflows)
    return converted, overflows


def _keep_blocked_fp32(converted: Any, source: Any, overflows: list[Fp16Overflow]) -> None:
    """Undo two things onnxconverter-common does around blocked nodes, both of which bring the overflow back:

    - it still stores their out-of-range initializers in fp16 (clamped to 65504) and casts them back to fp32:
      the original fp32 tensors are put back and the casts removed;
    - it casts a blocked node's output to fp16 even when that output is the graph's output (elem_type 10
      despite keep_io_types): the cast is removed and the output stays fp32.
    """
    from onnx import TensorProto

    graph = converted.graph
    originals = {init.name: init for init in source.graph.initializer}
    wanted = {o.initializer for o in overflows}
    for init in graph.initializer:
        if init.name in wanted:
            init.CopyFrom(originals[init.name])
    blocked = {name for o in overflows for name in o.nodes}
    outputs = {o.name: o for o in graph.output}
    for node in list(graph.node):
        if node.op_type != "Cast" or len(node.input) != 1:
            continue
        if node.input[0] in wanted:  # Cast(fp32 initializer) -> fp32: feed the initializer directly
            for consumer in graph.node:
                consumer.input[:] = [node.input[0] if name == node.output[0] else name for name in consumer.input]
            graph.node.remove(node)
        elif node.output[0] in outputs and any(node.input[0] in n.output for n in graph.node if n.name in blocked):
            producer = next(n for n in graph.node if node.input[0] in n.output)
            producer.output[:] = [node.output[0] if name == node.input[0] else name for name in producer.output]
            graph.node.remove(node)
            outputs[node.output[0]].type.tensor_type.elem_type = TensorProto.FLOAT
    for info in list(graph.value_info):
        if info.name in outputs:
            graph.value_info.remove(info)
