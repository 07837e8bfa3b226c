"""A thin layer over cuda-python's runtime API: device and pinned buffers, a stream, copies, CUDA graphs.

As in NVIDIA's TensorRT samples (samples/python/common_runtime.py): `from cuda.bindings import runtime as cudart`
(`from cuda import cudart` in older cuda-python). Every call returns a tuple whose first item is the error code;
`_check` turns a failure into one clear error. Nothing here needs TensorRT, so it can be exercised on a GPU by
itself (round-trip copies, a captured and replayed graph of copies).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

import numpy as np

from .errors import TensorRTError, TensorRTUnavailableError

__all__ = [
    "CudaError", "cudart", "require_gpu", "use_device", "GpuFacts", "DeviceBuffer", "PinnedBuffer", "Stream", "CudaGraph",
    "copy_to_device", "copy_to_host",
]

from ..formats import TENSORRT_INSTALL_HINT as _INSTALL  # noqa: E402  (one-line change, issue 14: the one hint)


class CudaError(TensorRTError):
    """A CUDA runtime call failed."""


def cudart() -> ModuleType:
    """cuda-python's runtime module, or TensorRTUnavailableError saying how to install it."""
    try:
        from cuda.bindings import runtime
    except ImportError:
        try:
            from cuda import cudart as runtime  # older cuda-python, before the cuda.bindings split
        except ImportError:
            raise TensorRTUnavailableError(
                f"cuda-python is not installed (needed for TensorRT engines): {_INSTALL}"
            ) from None
    return cast(ModuleType, runtime)


def _check(result: Any, what: str) -> Any:
    """Unpack `(err, *values)`: raise CudaError on failure, return None, the value, or the tuple of values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise CudaError(f"CUDA {what} failed: {_error_name(err)}")
    return None if not values else values[0] if len(values) == 1 else tuple(values)


def _error_name(err: Any) -> str:
    name = getattr(err, "name", None) or str(err)
    try:
        _, text = cudart().cudaGetErrorString(err)
        text = text.decode() if isinstance(text, bytes) else str(text)
    except Exception:  # the error string is a courtesy: never hide the real error behind a second one
        text = ""
    return f"{name} ({text})" if text and text != name else str(name)


@dataclass(frozen=True)
class GpuFacts:
    """The GPU a manifest records and compares: name, compute capability, CUDA runtime and driver versions."""

    index: int
    name: str
    compute_capability: str
    cuda_version: str
    driver_version: str


def _version(number: int) -> str:  # 12080 -> "12.8"
    return f"{number // 1000}.{number % 1000 // 10}"


def require_gpu(device: int = 0) -> GpuFacts:
    """Facts of CUDA device `device`; TensorRTUnavailableError when there is no usable NVIDIA GPU or driver."""
    rt = cudart()
    err, count = rt.cudaGetDeviceCount()
    if int(err) != 0 or not count:
        why = "no NVIDIA GPU found" if int(err) == 0 else f"no usable NVIDIA GPU or driver ({_error_name(err)})"
        raise TensorRTUnavailableError(f"{why}: TensorRT engines need an NVIDIA GPU and its driver")
    if not 0 <= device < count:
        raise CudaError(f"CUDA device {device} does not exist; this machine has {count} (0-{count - 1})")
    use_device(device)
    props = _check(rt.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
    name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
    return GpuFacts(
        index=device, name=name.split("\0")[0].strip(), compute_capability=f"{props.major}.{props.minor}",
        cuda_version=_version(_check(rt.cudaRuntimeGetVersion(), "cudaRuntimeGetVersion")),
        driver_version=_version(_check(rt.cudaDriverGetVersion(), "cudaDriverGetVersion")),
    )


def use_device(device: int) -> None:
    """Make CUDA device `device` current for the calling thread. CUDA keeps the current device per thread, so
    every entry point that may run on another thread than the one that activated (PyTriton's callbacks, a
    thread pool) sets it before issuing work: kernels issued with another device current fail or run there."""
    _check(cudart().cudaSetDevice(device), f"cudaSetDevice({device})")


class DeviceBuffer:
    """`nbytes` of device memory (cudaMalloc); `ptr` is its address; free() (or close) releases it."""

    def __init__(self, nbytes: int) -> None:
        if nbytes < 1:
            raise ValueError(f"a device buffer needs at least 1 byte, got {nbytes}")
        self.nbytes = nbytes
        self.ptr: int = int(_check(cudart().cudaMalloc(nbytes), f"cudaMalloc({nbytes} bytes)"))

    def free(self) -> None:
        if self.ptr:
            ptr, self.ptr = self.ptr, 0
            _check(cudart().cudaFree(ptr), "cudaFree")


class PinnedBuffer:
    """Page-locked host memory (cudaMallocHost), so copies can run asynchronously; `array` views it in numpy."""

    def __init__(self, nbytes: int) -> None:
        if nbytes < 1:
            raise ValueError(f"a pinned buffer needs at least 1 byte, got {nbytes}")
        self.nbytes = nbytes
        self.ptr: int = int(_check(cudart().cudaMallocHost(nbytes), f"cudaMallocHost({nbytes} bytes)"))

    def array(self, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
        """A numpy view of the first prod(shape) elements (valid until free())."""
        dtype = np.dtype(dtype)
        count = int(np.prod(shape))
        if count * dtype.itemsize > self.nbytes:
            raise ValueError(f"{shape} {dtype} needs {count * dtype.itemsize} bytes; the buffer has {self.nbytes}")
        raw = (ctypes.c_byte * (count * dtype.itemsize)).from_address(self.ptr)
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)

    def free(self) -> None:
        if self.ptr:
            ptr, self.ptr = self.ptr, 0
            _check(cudart().cudaFreeHost(ptr), "cudaFreeHost")


class Stream:
    """A CUDA stream; `handle` is the integer TensorRT's execute_async_v3 takes."""

    def __init__(self) -> None:
        self._stream: Any = _check(cudart().cudaStreamCreate(), "cudaStreamCreate")

    @property
    def raw(self) -> Any:
        return self._stream

    @property
    def handle(self) -> int:
        return int(self._stream)

    def synchronize(self) -> None:
        _check(cudart().cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")

    def free(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            _check(cudart().cudaStreamDestroy(stream), "cudaStreamDestroy")


def copy_to_device(dst: DeviceBuffer, src: PinnedBuffer, nbytes: int, stream: Stream) -> None:
    """Asynchronous host-to-device copy of the first `nbytes`."""
    if nbytes > min(dst.nbytes, src.nbytes):
        raise ValueError(f"copy of {nbytes} bytes exceeds a buffer ({src.nbytes} host, {dst.nbytes} device)")
    rt = cudart()
    _check(rt.cudaMemcpyAsync(dst.ptr, src.ptr, nbytes, rt.cudaMemcpyKind.cudaMemcpyHostToDevice, stream.raw),
           "cudaMemcpyAsync (host to device)")


def copy_to_host(dst: PinnedBuffer, src: DeviceBuffer, nbytes: int, stream: Stream) -> None:
    """Asynchronous device-to-host copy of the first `nbytes`."""
    if nbytes > min(dst.nbytes, src.nbytes):
        raise ValueError(f"copy of {nbytes} bytes exceeds a buffer ({dst.nbytes} host, {src.nbytes} device)")
    rt = cudart()
    _check(rt.cudaMemcpyAsync(dst.ptr, src.ptr, nbytes, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream.raw),
           "cudaMemcpyAsync (device to host)")


class CudaGraph:
    """The work issued to a stream between begin() and end(), captured once and replayed with launch()."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._graph: Any = None
        self._exec: Any = None

    def begin(self) -> None:
        rt = cudart()
        _check(rt.cudaStreamBeginCapture(self._stream.raw, rt.cudaStreamCaptureMode.cudaStreamCaptureModeGlobal),
               "cudaStreamBeginCapture")

    def end(self) -> None:
        rt = cudart()
        self._graph = _check(rt.cudaStreamEndCapture(self._stream.raw), "cudaStreamEndCapture")
        self._exec = _check(rt.cudaGraphInstantiate(self._graph, 0), "cudaGraphInstantiate")

    def abort(self) -> None:
        """End a capture that failed half-way, ignoring its errors (the first error is the one to report)."""
        try:
            cudart().cudaStreamEndCapture(self._stream.raw)
        except Exception:
            pass

    def launch(self) -> None:
        if self._exec is None:
            raise CudaError("CUDA graph launched before it was captured")
        _check(cudart().cudaGraphLaunch(self._exec, self._stream.raw), "cudaGraphLaunch")

    def free(self) -> None:
        rt = cudart()
        if self._exec is not None:
            graph_exec, self._exec = self._exec, None
            _check(rt.cudaGraphExecDestroy(graph_exec), "cudaGraphExecDestroy")
        if self._graph is not None:
            graph, self._graph = self._graph, None
            _check(rt.cudaGraphDestroy(graph), "cudaGraphDestroy")
