"""What actually ran: each backend's convolutions and GEMMs counted by the precision they executed in.

A file called "int8" proves nothing: ONNX Runtime may leave a Q/DQ pair unfused (the math then runs in fp32),
OpenVINO may run an "fp32" model in bf16, TensorRT may pick an fp32 kernel inside an INT8 engine. So the counts
come from what each runtime compiled: ONNX Runtime's optimized graph, OpenVINO's runtime model, and the TensorRT
engine inspector's layer listing.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from ..errors import first_line

__all__ = ["ort_executed", "tensorrt_executed", "classify_ort_graph"]

# ONNX Runtime node types (any domain) doing integer multiply-accumulates.
_INT8_OPS = frozenset({"QLinearConv", "ConvInteger", "QGemm", "MatMulInteger", "QLinearMatMul",
                       "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "DynamicQuantizeLSTM"})
# Floating-point compute nodes: their precision is their input's element type.
_FLOAT_OPS = frozenset({"Conv", "FusedConv", "NhwcFusedConv", "ConvTranspose", "Gemm", "FusedGemm", "MatMul",
                        "FusedMatMul", "NhwcConv"})
_ONNX_FLOAT = {1: "fp32", 10: "fp16", 16: "bf16", 11: "fp64"}  # TensorProto element types
_ONNX_INT8 = {2: "u8", 3: "s8"}
_OUTPUT_ZERO_POINT = {"QLinearConv": 7, "QLinearMatMul": 7, "QGemm": 8}  # input index of y_zero_point


def ort_executed(path: str | Path, *, providers: Sequence[Any], threads: int | None = None) -> dict[str, Any]:
    """Counts from the graph ONNX Runtime optimized for `providers` (saved with optimized_model_filepath)."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="vgg-deploy-ortopt-") as tmp:
        optimized = Path(tmp) / "optimized.onnx"
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.optimized_model_filepath = str(optimized)
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            ort.InferenceSession(str(path), options, providers=list(providers))
            model = onnx.load(str(optimized))
        except Exception as exc:  # e.g. the TensorRT provider compiles nodes that cannot be saved
            reason = first_line(exc, limit=200, default='')
            return {"source": "onnxruntime optimized graph", "available": False,
                    "note": f"not available ({type(exc).__name__}: {reason})"}
    counts = classify_ort_graph(model)
    return {"source": "onnxruntime optimized graph", "available": True, **counts}


def classify_ort_graph(model: Any) -> dict[str, Any]:
    """{"int8": n, "fp32": n, ..., "ops": {"QLinearConv": n, ...}, "int8_inputs": {"u8": n}} for an onnx model."""
    graph = model.graph
    types: dict[str, int] = {}
    for tensor in graph.initializer:
        types[tensor.name] = tensor.data_type
    for info in [*graph.input, *graph.value_info, *graph.output]:
        if info.type.HasField("tensor_type") and info.type.tensor_type.elem_type:
            types[info.name] = info.type.tensor_type.elem_type
    by_precision: Counter[str] = Counter()
    ops: Counter[str] = Counter()
    int8_inputs: Counter[str] = Counter()
    for node in graph.node:  # ONNX graphs are topologically sorted: element types can be propagated forward
        out_type = _output_type(node, types)
        for name in node.output:
            if out_type is not None and name not in types:
                types[name] = out_type
        if node.op_type in _INT8_OPS:
            by_precision["int8"] += 1
            ops[node.op_type] += 1
            # The activation's type: its zero point's (input 2) for the QLinear ops, else input 0's.
            activation = node.input[2] if node.op_type in _OUTPUT_ZERO_POINT and len(node.input) > 2 else node.input[0]
            if types.get(activation) in _ONNX_INT8:
                int8_inputs[_ONNX_INT8[types[activation]]] += 1
        elif node.op_type in _FLOAT_OPS:
            elem = types.get(node.input[0]) if node.input else None
            by_precision[_ONNX_FLOAT.get(elem, "unknown") if elem is not None else "unknown"] += 1
            ops[node.op_type if not node.domain else f"{node.op_type} ({node.domain})"] += 1
    result: dict[str, Any] = {**dict(by_precision), "ops": dict(ops)}
    if int8_inputs:
        result["int8_activations"] = dict(int8_inputs)
    return result


def _output_type(node: Any, types: dict[str, int]) -> int | None:
    """The element type of a node's outputs, from its inputs (enough for the nodes VGG graphs contain)."""
    if node.op_type == "Cast":
        return next((a.i for a in node.attribute if a.name == "to"), None)
    if node.op_type in ("QuantizeLinear", "DynamicQuantizeLinear"):
        if len(node.input) > 2 and node.input[2] in types:
            return types[node.input[2]]
        return 2  # uint8 is QuantizeLinear's default
    if node.op_type == "DequantizeLinear":
        return types.get(node.input[1], 1) if len(node.input) > 1 else 1
    if node.op_type in _OUTPUT_ZERO_POINT:
        # The output's type is the output zero point's; QGemm without one outputs fp32.
        index = _OUTPUT_ZERO_POINT[node.op_type]
        return types.get(node.input[index], 1) if len(node.input) > index and node.input[index] else 1
    if node.op_type in ("ConvInteger", "MatMulInteger"):
        return 6  # int32
    for name in node.input:
        if name and name in types:
            return types[name]
    return None


def tensorrt_executed(engine_path: str | Path) -> dict[str, Any]:
    """Counts from the TensorRT engine inspector's JSON layer listing saved next to the engine by build-trt
    (`X.plan.layers.json`, profiling verbosity DETAILED): compute layers by the precision vgg_deploy.trt's reader
    finds for them (it knows the 10.x and 11.x layouts), and convolution/GEMM layers by type."""
    from ..trt.inspector import summarize_layers

    engine_path = Path(engine_path)
    listing = engine_path.with_name(engine_path.name + ".layers.json")
    source = "TensorRT engine inspector"
    if not listing.is_file():
        return {"source": source, "available": False, "note": f"no inspector listing {listing.name} next to the engine"}
    try:
        data = json.loads(listing.read_text())
    except (OSError, ValueError) as exc:
        return {"source": source, "available": False, "note": f"{listing.name}: {exc}"}
    layers = data.get("Layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        return {"source": source, "available": False, "note": f"{listing.name}: no \"Layers\" list"}
    ops: Counter[str] = Counter()
    for layer in layers:
        kind = str(layer.get("LayerType", "")) if isinstance(layer, dict) else ""
        if any(word in kind.lower() for word in ("conv", "gemm", "matrixmultiply", "fullyconnected")):
            ops[kind] += 1
    counts = dict(summarize_layers(data).compute)
    if "uint8" in counts:
        counts["int8"] = counts.get("int8", 0) + counts.pop("uint8")
    return {"source": source, "available": True, **counts, "ops": dict(ops)}
