"""A computing stand-in for the parts of `tensorrt` and `cuda.bindings.runtime` that vgg_deploy uses. Tests only.

vgg_deploy never imports, names or detects this module: the tests put it where `import tensorrt` and
`from cuda.bindings import runtime` find it (`install_fakes` for this process; `tests/standin/sitecustomize.py`
with VGG_DEPLOY_TRT_STANDIN for subprocesses: bench workers, CLI runs, serve). Where real TensorRT and a GPU
import, the flow tests use those instead (tests/tensorrt_target.py; `pytest -m trt`).

What it does, with the names and signatures of TensorRT 10.13/11.x and cuda-python:
- "Device" memory is host memory (ctypes buffers) tagged with the device that was current at cudaMalloc; copies,
  streams and CUDA-graph capture/replay are real operations on it. The current device is per thread
  (cudaSetDevice), as in CUDA; a kernel (execute_async_v3) issued while another device is current, or on a
  stream or buffer of another device, fails with an error.
- An engine is the ONNX the parser read plus a JSON header of what the build recorded (TensorRT version, GPU name
  and compute capability, profile, flags, hardware/version compatibility, I/O names, shapes and dtypes).
  Executing it runs that ONNX with ONNX Runtime (CPU) on the memory behind the bound addresses, so the logits are
  the graph's real outputs: fp32, the FP16 graph, the Q/DQ graph. set_input_shape outside the stored profile
  fails.
- deserialize_cuda_engine refuses only exact mismatches of fields it stored: another TensorRT version (unless
  built version-compatible, and then never an older runtime), another compute capability (unless built
  hardware-compatible), truncated or foreign bytes. Its messages start with "[tensorrt stand-in]", so a test
  shows at once whether vgg_deploy decided (from its manifest, before deserializing) or the stand-in refused.

What it CANNOT show, and only real TensorRT on a GPU (`pytest -m trt`, tests/test_trt_gpu.py) does:
- whether TensorRT's parser accepts the graph (op support, Q/DQ placement, symmetric zero points): the stand-in
  makes no judgement on them, since that would only echo our own validator;
- TensorRT's kernels and their numerics (tactics, fusions, TF32, fp16 accumulation, int8 rounding): the outputs
  here are ONNX Runtime's on the CPU; the layer listing reports each convolution/GEMM in the precision its graph
  declares (fed by DequantizeLinear: int8; fp16 input: fp16), not what TensorRT's builder picked;
- speed, device memory, CUDA errors of a real driver, asynchronous execution (work runs when issued);
- TensorRT's own message texts (which vgg_deploy must not parse anyway).

A few knobs drive the error paths a stand-in cannot reach otherwise (FakeTensorRTConfig: parser errors, a build
that returns None, a given layer listing); `FakeGpu.calls` records the calls whose counts matter.
"""

from __future__ import annotations

import ctypes
import enum
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import struct
import sys
import threading
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

_V10_ONLY_FLAGS = ("FP16", "INT8", "BF16", "FP8", "INT4", "FP4", "OBEY_PRECISION_CONSTRAINTS",
                   "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO")
_FLAGS = ("DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32", "SPARSE_WEIGHTS", "SAFETY_SCOPE",
          "REJECT_EMPTY_ALGORITHMS", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "ERROR_ON_TIMING_CACHE_MISS",
          "STRICT_NANS")
PLAN_MAGIC = b"TRT-STAND-IN\0"
SAYS = "[tensorrt stand-in]"  # every message of the stand-in starts so: never TensorRT's wording
ENV = "VGG_DEPLOY_TRT_STANDIN"  # JSON of FakeGpu/FakeTensorRTConfig fields, for subprocesses (sitecustomize)
_CUDA_INVALID_DEVICE = 101


@dataclass
class FakeGpu:
    """State shared by the stand-in's TensorRT and cudart in one process: devices, allocations, streams, calls."""

    name: str = "NVIDIA Stand-in GPU"
    compute_capability: tuple[int, int] = (8, 9)
    device_count: int = 1
    device_error: int = 0  # e.g. 35 (cudaErrorInsufficientDriver): no driver
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    device_memory: dict[int, Any] = field(default_factory=dict)  # ptr -> (buffer, device)
    host_memory: dict[int, Any] = field(default_factory=dict)
    streams: dict[int, "FakeStream"] = field(default_factory=dict)
    graph_launches: int = 0
    executed_on: list[int] = field(default_factory=list)  # the device of each execute_async_v3 that ran
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def record(self, *call: Any) -> None:
        self.calls.append(call)

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]

    @property
    def current_device(self) -> int:
        """The calling thread's current device (0 until it calls cudaSetDevice), as in CUDA."""
        return getattr(self._local, "device", 0)

    def set_current(self, device: int) -> None:
        self._local.device = device

    def device_of(self, ptr: int, nbytes: int) -> int | None:
        """The device of the allocation holding [ptr, ptr + nbytes), None when no allocation holds it."""
        for start, (buffer, device) in self.device_memory.items():
            if start <= ptr and ptr + nbytes <= start + ctypes.sizeof(buffer):
                return device
        return None


class FakeStream:
    _next = 0x5000

    def __init__(self, device: int) -> None:
        FakeStream._next += 1
        self.handle = FakeStream._next
        self.device = device
        self.capturing: list[Callable[[], None]] | None = None

    def __int__(self) -> int:
        return self.handle

    def run(self, work: Callable[[], None]) -> None:
        if self.capturing is not None:
            self.capturing.append(work)
        else:
            work()


# -- cuda.bindings.runtime ---------------------------------------------------------------------------------------

def make_fake_cudart(gpu: FakeGpu) -> types.ModuleType:
    rt = types.ModuleType("cuda.bindings.runtime")
    err = enum.IntEnum("cudaError_t", {"cudaSuccess": 0, "cudaErrorInvalidValue": 1, "cudaErrorMemoryAllocation": 2,
                                       "cudaErrorInsufficientDriver": 35,
                                       "cudaErrorInvalidDevice": _CUDA_INVALID_DEVICE,
                                       "cudaErrorInvalidResourceHandle": 400})
    ok = err.cudaSuccess
    rt.cudaError_t = err
    rt.cudaMemcpyKind = enum.IntEnum("cudaMemcpyKind", {"cudaMemcpyHostToDevice": 1, "cudaMemcpyDeviceToHost": 2})
    rt.cudaStreamCaptureMode = enum.IntEnum("cudaStreamCaptureMode", {"cudaStreamCaptureModeGlobal": 0})

    def malloc(nbytes: int) -> tuple[Any, int]:
        buffer = ctypes.create_string_buffer(int(nbytes))
        ptr = ctypes.addressof(buffer)
        gpu.device_memory[ptr] = (buffer, gpu.current_device)
        gpu.record("cudaMalloc", int(nbytes), gpu.current_device)
        return ok, ptr

    def malloc_host(nbytes: int) -> tuple[Any, int]:
        buffer = ctypes.create_string_buffer(int(nbytes))
        ptr = ctypes.addressof(buffer)
        gpu.host_memory[ptr] = buffer
        gpu.record("cudaMallocHost", int(nbytes))
        return ok, ptr

    def release(pool: dict[int, Any], name: str) -> Callable[[int], tuple[Any]]:
        def free(ptr: int) -> tuple[Any]:
            if pool.pop(int(ptr), None) is None:
                return (err.cudaErrorInvalidValue,)
            gpu.record(name, int(ptr))
            return (ok,)
        return free

    def set_device(device: int) -> tuple[Any]:
        if not 0 <= int(device) < gpu.device_count:
            return (err.cudaErrorInvalidDevice,)
        gpu.set_current(int(device))
        gpu.record("cudaSetDevice", int(device))
        return (ok,)

    def properties(device: int) -> tuple[Any, Any]:
        if not 0 <= int(device) < gpu.device_count:
            return err.cudaErrorInvalidDevice, None
        props = types.SimpleNamespace(name=gpu.name.encode() + b"\0\0", major=gpu.compute_capability[0],
                                      minor=gpu.compute_capability[1])
        return ok, props

    def memcpy(dst: int, src: int, nbytes: int, kind: Any, stream: FakeStream) -> tuple[Any]:
        gpu.record("cudaMemcpyAsync", int(kind), int(nbytes))
        if gpu.streams.get(int(stream)) is not stream:
            return (err.cudaErrorInvalidResourceHandle,)
        # CUDA lets a copy go to a stream of another device (only kernels must match the current device)
        stream.run(lambda: ctypes.memmove(dst, src, nbytes))
        return (ok,)

    def create_stream() -> tuple[Any, FakeStream]:
        stream = FakeStream(gpu.current_device)
        gpu.streams[stream.handle] = stream
        gpu.record("cudaStreamCreate", stream.device)
        return ok, stream

    def destroy_stream(stream: FakeStream) -> tuple[Any]:
        gpu.record("cudaStreamDestroy")
        return (ok,) if gpu.streams.pop(int(stream), None) is not None else (err.cudaErrorInvalidResourceHandle,)

    def begin_capture(stream: FakeStream, mode: Any) -> tuple[Any]:
        gpu.record("cudaStreamBeginCapture")
        stream.capturing = []
        return (ok,)

    def end_capture(stream: FakeStream) -> tuple[Any, Any]:
        gpu.record("cudaStreamEndCapture")
        work, stream.capturing = stream.capturing or [], None
        return ok, ("graph", tuple(work))

    def launch(graph_exec: Any, stream: FakeStream) -> tuple[Any]:
        gpu.record("cudaGraphLaunch")
        gpu.graph_launches += 1
        for work in graph_exec[1]:
            work()
        return (ok,)

    def device_count() -> tuple[Any, int]:
        return err(gpu.device_error), gpu.device_count if not gpu.device_error else 0

    functions: dict[str, Callable[..., Any]] = {
        "cudaGetErrorString": lambda e: (ok, f"{SAYS} CUDA error {int(e)}".encode()),
        "cudaGetDeviceCount": device_count,
        "cudaSetDevice": set_device,
        "cudaGetDevice": lambda: (ok, gpu.current_device),
        "cudaGetDeviceProperties": properties,
        "cudaRuntimeGetVersion": lambda: (ok, 12080),
        "cudaDriverGetVersion": lambda: (ok, 12090),
        "cudaMalloc": malloc,
        "cudaFree": release(gpu.device_memory, "cudaFree"),
        "cudaMallocHost": malloc_host,
        "cudaFreeHost": release(gpu.host_memory, "cudaFreeHost"),
        "cudaStreamCreate": create_stream,
        "cudaStreamDestroy": destroy_stream,
        "cudaStreamSynchronize": lambda stream: (ok,),  # work ran when it was issued
        "cudaMemcpyAsync": memcpy,
        "cudaStreamBeginCapture": begin_capture,
        "cudaStreamEndCapture": end_capture,
        "cudaGraphInstantiate": lambda graph, flags: (ok, ("exec", graph[1])),
        "cudaGraphLaunch": launch,
        "cudaGraphExecDestroy": lambda graph_exec: (ok,),
        "cudaGraphDestroy": lambda graph: (ok,),
    }
    for name, function in functions.items():
        setattr(rt, name, function)
    return rt


# -- the engine: header + ONNX -------------------------------------------------------------------------------------

def pack_engine(header: dict[str, Any], onnx_bytes: bytes) -> bytes:
    head = json.dumps({**header, "onnx_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
                       "onnx_bytes": len(onnx_bytes)}, sort_keys=True).encode()
    return PLAN_MAGIC + struct.pack("<I", len(head)) + head + onnx_bytes


def unpack_engine(data: bytes) -> tuple[dict[str, Any], bytes]:
    """(header, ONNX bytes); ValueError saying what is wrong with foreign or truncated bytes."""
    if not data.startswith(PLAN_MAGIC):
        raise ValueError("not an engine of this stand-in (foreign bytes)")
    start = len(PLAN_MAGIC) + 4
    try:
        (size,) = struct.unpack("<I", data[len(PLAN_MAGIC):start])
        header = json.loads(data[start:start + size])
    except (struct.error, ValueError):
        raise ValueError("engine header unreadable (truncated?)") from None
    onnx_bytes = data[start + size:]
    if len(onnx_bytes) != header["onnx_bytes"] or hashlib.sha256(onnx_bytes).hexdigest() != header["onnx_sha256"]:
        raise ValueError("engine body does not match its header (truncated or altered)")
    return header, onnx_bytes


_ONNX_DTYPES = {1: "FLOAT", 10: "HALF"}  # TensorProto element type -> DataType name
_NUMPY = {"FLOAT": np.float32, "HALF": np.float16}


def _listing(model: Any) -> dict[str, Any]:
    """An inspector-like listing: each convolution/GEMM in the precision its graph declares (see the docstring)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    types_ = {v.name: v.type.tensor_type.elem_type for v in (*inferred.graph.value_info, *inferred.graph.input)}
    types_.update({t.name: t.data_type for t in inferred.graph.initializer})
    producers = {out: node.op_type for node in inferred.graph.node for out in node.output}
    words = {"int8": "Channel major INT8 format", "fp16": "Row major linear FP16 format",
             "fp32": "Row major linear FP32"}
    layers = []
    for node in inferred.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        first = node.input[0]
        precision = "int8" if producers.get(first) == "DequantizeLinear" else \
            "fp16" if types_.get(first) == 10 else "fp32"
        layers.append({"Name": node.name or node.output[0], "LayerType": "StandIn",
                       "ParameterType": "Convolution" if node.op_type == "Conv" else "Gemm",
                       "Inputs": [{"Name": first, "Format/Datatype": words[precision]}]})
    return {"Layers": layers, "Bindings": [model.graph.input[0].name, model.graph.output[0].name],
            "Note": f"{SAYS} precisions as the graph declares them, not TensorRT's choices"}


# -- tensorrt ----------------------------------------------------------------------------------------------------

@dataclass
class FakeTensorRTConfig:
    """Which TensorRT the stand-in is, and the error paths it cannot reach by itself."""

    version: str = "10.13.0.35"
    parse_errors: tuple[tuple[str, str, str], ...] = ()  # (node, description, code): parse_from_file fails
    build_returns_none: bool = False
    listing: dict[str, Any] | None = None  # replaces the inspector's JSON listing


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def make_fake_tensorrt(gpu: FakeGpu, config: FakeTensorRTConfig | None = None) -> types.ModuleType:
    cfg = config or FakeTensorRTConfig()
    major = int(cfg.version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__version__ = cfg.version
    trt.__stand_in__ = True  # for tests/tensorrt_target.py only: vgg_deploy never looks
    record = gpu.record

    class Severity(enum.IntEnum):
        INTERNAL_ERROR = 0
        ERROR = 1
        WARNING = 2
        INFO = 3
        VERBOSE = 4

    class ILogger:
        pass

    ILogger.Severity = Severity  # type: ignore[attr-defined]
    for member in Severity:
        setattr(ILogger, member.name, member)
    ILogger.__init__ = lambda self: None  # type: ignore[method-assign]
    ILogger.log = lambda self, severity, msg: None  # type: ignore[attr-defined]

    class Logger(ILogger):
        def __init__(self, min_severity: Any = Severity.WARNING) -> None:
            self.min_severity = min_severity

    def error(logger: Any, text: str) -> None:
        logger.log(Severity.ERROR, f"{SAYS} {text}")

    flags = [*(_V10_ONLY_FLAGS if major < 11 else ()), *_FLAGS]
    trt.BuilderFlag = enum.IntEnum("BuilderFlag", {name: i for i, name in enumerate(flags)})
    trt.NetworkDefinitionCreationFlag = enum.IntEnum(
        "NetworkDefinitionCreationFlag", {"STRONGLY_TYPED": 1, **({"EXPLICIT_BATCH": 0} if major < 11 else {})})
    trt.MemoryPoolType = enum.IntEnum("MemoryPoolType", {"WORKSPACE": 0, "TACTIC_SHARED_MEMORY": 2})
    levels = {"NONE": 0, "AMPERE_PLUS": 1}
    if _version_tuple(cfg.version)[:2] >= (10, 9):
        levels["SAME_COMPUTE_CAPABILITY"] = 2
    trt.HardwareCompatibilityLevel = enum.IntEnum("HardwareCompatibilityLevel", levels)
    trt.ProfilingVerbosity = enum.IntEnum("ProfilingVerbosity", {"LAYER_NAMES_ONLY": 0, "NONE": 1, "DETAILED": 2})
    trt.LayerInformationFormat = enum.IntEnum("LayerInformationFormat", {"ONELINE": 0, "JSON": 1})
    trt.TensorIOMode = enum.IntEnum("TensorIOMode", {"NONE": 0, "INPUT": 1, "OUTPUT": 2})
    trt.DataType = enum.IntEnum("DataType", {"FLOAT": 0, "HALF": 1, "INT8": 2, "INT32": 3})

    class Dims:
        def __init__(self, shape: Any = ()) -> None:
            self._dims = [int(v) for v in shape]

        def __len__(self) -> int:
            return len(self._dims)

        def __getitem__(self, index: int) -> int:
            return self._dims[index]

        def __eq__(self, other: object) -> bool:
            return list(self._dims) == list(other)  # type: ignore[call-overload]

        def __repr__(self) -> str:
            return f"Dims({self._dims})"

    @dataclass
    class ITensor:
        name: str
        shape: Dims
        dtype: str

    class INetworkDefinition:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.inputs: list[ITensor] = []
            self.outputs: list[ITensor] = []
            self.model: Any = None  # the parsed onnx.ModelProto

        @property
        def num_inputs(self) -> int:
            return len(self.inputs)

        @property
        def num_outputs(self) -> int:
            return len(self.outputs)

        def get_input(self, index: int) -> ITensor:
            return self.inputs[index]

        def get_output(self, index: int) -> ITensor:
            return self.outputs[index]

    class ParserError:
        def __init__(self, node: str, desc: str, code: str) -> None:
            self._node, self._desc, self._code = node, desc, code

        def node_name(self) -> str:
            return self._node

        def desc(self) -> str:
            return self._desc

        def code(self) -> str:
            return self._code

    def _tensor(value: Any) -> ITensor:
        tensor_type = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1 for d in tensor_type.shape.dim]
        return ITensor(value.name, Dims(dims), _ONNX_DTYPES.get(tensor_type.elem_type, f"ONNX{tensor_type.elem_type}"))

    class OnnxParser:
        def __init__(self, network: INetworkDefinition, logger: ILogger) -> None:
            self.network = network
            self.errors = [ParserError(*e) for e in cfg.parse_errors]

        def parse_from_file(self, model: str) -> bool:
            import onnx

            record("OnnxParser.parse_from_file", model)
            if self.errors:
                return False
            proto = onnx.load(model)  # with its external data, as TensorRT's parser reads it
            self.network.model = proto
            self.network.inputs = [_tensor(v) for v in proto.graph.input]
            self.network.outputs = [_tensor(v) for v in proto.graph.output]
            return True

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, index: int) -> ParserError:
            return self.errors[index]

    class IOptimizationProfile:
        def __init__(self) -> None:
            self.shapes: dict[str, tuple[Dims, Dims, Dims]] = {}

        def set_shape(self, input: str, min: Dims, opt: Dims, max: Dims) -> None:
            record("IOptimizationProfile.set_shape", input, list(min), list(opt), list(max))
            self.shapes[input] = (min, opt, max)

    class ITimingCache:
        def __init__(self, data: bytes) -> None:
            self.data = bytes(data)

        def serialize(self) -> bytes:
            return self.data + b"+timed"  # what a build adds to the cache

    class IProgressMonitor:
        def __init__(self) -> None:
            pass

    class IBuilderConfig:
        def __init__(self) -> None:
            self.flags = {trt.BuilderFlag.TF32}  # on by default, as in TensorRT
            self.pool_limits: dict[Any, int] = {}
            self.profiles: list[IOptimizationProfile] = []
            self.builder_optimization_level = 3
            self.profiling_verbosity = trt.ProfilingVerbosity.LAYER_NAMES_ONLY
            self.hardware_compatibility_level = trt.HardwareCompatibilityLevel.NONE
            self.progress_monitor: IProgressMonitor | None = None
            self.timing_cache: ITimingCache | None = None

        def set_memory_pool_limit(self, pool: Any, pool_size: int) -> None:
            if not isinstance(pool_size, int):
                raise TypeError("set_memory_pool_limit(): incompatible function arguments")
            self.pool_limits[pool] = pool_size

        def set_flag(self, flag: Any) -> None:
            record("IBuilderConfig.set_flag", flag.name)
            self.flags.add(flag)

        def clear_flag(self, flag: Any) -> None:
            record("IBuilderConfig.clear_flag", flag.name)
            self.flags.discard(flag)

        def get_flag(self, flag: Any) -> bool:
            return flag in self.flags

        def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def create_timing_cache(self, serialized_timing_cache: bytes) -> ITimingCache:
            return ITimingCache(serialized_timing_cache)

        def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
            record("IBuilderConfig.set_timing_cache", cache.data, ignore_mismatch)
            if cache.data.startswith(b"OTHER-GPU"):
                return False
            self.timing_cache = cache
            return True

        def get_timing_cache(self) -> ITimingCache:
            return self.timing_cache or ITimingCache(b"")

    class Builder:
        def __init__(self, logger: ILogger) -> None:
            self.logger = logger
            record("Builder.__init__")

        def create_network(self, flags: int = 0) -> INetworkDefinition:
            record("Builder.create_network", flags)
            return INetworkDefinition(flags)

        def create_builder_config(self) -> IBuilderConfig:
            return IBuilderConfig()

        def create_optimization_profile(self) -> IOptimizationProfile:
            return IOptimizationProfile()

        def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> bytes | None:
            record("Builder.build_serialized_network", config)
            monitor = config.progress_monitor
            if monitor is not None:
                monitor.phase_start("Building engine", None, 2)  # type: ignore[attr-defined]
                monitor.phase_start("Tactic selection", "Building engine", 3)  # type: ignore[attr-defined]
                monitor.step_complete("Tactic selection", 0)  # type: ignore[attr-defined]
                monitor.phase_finish("Tactic selection")  # type: ignore[attr-defined]
                monitor.phase_finish("Building engine")  # type: ignore[attr-defined]
            if cfg.build_returns_none:
                error(self.logger, "out of memory while building")
                return None
            tensor, output = network.get_input(0), network.get_output(0)
            dims = list(tensor.shape)
            if dims[0] > 0:
                profile = [dims, dims, dims]
            elif config.profiles and tensor.name in config.profiles[0].shapes:
                profile = [list(d) for d in config.profiles[0].shapes[tensor.name]]
            else:
                error(self.logger, f"input {tensor.name!r} has a dynamic batch but no optimization profile")
                return None
            header = {
                "tensorrt_version": cfg.version, "gpu_name": gpu.name,
                "compute_capability": list(gpu.compute_capability), "built_on_device": gpu.current_device,
                "input": tensor.name, "output": output.name, "input_shape": dims, "output_shape": list(output.shape),
                "input_dtype": tensor.dtype, "output_dtype": output.dtype, "profile": profile,
                "flags": sorted(f.name for f in config.flags),
                "hardware_compatibility_level": trt.HardwareCompatibilityLevel(config.hardware_compatibility_level).name,
                "optimization_level": config.builder_optimization_level,
                "listing": cfg.listing or _listing(network.model),
                "device_memory_bytes": sum(t.ByteSize() for t in network.model.graph.initializer) or 1,
            }
            return pack_engine(header, network.model.SerializeToString())

    class EngineInspector:
        def __init__(self, engine: ICudaEngine) -> None:
            self.engine = engine

        def get_engine_information(self, format: Any) -> str:
            return json.dumps(self.engine.header["listing"])

    class IExecutionContext:
        def __init__(self, engine: ICudaEngine) -> None:
            self.engine = engine
            self.shape: list[int] | None = None
            self.addresses: dict[str, int] = {}

        def set_input_shape(self, name: str, shape: Any) -> bool:
            record("IExecutionContext.set_input_shape", name, tuple(shape))
            header, shape = self.engine.header, [int(v) for v in shape]
            low, high = header["profile"][0], header["profile"][2]
            fits = len(shape) == len(low) and all(a <= s <= b for a, s, b in zip(low, shape, high))
            if name != header["input"] or not fits:
                error(self.engine.logger, f"input shape {shape} of {name!r} is outside the stored profile "
                                          f"{low} .. {high}")
                return False
            self.shape = shape
            return True

        def get_tensor_shape(self, name: str) -> Dims:
            assert self.shape is not None, "set_input_shape first"
            if name == self.engine.header["output"]:
                return Dims([self.shape[0], *self.engine.header["output_shape"][1:]])
            return Dims(self.shape)

        def set_tensor_address(self, name: str, memory: int) -> bool:
            record("IExecutionContext.set_tensor_address", name, memory)
            self.addresses[name] = int(memory)
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            record("IExecutionContext.execute_async_v3", stream_handle)
            if not isinstance(stream_handle, int):
                raise TypeError("execute_async_v3(): incompatible function arguments")
            header, logger, device = self.engine.header, self.engine.logger, self.engine.device
            stream = gpu.streams.get(stream_handle)
            if stream is None or self.shape is None:
                error(logger, "unknown stream, or no input shape set")
                return False
            if gpu.current_device != device or stream.device != device:
                error(logger, f"kernel issued with device {gpu.current_device} current (stream of device "
                              f"{stream.device}); the engine was deserialized on device {device}")
                return False
            shape = tuple(self.shape)
            out_shape = (shape[0], *header["output_shape"][1:])
            in_type, out_type = _NUMPY[header["input_dtype"]], _NUMPY[header["output_dtype"]]
            in_bytes = int(np.prod(shape)) * np.dtype(in_type).itemsize
            out_bytes = int(np.prod(out_shape)) * np.dtype(out_type).itemsize
            src, dst = self.addresses.get(header["input"]), self.addresses.get(header["output"])
            if src is None or dst is None or gpu.device_of(src, in_bytes) != device \
                    or gpu.device_of(dst, out_bytes) != device:
                error(logger, f"tensor addresses unset, too small, or not device memory of device {device}")
                return False
            session = self.engine.session()

            def work() -> None:
                raw = (ctypes.c_byte * in_bytes).from_address(src)
                images = np.frombuffer(raw, in_type).reshape(shape)
                out = np.ascontiguousarray(session.run(None, {header["input"]: images})[0], dtype=out_type)
                ctypes.memmove(dst, out.ctypes.data, out.nbytes)
                gpu.executed_on.append(device)

            stream.run(work)
            return True

    class ICudaEngine:
        def __init__(self, header: dict[str, Any], onnx_bytes: bytes, logger: Any) -> None:
            self.header = header
            self.onnx_bytes = onnx_bytes
            self.logger = logger
            self.device = gpu.current_device
            self.device_memory_size_v2 = header["device_memory_bytes"]
            if major < 11:
                self.device_memory_size = header["device_memory_bytes"]
            self._session: Any = None
            self._lock = threading.Lock()

        def session(self) -> Any:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort

                    options = ort.SessionOptions()
                    options.log_severity_level = 3
                    options.intra_op_num_threads = 1  # tiny test models; several workers share two cores
                    self._session = ort.InferenceSession(self.onnx_bytes, options,
                                                         providers=["CPUExecutionProvider"])
                return self._session

        @property
        def num_io_tensors(self) -> int:
            return 2

        def get_tensor_name(self, index: int) -> str:
            return (self.header["input"], self.header["output"])[index]

        def get_tensor_mode(self, name: str) -> Any:
            return trt.TensorIOMode.INPUT if name == self.header["input"] else trt.TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name: str) -> Any:
            key = "input_dtype" if name == self.header["input"] else "output_dtype"
            return getattr(trt.DataType, self.header[key])

        def get_tensor_shape(self, name: str) -> Dims:
            return Dims(self.header["input_shape" if name == self.header["input"] else "output_shape"])

        def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[Dims]:
            return [Dims(d) for d in self.header["profile"]]

        def create_execution_context(self) -> IExecutionContext:
            record("ICudaEngine.create_execution_context")
            return IExecutionContext(self)

        def create_engine_inspector(self) -> EngineInspector:
            return EngineInspector(self)

    class Runtime:
        def __init__(self, logger: ILogger, *, lean: bool = False) -> None:
            self.logger = logger
            self.lean = lean  # a lean runtime loaded by load_runtime: runs version-compatible engines of its version
            self.engine_host_code_allowed = False
            record("Runtime.__init__")

        def deserialize_cuda_engine(self, serialized_engine: Any) -> ICudaEngine | None:
            data = bytes(serialized_engine)
            record("Runtime.deserialize_cuda_engine", len(data), self.engine_host_code_allowed)
            try:
                header, onnx_bytes = unpack_engine(data)
            except ValueError as exc:
                error(self.logger, str(exc))
                return None
            refusal = self._refusal(header)
            if refusal is not None:
                error(self.logger, refusal)
                return None
            return ICudaEngine(header, onnx_bytes, self.logger)

        def _refusal(self, header: dict[str, Any]) -> str | None:
            """Only exact mismatches of what the header stores."""
            flags = set(header["flags"])
            compatible = "VERSION_COMPATIBLE" in flags
            if compatible and "EXCLUDE_LEAN_RUNTIME" not in flags and not self.engine_host_code_allowed:
                return "engine carries its lean runtime (host code) but engine_host_code_allowed is False"
            built, here = header["tensorrt_version"], cfg.version
            if built != here:
                if not compatible:
                    return f"engine of TensorRT {built}, this stand-in is TensorRT {here}"
                if _version_tuple(here) < _version_tuple(built):
                    return f"version-compatible engine of TensorRT {built} on an older TensorRT {here}"
                if "EXCLUDE_LEAN_RUNTIME" in flags and not self.lean:
                    return f"version-compatible engine of TensorRT {built} without its lean runtime: load_runtime it"
            cc = list(gpu.compute_capability)
            if header["compute_capability"] != cc:
                level = header["hardware_compatibility_level"]
                if not (level == "AMPERE_PLUS" and tuple(cc) >= (8, 0)):
                    return f"engine of compute capability {header['compute_capability']}, this device has {cc}"
            return None

        def load_runtime(self, path: str) -> Runtime:
            record("Runtime.load_runtime", path)
            return Runtime(self.logger, lean=True)

    for cls in (ILogger, Logger, Dims, ITensor, INetworkDefinition, ParserError, OnnxParser, IOptimizationProfile,
                ITimingCache, IProgressMonitor, IBuilderConfig, Builder, EngineInspector, IExecutionContext,
                ICudaEngine, Runtime):
        setattr(trt, cls.__name__, cls)
    return trt


# -- installing it -------------------------------------------------------------------------------------------------

def _modules(gpu: FakeGpu, config: FakeTensorRTConfig | None) -> dict[str, types.ModuleType]:
    rt = make_fake_cudart(gpu)
    cuda, bindings = types.ModuleType("cuda"), types.ModuleType("cuda.bindings")
    cuda.__path__, bindings.__path__ = [], []  # packages, so `from cuda.bindings import runtime` resolves
    bindings.runtime = rt  # type: ignore[attr-defined]
    cuda.bindings = bindings  # type: ignore[attr-defined]
    modules = {"cuda": cuda, "cuda.bindings": bindings, "cuda.bindings.runtime": rt,
               "tensorrt": make_fake_tensorrt(gpu, config)}
    for name, module in modules.items():  # importlib.util.find_spec (torch.export calls it) needs a spec
        module.__spec__ = importlib.machinery.ModuleSpec(name, None, origin=__file__,
                                                         is_package=name in ("cuda", "cuda.bindings"))
    return modules


def install_fakes(monkeypatch: Any, *, gpu: FakeGpu | None = None,
                  config: FakeTensorRTConfig | None = None, with_tensorrt: bool = True) -> FakeGpu:
    """Put the stand-in's `tensorrt` and `cuda.bindings.runtime` into sys.modules for one test; returns its state."""
    gpu = gpu or FakeGpu()
    for name, module in _modules(gpu, config).items():
        monkeypatch.setitem(sys.modules, name, module)
    if not with_tensorrt:
        monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` raises ImportError
    return gpu


def environment_value(gpu: FakeGpu, config: FakeTensorRTConfig | None = None) -> str:
    """The VGG_DEPLOY_TRT_STANDIN value that makes a subprocess's stand-in the same GPU and TensorRT."""
    return json.dumps({"name": gpu.name, "compute_capability": list(gpu.compute_capability),
                       "device_count": gpu.device_count, "version": (config or FakeTensorRTConfig()).version})


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the stand-in's modules when (and only when) something imports them."""

    def __init__(self, modules: dict[str, types.ModuleType]) -> None:
        self.modules = modules

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.modules:
            return None
        return importlib.util.spec_from_loader(name, self, is_package=name in ("cuda", "cuda.bindings"))

    def create_module(self, spec: Any) -> types.ModuleType:
        return self.modules[spec.name]

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install_from_environment() -> None:
    """For tests/standin/sitecustomize.py: the stand-in described by VGG_DEPLOY_TRT_STANDIN, imported lazily."""
    facts = json.loads(os.environ[ENV])
    gpu = FakeGpu(name=facts["name"], compute_capability=tuple(facts["compute_capability"]),
                  device_count=facts["device_count"])
    sys.meta_path.insert(0, _Finder(_modules(gpu, FakeTensorRTConfig(version=facts["version"]))))
