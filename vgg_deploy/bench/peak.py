"""The machine's own peak, measured in the same run: a large matrix product per precision, a few seconds in all.

A backend's fraction of it (images/s x operations per image / peak operations/s) says how much of the
hardware a runtime used, which a bare images/s figure cannot. The best (shortest) call of each product is
taken, since a peak is what the machine can do, not what it usually does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["PeakFigure", "measure_peaks", "CPU_PRECISIONS", "CUDA_PRECISIONS"]

CPU_PRECISIONS = ("fp32", "bf16", "int8")
CUDA_PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "int8")
_CPU_SIZES = (1024, 2048)
_CUDA_SIZE = 8192


@dataclass(frozen=True)
class PeakFigure:
    precision: str
    ops_per_s: float  # 2 x multiply-accumulates per second
    method: str  # which product, at which size, through which library

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_peaks(*, device: str = "cpu", threads: int | None = None,
                  seconds_each: float = 0.6) -> dict[str, PeakFigure]:
    """Peak operations/s per precision on `device`; a precision that cannot be measured here is left out."""
    if device.startswith("cuda"):
        return _cuda_peaks(device, seconds_each)
    peaks: dict[str, PeakFigure] = {}
    for precision in CPU_PRECISIONS:
        log.info("measuring the CPU's %s peak", precision)
        best: PeakFigure | None = None
        for size in _CPU_SIZES:
            try:
                figure = _CPU_PRODUCTS[precision](size, threads, seconds_each / len(_CPU_SIZES))
            except Exception as exc:  # a missing kernel on an unusual build: report the others
                log.info("%s peak not measured (%s: %s)", precision, type(exc).__name__, exc)
                break
            if best is None or figure.ops_per_s > best.ops_per_s:
                best = figure
        if best is not None:
            peaks[precision] = best
    return peaks


def _best_rate(call: Callable[[], Any], ops: float, seconds: float, *, sync: Callable[[], None] = lambda: None) -> float:
    call(), call()  # first calls pay for allocation and kernel selection
    sync()
    best = float("inf")
    deadline = time.perf_counter() + seconds
    calls = 0
    while calls < 3 or time.perf_counter() < deadline:
        start = time.perf_counter()
        call()
        sync()
        best = min(best, time.perf_counter() - start)
        calls += 1
    return ops / best


def _fp32_cpu(size: int, threads: int | None, seconds: float) -> PeakFigure:
    import torch

    with _torch_threads(torch, threads):
        a, b = torch.randn(size, size), torch.randn(size, size)
        rate = _best_rate(lambda: torch.mm(a, b), 2.0 * size ** 3, seconds)
    return PeakFigure("fp32", rate, f"torch.mm fp32 {size}x{size}x{size}")


def _bf16_cpu(size: int, threads: int | None, seconds: float) -> PeakFigure:
    import torch

    with _torch_threads(torch, threads):
        a, b = torch.randn(size, size, dtype=torch.bfloat16), torch.randn(size, size, dtype=torch.bfloat16)
        rate = _best_rate(lambda: torch.mm(a, b), 2.0 * size ** 3, seconds)
    return PeakFigure("bf16", rate, f"torch.mm bf16 {size}x{size}x{size}")


def _ort_rate(node: Any, feed: dict[str, np.ndarray], weight: Any, output_type: int, output_shape: list[int],
              ops: float, threads: int | None, seconds: float) -> float:
    """The best rate of a one-node ONNX graph (input "A"/"X" fed, one constant weight) on ONNX Runtime's CPU EP."""
    import onnxruntime as ort
    from onnx import helper

    (name, value), = feed.items()
    graph = helper.make_graph(
        [node], "peak", [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype), value.shape)],
        [helper.make_tensor_value_info("Y", output_type, output_shape)], [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return _best_rate(lambda: session.run(None, feed), ops, seconds)


def _ort_matmul(size: int, threads: int | None, seconds: float, *, integer: bool) -> float:
    """ONNX Runtime's own matrix product (MLAS): u8 x s8 -> s32 MatMulInteger (the kernels its INT8 convolutions
    use, VNNI where present) or fp32 MatMul (its sgemm)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight: np.ndarray
    feed: dict[str, np.ndarray]
    if integer:
        weight = rng.integers(-128, 128, (size, size), dtype=np.int8)
        feed = {"A": rng.integers(0, 256, (size, size), dtype=np.uint8)}
        op, y_type = "MatMulInteger", TensorProto.INT32
    else:
        weight = rng.standard_normal((size, size), dtype=np.float32)
        feed = {"A": rng.standard_normal((size, size), dtype=np.float32)}
        op, y_type = "MatMul", TensorProto.FLOAT
    node = helper.make_node(op, ["A", "B"], ["Y"])
    return _ort_rate(node, feed, numpy_helper.from_array(weight, "B"), y_type, [size, size], 2.0 * size ** 3,
                     threads, seconds)


def _int8_cpu(size: int, threads: int | None, seconds: float) -> PeakFigure:
    rate = _ort_matmul(size, threads, seconds, integer=True)
    return PeakFigure("int8", rate, f"onnxruntime MatMulInteger u8xs8 {size}x{size}x{size}")


def _ort_conv3x3(threads: int | None, seconds: float) -> float:
    """fp32 3x3 convolution, 512 channels on 28x28 (VGG's 4th block): ONNX Runtime's direct (NCHWc) kernels beat
    its sgemm on this CPU (230 vs 205 GOP/s measured), so a matrix product alone would understate the peak."""
    from onnx import TensorProto, helper, numpy_helper

    channels, side = 512, 28
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((channels, channels, 3, 3), dtype=np.float32), "W")
    shape = [1, channels, side, side]
    node = helper.make_node("Conv", ["X", "W"], ["Y"], pads=[1, 1, 1, 1])
    feed = {"X": rng.standard_normal(shape, dtype=np.float32)}
    return _ort_rate(node, feed, weight, TensorProto.FLOAT, shape, 2.0 * channels * channels * 9 * side * side,
                     threads, seconds)


def _fp32_cpu_best(size: int, threads: int | None, seconds: float) -> PeakFigure:
    """The fastest of torch's sgemm, ONNX Runtime's sgemm and ONNX Runtime's 3x3 convolution: the peak is what
    the machine can do, whichever kernel gets there."""
    candidates = [
        _fp32_cpu(size, threads, seconds / 3),
        PeakFigure("fp32", _ort_matmul(size, threads, seconds / 3, integer=False),
                   f"onnxruntime MatMul fp32 {size}x{size}x{size}"),
        PeakFigure("fp32", _ort_conv3x3(threads, seconds / 3), "onnxruntime Conv 3x3 fp32 512ch 28x28"),
    ]
    return max(candidates, key=lambda figure: figure.ops_per_s)


_CPU_PRODUCTS = {"fp32": _fp32_cpu_best, "bf16": _bf16_cpu, "int8": _int8_cpu}


class _torch_threads:
    """Set torch's thread count for a block and restore it."""

    def __init__(self, torch: Any, threads: int | None) -> None:
        self.torch, self.threads, self.saved = torch, threads, None

    def __enter__(self) -> None:
        if self.threads is not None:
            self.saved = self.torch.get_num_threads()
            self.torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            self.torch.set_num_threads(self.saved)


def _cuda_peaks(device: str, seconds_each: float) -> dict[str, PeakFigure]:
    import torch

    from .cuda import fp32_math

    dev = torch.device(device)
    size = _CUDA_SIZE
    sync = lambda: torch.cuda.synchronize(dev)  # noqa: E731
    peaks: dict[str, PeakFigure] = {}
    for precision in CUDA_PRECISIONS:
        log.info("measuring the GPU's %s peak", precision)
        try:
            if precision == "int8":
                a = torch.randint(-128, 128, (size, size), dtype=torch.int8, device=dev)
                b = torch.randint(-128, 128, (size, size), dtype=torch.int8, device=dev)
                call, what = (lambda: torch._int_mm(a, b)), "torch._int_mm int8"
                rate = _best_rate(call, 2.0 * size ** 3, seconds_each, sync=sync)
            else:
                dtype = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16,
                         "bf16": torch.bfloat16}[precision]
                a = torch.randn(size, size, dtype=dtype, device=dev)
                b = torch.randn(size, size, dtype=dtype, device=dev)
                what = f"torch.mm {precision}"
                with fp32_math(torch, tf32=precision == "tf32"):
                    rate = _best_rate(lambda: torch.mm(a, b), 2.0 * size ** 3, seconds_each, sync=sync)
        except Exception as exc:
            log.info("%s peak not measured (%s: %s)", precision, type(exc).__name__, exc)
            continue
        peaks[precision] = PeakFigure(precision, rate, f"{what} {size}x{size}x{size} on {torch.cuda.get_device_name(dev)}")
        del a, b
    torch.cuda.empty_cache()
    return peaks
