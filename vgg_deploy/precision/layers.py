"""Per-layer precision in a calibrated Q/DQ graph: which weighted layers are INT8, and the same graph with some of
them kept in high precision (fp16 for the TensorRT scheme, fp32 for the CPU scheme).

One calibration serves every variant: a layer is "kept high" by graph surgery on the calibrated model, never by
calibrating again. A layer kept high reads its activation from before its Q/DQ pair (walking back across the
data-movement ops between, MaxPool/Reshape/Flatten, so a Q/DQ that ModelOpt puts before a MaxPool is bypassed
too) and its weight from the fp32 source; in fp16 its activation, weight and bias are cast to fp16 and its output
cast back to fp32, which is how a strongly typed TensorRT network is told to run that layer in FP16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from .int8 import WEIGHTED_OPS, QuantizeError

__all__ = ["QuantizedLayer", "quantized_layers", "keep_layers_high", "HIGH_PRECISIONS", "high_precision_for"]

HIGH_PRECISIONS = ("fp16", "fp32")
_MOVES_DATA = ("MaxPool", "Reshape", "Flatten")  # Q/DQ commutes with these: walked across when keeping a layer high


@dataclass(frozen=True)
class QuantizedLayer:
    """A Conv/Gemm whose weight is read through a DequantizeLinear."""

    name: str  # the node's name: what keep_layers_high takes
    op_type: str
    index: int  # position among the weighted ops, in graph order
    label: str  # the PyTorch module it came from, from its weight's name (features.0, classifier.3)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "op_type": self.op_type, "index": self.index}


def high_precision_for(target: str) -> str:
    """What a layer kept out of INT8 runs in: fp16 on TensorRT (its fast non-INT8 path), fp32 on the CPU."""
    return "fp16" if target == "tensorrt" else "fp32"


def _producers(model: Any) -> dict[str, Any]:
    return {out: node for node in model.graph.node for out in node.output}


def _node_key(node: Any) -> str:
    return node.name or node.output[0]


def quantized_layers(model: Any) -> list[QuantizedLayer]:
    """The weighted layers of a Q/DQ model that run in INT8, in graph order."""
    producers = _producers(model)
    layers, index = [], 0
    for node in model.graph.node:
        if node.op_type not in WEIGHTED_OPS:
            continue
        weight = producers.get(node.input[1]) if len(node.input) > 1 else None
        if weight is not None and weight.op_type == "DequantizeLinear":
            stored = weight.input[0]
            q = producers.get(stored)  # float weight -> Q -> DQ
            stored = q.input[0] if q is not None and q.op_type == "QuantizeLinear" else stored
            label = stored.removesuffix("_quantized").removesuffix(".weight")
            layers.append(QuantizedLayer(_node_key(node), node.op_type, index, label))
        index += 1
    return layers


def _source_weights(source: Any) -> dict[str, tuple[str, str | None]]:
    """Weighted node (by name and by output) -> (weight, bias) initializer names in the fp32 source."""
    found: dict[str, tuple[str, str | None]] = {}
    for node in source.graph.node:
        if node.op_type in WEIGHTED_OPS:
            pair = (node.input[1], node.input[2] if len(node.input) > 2 and node.input[2] else None)
            found[_node_key(node)] = pair
            found.setdefault(node.output[0], pair)
    return found


def keep_layers_high(model: Any, source: Any, layers: Iterable[str], *, precision: str = "fp32") -> Any:
    """A copy of Q/DQ `model` in which the named layers (QuantizedLayer.name) run in `precision` (fp16|fp32),
    with the fp32 weights of `source`, the model it was quantized from; every other layer is left as it is."""
    import onnx
    from onnx import numpy_helper

    if precision not in HIGH_PRECISIONS:
        raise QuantizeError(f"unknown high precision {precision!r}; choose one of: {', '.join(HIGH_PRECISIONS)}")
    wanted = set(layers)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    by_key = {_node_key(n): n for n in graph.node if n.op_type in WEIGHTED_OPS}
    unknown = sorted(wanted - {layer.name for layer in quantized_layers(model)})
    if unknown:
        raise QuantizeError(f"not quantized layers of this model: {', '.join(unknown)}")
    source_inits = {i.name: i for i in source.graph.initializer}
    weights = _source_weights(source)
    producers = _producers(out)
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    dtype = np.float16 if precision == "fp16" else np.float32
    added: list[Any] = []

    def float_initializer(name: str) -> str:
        values = numpy_helper.to_array(source_inits[name]).astype(dtype)
        new = f"{name}__{precision}"
        if new not in {i.name for i in graph.initializer}:
            graph.initializer.append(numpy_helper.from_array(values, new))
        return new

    for key in sorted(wanted, key=lambda k: list(by_key).index(k)):
        node = by_key[key]
        pair = weights.get(key) or weights.get(node.output[0])
        if pair is None:
            raise QuantizeError(f"layer {key} is not in the fp32 source model: pass the model it was quantized from")
        if _bypass_activation_qdq(node, graph, producers, consumers):
            # Relu commutes with the data-movement ops walked across: one Relu before the layer
            node.input[0] = _relu_of(node.input[0], added)
        node.input[1] = float_initializer(pair[0])
        if pair[1] is not None and len(node.input) > 2:
            node.input[2] = float_initializer(pair[1])
        if precision == "fp16":
            added += _cast_to_fp16(node, key)
    # new nodes are placed by a topological sort at the end: inserting into the repeated field while holding
    # references to its elements is not safe with every protobuf backend
    _sort_nodes(graph, added)
    _prune(out)
    return out


def _bypass_activation_qdq(node: Any, graph: Any, producers: dict[str, Any], consumers: dict[str, int]) -> bool:
    """Feed `node` its activation from before the Q/DQ pairs (and the data-movement ops between them) that feed
    it; True when a bypassed Q clipped negatives (a Relu must take its place)."""
    user, slot, clipped = node, 0, False
    while True:
        tensor = user.input[slot]
        dq = producers.get(tensor)
        q = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        if q is not None and q.op_type == "QuantizeLinear":
            user.input[slot] = q.input[0]
            clipped = clipped or _clips_negatives(q, graph)
            continue
        if dq is not None and dq.op_type in _MOVES_DATA and consumers.get(tensor, 0) == 1:
            user, slot = dq, 0
            continue
        return clipped


def _cast_to_fp16(node: Any, key: str) -> list[Any]:
    """Run `node` in fp16: its activation cast to fp16 and its output back to fp32 (the Cast nodes to add)."""
    from onnx import TensorProto, helper

    half_in, half_out, result = f"{key}__in_fp16", f"{key}__out_fp16", node.output[0]
    casts = [helper.make_node("Cast", [node.input[0]], [half_in], name=f"{key}__to_fp16", to=TensorProto.FLOAT16),
             helper.make_node("Cast", [half_out], [result], name=f"{key}__to_fp32", to=TensorProto.FLOAT)]
    node.input[0] = half_in
    node.output[0] = half_out
    return casts


def _clips_negatives(q: Any, graph: Any) -> bool:
    """A Q whose zero point is its type's minimum: it stands in for a Relu that ONNX Runtime's CPU scheme removed."""
    from onnx import TensorProto, numpy_helper

    zero = next((i for i in graph.initializer if len(q.input) > 2 and i.name == q.input[2]), None)
    if zero is None:
        return False
    lowest = {TensorProto.UINT8: 0, TensorProto.INT8: -128}.get(zero.data_type)
    return lowest is not None and bool(np.all(numpy_helper.to_array(zero) == lowest))


def _relu_of(tensor: str, added: list[Any]) -> str:
    """The tensor's Relu (added once), to keep the clipping of a bypassed Q/DQ pair."""
    from onnx import helper

    name = f"{tensor}__relu"
    if not any(name in node.output for node in added):
        added.append(helper.make_node("Relu", [tensor], [name], name=name))
    return name


def _sort_nodes(graph: Any, added: list[Any]) -> None:
    """graph.node := its nodes plus `added`, in an order where every tensor is made before it is read."""
    nodes = [*graph.node, *added]
    made = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    ordered: list[Any] = []
    pending = nodes
    while pending:
        ready = [n for n in pending if all(name in made for name in n.input)]
        if not ready:
            raise ValueError("keep_layers_high made a graph with a cycle or a missing tensor")  # a bug
        for node in ready:
            made.update(node.output)
        ordered += ready
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
    copies = [type(n)() for n in ordered]
    for copy, node in zip(copies, ordered):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def _prune(model: Any) -> None:
    """Drop the nodes whose outputs nothing reads any more, and the initializers no node reads."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)
    # shapes recorded for tensors that no longer exist would confuse later tools
    names = {o for n in graph.node for o in n.output}
    for info in [v for v in graph.value_info if v.name not in names]:
        graph.value_info.remove(info)
