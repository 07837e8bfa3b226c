"""Precision lives in the ONNX graph: decide which ONNX TensorRT builds, and make it when it does not exist yet.

An fp32 ONNX with `--precision fp16|int8` is first converted (FP16 casts / calibrated Q/DQ, checked against fp32
on held-out images) by the Precision step, and the result is kept next to the engine; an ONNX that already is
FP16 or Q/DQ is built as it is. TensorRT 11 has no FP16/INT8 builder flags, so this is the only way on 11.x and
the same graph gives the same engine on 10.x.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..artifacts import file_sha256
from ..errors import VGGDeployError
from ..precision.request import (
    DEFAULT_MAX_FALLBACK_LAYERS, CalibrationRequest, ConversionRequest, FallbackPolicy, ParityGates,
)
from .errors import OptionError
from .options import PRECISIONS

__all__ = [
    "OnnxFacts", "ConversionSettings", "inspect_onnx", "graph_precision", "engine_precision",
    "converted_onnx_path", "convert_for_engine", "check_qdq_for_tensorrt", "data_fingerprint",
]

_QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


@dataclass(frozen=True)
class OnnxFacts:
    """What build-trt needs to know about an ONNX file, read without loading its weights."""

    path: Path
    precision: str  # fp32 | fp16 | int8
    precision_source: str  # "metadata" (vgg-deploy's) or "graph" (inspected, for files from other tools)
    input_name: str
    output_name: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    fixed_batch: int | None
    metadata: dict[str, Any] = field(default_factory=dict)


def graph_precision(model: Any) -> str:
    """"int8" for a graph with Q/DQ nodes, "fp16" for one with float16 initializers or casts, else "fp32"."""
    from onnx import TensorProto

    nodes = list(model.graph.node)
    if any(node.op_type in _QDQ_OPS for node in nodes):
        return "int8"
    if any(init.data_type == TensorProto.FLOAT16 for init in model.graph.initializer):
        return "fp16"
    for node in nodes:
        if node.op_type == "Cast" and any(a.name == "to" and a.i == TensorProto.FLOAT16 for a in node.attribute):
            return "fp16"
    return "fp32"


def inspect_onnx(path: str | os.PathLike[str]) -> OnnxFacts:
    """Precision (vgg-deploy metadata, else the graph), I/O names, (C, H, W) and fixed batch of an ONNX file."""
    from ..export.metadata import load_onnx, read_metadata

    path = Path(path)
    model = load_onnx(path)
    initializers = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(model.graph.output) < 1:
        raise VGGDeployError(f"{path}: expected one image input and an output, found inputs "
                             f"{[i.name for i in inputs]} and {len(model.graph.output)} outputs")
    dims = inputs[0].type.tensor_type.shape.dim
    values = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims]
    if len(values) != 4 or any(v is None for v in values[1:]):
        raise VGGDeployError(f"{path}: input {inputs[0].name!r} must be (N, C, H, W) with a fixed C, H and W; "
                             f"it is {[v if v is not None else '?' for v in values]}; export with a fixed input size")
    metadata = read_metadata(model)
    known = metadata.get("precision")
    precision, source = (known, "metadata") if known in PRECISIONS else (graph_precision(model), "graph")
    c, h, w = (int(v) for v in values[1:])  # type: ignore[arg-type]  # checked not None above
    return OnnxFacts(path=path, precision=precision, precision_source=source, input_name=inputs[0].name,
                     output_name=model.graph.output[0].name, input_shape=(c, h, w), fixed_batch=values[0],
                     metadata=metadata)


def engine_precision(requested: str | None, facts: OnnxFacts) -> tuple[str, bool]:
    """(the engine's precision, whether the ONNX must be converted first); OptionError when they contradict."""
    found = facts.precision
    if facts.metadata.get("int8_target") == "cpu":
        raise OptionError(
            f"{facts.path} was quantized with --target cpu (asymmetric uint8 activations), which TensorRT refuses "
            "(\"TensorRT only supports symmetric quantization\"); quantize the fp32 model with --target tensorrt, or "
            "give build-trt the fp32 model and --precision int8", option="MODEL",
        )
    if requested is None or requested == found:
        return found, False
    if found == "fp32":
        return requested, True
    how = "its vgg-deploy metadata" if facts.precision_source == "metadata" else "its graph"
    raise OptionError(
        f"{facts.path} is already {found} (from {how}), so --precision {requested} contradicts it; drop --precision "
        f"to build it as {found}, or give the fp32 export to build {requested}", option="--precision",
    )


def converted_onnx_path(plan: str | os.PathLike[str], precision: str, *, source: str | os.PathLike[str]) -> Path:
    """Where the FP16 / Q/DQ ONNX made for `plan` is kept: `model.plan` -> `model.int8.onnx` next to it."""
    plan = Path(plan)
    stem = plan.stem if plan.stem.endswith(f".{precision}") else f"{plan.stem}.{precision}"
    path = plan.with_name(f"{stem}.onnx")
    if path.resolve() == Path(source).resolve():  # never overwrite the user's source ONNX
        path = plan.with_name(f"{stem}.converted.onnx")
    return path


def data_fingerprint(calib_data: str | None) -> str | None:
    """What identifies calibration data for the engine cache: a file's sha256, a folder's listing, or the name."""
    if calib_data is None or calib_data in ("digits", "synthetic"):
        return calib_data
    path = Path(calib_data)
    if path.is_file():
        return "sha256:" + file_sha256(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return "listing:" + digest.hexdigest()
    return str(calib_data)  # missing: the loader names the problem when it is used


@dataclass(frozen=True)
class ConversionSettings:
    """build-trt's options for the FP16 / INT8 conversion (the same as `vgg-deploy quantize`'s), flat: their
    field names are the engine cache key's. `of(...)` and `request(precision)` link them to the precision
    package's ConversionRequest."""

    calib_data: str | None = None
    calib_method: str | None = None  # None: the quantizer's default
    quantizer: str = "ort"
    calib_samples: int = 128
    calib_batch: int = 16
    seed: int = 0
    min_top1: float | None = None
    min_cosine: float | None = None
    fallback: str = "off"
    max_fallback_layers: int = DEFAULT_MAX_FALLBACK_LAYERS

    @classmethod
    def of(cls, *, calibration: CalibrationRequest, gates: ParityGates, fallback: FallbackPolicy) -> ConversionSettings:
        """The settings of a conversion request's parts (its precision and target are build-trt's own)."""
        return cls(calib_data=calibration.data, calib_method=calibration.method, quantizer=calibration.quantizer,
                   calib_samples=calibration.samples, calib_batch=calibration.batch, seed=calibration.seed,
                   min_top1=gates.min_top1, min_cosine=gates.min_cosine, fallback=fallback.mode,
                   max_fallback_layers=fallback.max_layers)

    def request(self, precision: str) -> ConversionRequest:
        """The request that makes the `precision` ONNX TensorRT builds (the TensorRT scheme)."""
        return ConversionRequest(
            precision=precision, target="tensorrt",
            calibration=CalibrationRequest(data=self.calib_data, quantizer=self.quantizer, method=self.calib_method,
                                           samples=self.calib_samples, batch=self.calib_batch, seed=self.seed),
            gates=ParityGates(min_top1=self.min_top1, min_cosine=self.min_cosine),
            fallback=FallbackPolicy(mode=self.fallback, max_layers=self.max_fallback_layers),
        )

    def cache_facts(self, precision: str) -> dict[str, Any]:
        """What of these settings decides the converted ONNX, for the engine cache key."""
        facts = asdict(self)
        facts["calib_data"] = data_fingerprint(self.calib_data)
        if precision == "fp16":  # the data only checks parity; calibration settings do not apply
            facts = {"parity_data": facts["calib_data"], "seed": self.seed}
        return {"precision": precision, **facts}


def convert_for_engine(
    facts: OnnxFacts,
    output: str | os.PathLike[str],
    *,
    precision: str,
    settings: ConversionSettings,
) -> Any:
    """Make the FP16 / TensorRT-scheme Q/DQ ONNX of an fp32 vgg-deploy ONNX; returns its ConversionResult."""
    from ..export.metadata import config_from_metadata
    from ..precision import conversion_inputs, convert

    config = config_from_metadata(facts.metadata, source=str(facts.path))
    request = settings.request(precision)
    return convert(facts.path, Path(output), request, conversion_inputs(config, request))


def check_qdq_for_tensorrt(facts: OnnxFacts) -> None:
    """Refuse a Q/DQ ONNX from another tool that breaks TensorRT's Q/DQ rules, naming the nodes (before parsing)."""
    if facts.precision != "int8" or facts.metadata.get("tensorrt_qdq_check") == "passed":
        return
    import onnx

    from ..precision import check_tensorrt_qdq

    violations = check_tensorrt_qdq(onnx.load(str(facts.path)))
    if violations:
        shown = "; ".join(map(str, violations[:5]))
        raise VGGDeployError(f"{facts.path}: the Q/DQ graph breaks TensorRT's rules ({len(violations)}): {shown}; "
                             "quantize the fp32 model with `vgg-deploy quantize --target tensorrt`")
