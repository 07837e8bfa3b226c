"""INT8 ONNX with explicit Q/DQ nodes, calibrated with ONNX Runtime on real images.

TensorRT 11 removed INT8 calibrators: an INT8 engine is built from a Q/DQ graph. Two schemes:
- "tensorrt": signed int8 activations and weights, zero points 0, weights per output channel, bias in fp32.
  Placement follows the Q/DQ layer-placement recommendations of TensorRT's developer guide (which NVIDIA
  Model Optimizer implements too): Q/DQ on every input of the weighted operations (Conv, Gemm: activation and
  weight) and nowhere else. Their outputs are not quantized, so Conv->Relu fuses (no Conv->Q/DQ->Relu), and
  Relu/MaxPool/Reshape carry no Q/DQ of their own. Where it differs from ModelOpt's, and why:
  * no Q/DQ before MaxPool: TensorRT moves the Q that follows a MaxPool back across it (max commutes with a
    monotone quantization), so the pool runs in int8 either way and the extra pair only adds a scale;
  * the classifier's last Gemm is quantized too (ModelOpt leaves it high): measured on the digits models it
    costs no accuracy, and its logits stay fp32 (the graph's output is never quantized).
  Only accuracy can be measured on a CPU: ONNX Runtime and OpenVINO do not show TensorRT's fusions.
- "cpu": what ONNX Runtime's CPU kernels run fastest: unsigned asymmetric activations (u8 x s8), which needs
  VNNI to avoid saturating int16 intermediates; without VNNI weights use 7 bits (reduce_range). Conv/Gemm
  outputs are quantized as well, so ONNX Runtime fuses DQ->Conv->Q into its integer QLinearConv kernels.
"""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ..artifacts import scratch_folder
from ..errors import VGGDeployError
from ..log import progress_bar, quiet_libraries
from ..models.family import ModelFamily

if TYPE_CHECKING:
    from .request import CalibrationRequest

__all__ = [
    "Int8Scheme", "QuantizeError", "DEFAULT_CALIBRATION_METHOD", "int8_scheme", "quantize_int8",
    "CALIBRATION_METHODS", "TARGETS", "activation_bytes_per_image", "QUANTIZERS", "QUANTIZER_METHODS",
    "calibration_method", "WEIGHTED_OPS",
]

QUANTIZERS = ("ort", "modelopt")  # ONNX Runtime's quantizer, NVIDIA Model Optimizer's (TensorRT scheme only)
# Each quantizer's calibration methods, its default first.
# On the trained digits VGG (held-out cosine vs fp32): percentile 0.99990, minmax 0.99987, entropy 0.984 —
# ONNX Runtime's KL search clips the large late activations that the logits depend on.
QUANTIZER_METHODS = {"ort": ("percentile", "minmax", "entropy"), "modelopt": ("entropy", "max")}
CALIBRATION_METHODS = tuple(sorted({m for methods in QUANTIZER_METHODS.values() for m in methods}))
DEFAULT_CALIBRATION_METHOD = QUANTIZER_METHODS["ort"][0]
WEIGHTED_OPS = ("Conv", "Gemm")  # the layers that are quantized (and that sensitivity and fallback treat)
TARGETS = ("tensorrt", "cpu")
CALIBRATION_MEMORY_BUDGET = 2 << 30  # activations ONNX Runtime may hold at once while calibrating

log = logging.getLogger(__name__)


class QuantizeError(VGGDeployError):
    """Quantization that cannot be done as asked, or whose graph breaks the target's rules."""


@dataclass(frozen=True)
class Int8Scheme:
    target: str
    activation_type: str  # "int8" or "uint8"
    activation_symmetric: bool
    reduce_range: bool
    note: str


def int8_scheme(target: str, *, cpu_flags: list[str] | None = None, machine: str | None = None) -> Int8Scheme:
    """The quantization scheme for a target; for "cpu" it depends on whether this CPU has VNNI."""
    if target == "tensorrt":
        return Int8Scheme(target, "int8", True, False, "TensorRT scheme: signed symmetric int8, zero points 0")
    if target != "cpu":
        raise QuantizeError(f"unknown INT8 target {target!r}; choose one of: {', '.join(TARGETS)}")
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64", "i686", "x86"):
        return Int8Scheme(target, "uint8", False, False, f"{machine} CPU: unsigned asymmetric activations")
    if cpu_flags is None:
        from ..environment import cpu_facts

        cpu_flags = cpu_facts()["flags"]
    vnni = [f for f in ("avx512_vnni", "avx_vnni", "amx_int8") if f in cpu_flags]
    if vnni:
        return Int8Scheme(target, "uint8", False, False, f"CPU has {vnni[0]}: unsigned asymmetric activations")
    return Int8Scheme(
        target, "uint8", False, True,
        "CPU has no VNNI: unsigned activations with 7-bit weights (reduce_range) to avoid u8 x s8 saturation",
    )


def calibration_method(quantizer: str, method: str | None, *, target: str = "tensorrt") -> str:
    """`method` checked against what `quantizer` offers (None: its default); ModelOpt makes the TensorRT scheme only."""
    if quantizer not in QUANTIZER_METHODS:
        raise QuantizeError(f"unknown quantizer {quantizer!r}; choose one of: {', '.join(QUANTIZERS)}")
    if quantizer == "modelopt" and target != "tensorrt":
        raise QuantizeError("--quantizer modelopt makes the TensorRT scheme only (it has no unsigned CPU scheme): "
                            "use --target tensorrt, or --quantizer ort for --target cpu")
    methods = QUANTIZER_METHODS[quantizer]
    if method is None:
        return methods[0]
    if method not in methods:
        raise QuantizeError(f"--calib-method {method} is not one of the {quantizer} quantizer's: choose "
                            f"{' or '.join(methods)}")
    return method


def activation_bytes_per_image(config: ModelFamily) -> int:
    """fp32 bytes of the layer outputs of one image: what calibration keeps per image."""
    return config.activation_bytes_per_image


class _BatchReader:
    """A CalibrationDataReader over an in-memory array that supports ONNX Runtime's strided (chunked) calibration;
    the batches it serves advance a progress bar."""

    def __init__(self, images: np.ndarray, batch: int, input_name: str) -> None:
        self._batches = [images[i:i + batch] for i in range(0, len(images), batch)]
        self._input = input_name
        self._pos, self._end = 0, len(self._batches)
        self._bar: Iterator[int] = iter(progress_bar(range(len(self._batches)), desc="calibrating", unit="batch"))

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._pos >= self._end:
            return None
        self._pos += 1
        next(self._bar, None)
        return {self._input: self._batches[self._pos - 1]}

    def __len__(self) -> int:
        return len(self._batches)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._pos, self._end = start_index, min(end_index, len(self._batches))

    def finish(self) -> None:
        """Close the progress bar (its last line shows every batch done)."""
        for _ in self._bar:
            pass


def _chunk(n_batches: int, batch_bytes: int, budget: int) -> int:
    """Batches per calibration chunk: the largest divisor of n_batches within the memory budget."""
    limit = max(1, budget // max(1, batch_bytes))
    return max(d for d in range(1, n_batches + 1) if n_batches % d == 0 and d <= limit)


def _keep_outputs_float(path: str | Path) -> None:
    """Remove the Q/DQ pair ONNX Runtime puts on the graph's output: 8-bit logits would be clipped to the
    calibrated range (the entropy and percentile ranges cut the largest logits) and lose resolution, for no
    speed gain. The last Gemm then writes the fp32 output directly."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    changed = False
    for output in graph.output:
        dq = producers.get(output.name)
        q = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        source = producers.get(q.input[0]) if q is not None and q.op_type == "QuantizeLinear" else None
        if source is None or q is None or dq is None or consumers.get(q.input[0], 0) != 1 \
                or consumers.get(dq.input[0], 0) != 1:
            continue
        source.output[list(source.output).index(q.input[0])] = output.name
        graph.node.remove(q)
        graph.node.remove(dq)
        changed = True
    if changed:
        used = {name for node in graph.node for name in node.input}
        for init in [i for i in graph.initializer if i.name not in used]:
            graph.initializer.remove(init)
        onnx.save_model(model, str(path))


def _entropy_ranges(
    onnx_path: str | Path, reader: _BatchReader, stride: int, *, symmetric: bool, scratch_near: Path
) -> dict[str, tuple[float, float]]:
    """Per-tensor (min, max) from ONNX Runtime's entropy calibrator with 2048 bins, collected chunk by chunk."""
    from onnxruntime.quantization import CalibrationMethod, create_calibrator

    with scratch_folder(scratch_near, name="calibrate") as tmp, quiet_libraries():
        calibrator = create_calibrator(
            Path(onnx_path), None, augmented_model_path=str(tmp / "augmented.onnx"),
            calibrate_method=CalibrationMethod.Entropy,
            extra_options={"num_bins": 2048, "num_quantized_bins": 128, "symmetric": symmetric},
        )
        for start in range(0, len(reader), stride):
            reader.set_range(start, start + stride)
            calibrator.collect_data(reader)
        data = calibrator.compute_data()
    return {name: (float(td.range_value[0]), float(td.range_value[1])) for name, td in data.data.items()}


def _calibration_batches(
    images: np.ndarray, *, calib_batch: int, fixed_batch: int | None, input_name: str
) -> tuple[_BatchReader, int, int]:
    """(the reader, the batch size, the images used): whole batches only, since ONNX Runtime's histogram
    calibrators fail on a short last batch, and the count we report must be the count used."""
    batch = fixed_batch or min(calib_batch, len(images))
    usable = len(images) - len(images) % batch if batch else 0
    if usable < 1:
        raise QuantizeError(f"need at least {batch} calibration images for this fixed-batch model, got {len(images)}")
    if usable < len(images):
        log.info("using %d of %d calibration images: whole batches of %d only", usable, len(images), batch)
    return _BatchReader(np.ascontiguousarray(images[:usable], dtype=np.float32), batch, input_name), batch, usable


def _quantizer_options(scheme: Int8Scheme, stride: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(quantize_static's extra_options, its op placement) for `scheme`."""
    options: dict[str, Any] = {
        "ActivationSymmetric": scheme.activation_symmetric,
        "WeightSymmetric": True,
        "QuantizeBias": False,  # an int32 bias makes TensorRT fail (onnxruntime issues 14229, 17738)
        "CalibStridedMinMax": stride,
        "CalibTensorRangeSymmetric": scheme.activation_symmetric,
    }
    placement: dict[str, Any] = {}
    if scheme.target == "tensorrt":  # inputs of the weighted ops only (module docstring)
        placement["op_types_to_quantize"] = list(WEIGHTED_OPS)
        options["OpTypesToExcludeOutputQuantization"] = list(WEIGHTED_OPS)
    return options, placement


def quantize_int8(
    onnx_path: str | Path,
    output: str | Path,
    images: np.ndarray,
    *,
    config: ModelFamily,
    scheme: Int8Scheme,
    calibration: CalibrationRequest | None = None,
    fixed_batch: int | None = None,
    input_name: str = "input",
    memory_budget: int = CALIBRATION_MEMORY_BUDGET,
) -> dict[str, Any]:
    """Calibrate on `images` as `calibration` asks (its method and batch; default: percentile, 16) and write a
    Q/DQ model to `output`; returns the calibration facts.

    The calibration batch is independent of the model's, except for a fixed-batch model, which is fed
    batches of its own size. Activations are collected in chunks that fit `memory_budget`, since the
    histogram calibrators keep every activation of a chunk (onnxruntime's CalibStridedMinMax).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    method = (calibration.method if calibration is not None else None) or DEFAULT_CALIBRATION_METHOD
    if method not in QUANTIZER_METHODS["ort"]:
        raise QuantizeError(f"unknown calibration method {method!r}; choose one of: "
                            f"{', '.join(QUANTIZER_METHODS['ort'])}")
    reader, batch, usable = _calibration_batches(images, calib_batch=calibration.batch if calibration else 16,
                                                 fixed_batch=fixed_batch, input_name=input_name)
    stride = _chunk(len(reader), batch * activation_bytes_per_image(config), memory_budget)
    log.info("calibrating (%s, %d images in batches of %d, %d chunk(s)); %s",
             method, usable, batch, len(reader) // stride, scheme.note)
    options, placement = _quantizer_options(scheme, stride)
    calibrate = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile}.get(method)
    if method == "entropy":
        # quantize_static gives the entropy calibrator 128 histogram bins, as many as the quantized bins it
        # searches over, so its only candidate threshold is the full range: "entropy" would equal minmax.
        # Calibrate with 2048 bins (as TensorRT's entropy calibrator does) and hand over the ranges.
        ranges = _entropy_ranges(onnx_path, reader, stride, symmetric=scheme.activation_symmetric,
                                 scratch_near=Path(output))
        options["TensorQuantOverrides"] = {
            name: [{"rmin": np.float32(lo), "rmax": np.float32(hi)}] for name, (lo, hi) in ranges.items()
        }
        calibrate = CalibrationMethod.MinMax
        reader.set_range(0, 1)  # ranges are given: one batch only satisfies the quantizer's own calibration pass
        options.pop("CalibStridedMinMax")
    with quiet_libraries():  # the quantizer prints per-chunk progress and logs a pre-processing hint
        quantize_static(
            str(onnx_path), str(output), reader,
            quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=scheme.reduce_range,
            activation_type=QuantType.QInt8 if scheme.activation_type == "int8" else QuantType.QUInt8,
            weight_type=QuantType.QInt8, calibrate_method=calibrate, extra_options=options, **placement,
        )
    reader.finish()
    _keep_outputs_float(output)
    return {
        "quantizer": "ort", "calibration_method": method, "calibration_samples": usable, "calibration_batch": batch,
        "calibration_chunks": len(reader) // stride, "int8_target": scheme.target,
        "activation_type": scheme.activation_type, "activation_symmetric": scheme.activation_symmetric,
        "reduce_range": scheme.reduce_range, "int8_scheme_note": scheme.note,
    }
