"""OpenVINO inference on the CPU, reading our ONNX directly: fp32, and Q/DQ INT8 without a second quantizer.

On CPUs with bf16 (AVX512_BF16, AMX) OpenVINO runs an fp32 model in bf16 unless told otherwise, so the
inference precision is always set: "fp32" really computes in f32, "bf16" asks for bf16. What the compiled
model executed (each convolution's and fully connected layer's runtime precision) is readable afterwards.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import first_line
from .base import BaseRunner, RunnerError

__all__ = ["OpenVINORunner", "OPENVINO_PRECISIONS"]

OPENVINO_PRECISIONS = {"fp32": "f32", "bf16": "bf16"}  # our name -> INFERENCE_PRECISION_HINT
# Runtime layer types that do the multiply-accumulates, and how their runtime precisions are named here.
_COMPUTE_LAYERS = frozenset({"Convolution", "GroupConvolution", "Deconvolution", "FullyConnected", "MatMul",
                             "FullyConnectedCompressed"})
_PRECISION_NAMES = {"u8": "int8", "i8": "int8", "bf16": "bf16", "f16": "fp16", "f32": "fp32"}


class OpenVINORunner(BaseRunner):
    """An ONNX file compiled by OpenVINO for `device` (CPU by default), with a dynamic batch when the file has one.

    precision: "fp32" (INFERENCE_PRECISION_HINT f32) or "bf16". An INT8 (Q/DQ) file runs its quantized layers
    in int8 either way; the hint decides the layers left in floating point. The name ("ov-fp32", "ov-fp32-bf16",
    "ov-int8") gets the file's precision at activation.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        precision: str = "fp32",
        threads: int | None = None,
        device: str = "CPU",
        config: dict[str, Any] | None = None,  # more compile properties, e.g. {"PERFORMANCE_HINT": "THROUGHPUT"}
    ) -> None:
        if precision not in OPENVINO_PRECISIONS:
            raise RunnerError(f"precision must be one of {', '.join(OPENVINO_PRECISIONS)}, got {precision!r}")
        if threads is not None and threads < 1:
            raise RunnerError(f"threads must be >= 1, got {threads}")
        self.path = Path(path)
        self.precision = precision
        self.threads = threads
        self.device = device
        self.extra_config = dict(config or {})
        self.file_precision: str | None = None
        self._compiled: Any = None
        self._request: Any = None
        self._prefix = "ov" if precision == "fp32" else f"ov-{precision}"
        super().__init__(self._prefix)

    def _activate_impl(self) -> None:
        from ..optional import require

        ov = require("openvino", extra="openvino", purpose="for the OpenVINO runner")
        if not self.path.is_file():
            raise RunnerError(f"{self.path}: no such ONNX file")
        core = ov.Core()
        try:
            model = core.read_model(str(self.path))
        except Exception as exc:
            reason = first_line(exc, default='')
            raise RunnerError(f"{self.path}: OpenVINO cannot read it ({type(exc).__name__}: {reason})") from None
        self._read_facts(model)
        config = {"INFERENCE_PRECISION_HINT": OPENVINO_PRECISIONS[self.precision], "PERFORMANCE_HINT": "LATENCY",
                  **self.extra_config}
        if self.threads is not None:
            config["INFERENCE_NUM_THREADS"] = self.threads
        try:
            compiled = core.compile_model(model, self.device, config)
        except Exception as exc:
            reason = first_line(exc, default='')
            raise RunnerError(f"{self.name}: OpenVINO cannot compile {self.path} for {self.device} "
                              f"({type(exc).__name__}: {reason})") from None
        got = str(compiled.get_property("INFERENCE_PRECISION_HINT")).lower()
        wanted = {"fp32": "f32", "bf16": "bf16"}[self.precision]
        if wanted not in got.replace("float32", "f32").replace("bfloat16", "bf16"):
            raise RunnerError(f"{self.name}: asked OpenVINO for {self.precision} inference, it set {got} "
                              f"(this {self.device} may not support {self.precision})")
        self._compiled = compiled
        self._request = compiled.create_infer_request()

    def _read_facts(self, model: Any) -> None:
        from ..export.metadata import config_from_metadata, read_metadata

        if len(model.inputs) != 1 or len(model.outputs) < 1:
            raise RunnerError(f"{self.path}: expected one (N, C, H, W) input, got {len(model.inputs)} inputs")
        shape = model.inputs[0].get_partial_shape()
        if shape.rank.is_dynamic or shape.rank.get_length() != 4 or any(d.is_dynamic for d in list(shape)[1:]):
            raise RunnerError(f"{self.path}: expected an (N, C, H, W) input with fixed C, H, W, got {shape}")
        dims = list(shape)
        self._input_shape = tuple(d.get_length() for d in dims[1:])
        self._batch_range = (1, None) if dims[0].is_dynamic else (dims[0].get_length(), dims[0].get_length())
        # OpenVINO keeps the ONNX metadata_props under rt_info["framework"], as the JSON text we wrote.
        framework = model.get_rt_info()["framework"] if model.has_rt_info("framework") else {}
        facts = read_metadata({key: value.astype(str) for key, value in framework.items()})
        self._config = config_from_metadata(facts, source=str(self.path)) if "architecture" in facts else None
        self.file_precision = facts.get("precision") if self._config is not None else None
        base = self.file_precision or "onnx"
        self._name = f"ov-{base}" if self.precision == "fp32" else f"ov-{base}-{self.precision}"

    def _infer_impl(self, batch: np.ndarray) -> np.ndarray:
        result = self._request.infer({0: np.ascontiguousarray(batch)}, share_inputs=True)
        logits = result[self._compiled.output(0)]
        return np.array(logits, dtype=np.float32, copy=True)  # the request reuses its output buffer

    def _deactivate_impl(self) -> None:
        self._request, self._compiled, self.file_precision = None, None, None
        self._name = self._prefix

    def runtime_precisions(self) -> dict[str, Any]:
        """What the compiled model executes: compute layers (convolutions, fully connected, matmuls) counted by
        runtime precision ({"int8": 13, "fp32": 3, ...}) and by (layer type, precision) under "layers"."""
        self._require_active("runtime_precisions()")
        by_precision: Counter[str] = Counter()
        layers: Counter[str] = Counter()
        for op in self._compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if "layerType" not in info:
                continue
            layer = info["layerType"].astype(str)
            if layer not in _COMPUTE_LAYERS:
                continue
            runtime = info["runtimePrecision"].astype(str) if "runtimePrecision" in info else "unknown"
            by_precision[_PRECISION_NAMES.get(runtime, runtime)] += 1
            layers[f"{layer} {runtime}"] += 1
        return {**dict(by_precision), "layers": dict(layers)}
