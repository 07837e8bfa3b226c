"""A recording fake of the `tensorrt` module and of cuda-python's runtime, for tests on machines without them.

IT PROVES NOTHING ABOUT TENSORRT OR CUDA. It mimics the names and signatures of the TensorRT 10.13 Python API
(as published in tensorrt-stubs) and of `cuda.bindings.runtime`, so that vgg_deploy.trt's own control flow and
error handling can run on a CPU: which calls are made in which order, with which arguments; what happens when
parsing fails, a build returns None or an engine does not deserialize; that no API removed in 11.x is touched
on the 11.x path; that buffers are bound, copied and freed. Whether TensorRT accepts those calls, builds a correct
engine or runs it fast is only shown by the tests that need a real TensorRT and GPU (tests/test_trt_gpu.py).

"Device" memory here is ordinary host memory (ctypes buffers), so copies and the fake engine's arithmetic are
real and checkable; a "CUDA graph" records the work issued to a capturing stream and replays it.
"""

from __future__ import annotations

import ctypes
import enum
import json
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

_V10_ONLY_FLAGS = ("FP16", "INT8", "BF16", "FP8", "INT4", "FP4", "OBEY_PRECISION_CONSTRAINTS",
                   "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO")
_FLAGS = ("DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32", "SPARSE_WEIGHTS", "SAFETY_SCOPE",
          "REJECT_EMPTY_ALGORITHMS", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "ERROR_ON_TIMING_CACHE_MISS",
          "STRICT_NANS")
PLAN_MAGIC = b"FAKEPLAN"


def fake_logits(images: np.ndarray, num_classes: int) -> np.ndarray:
    """What the fake engine computes: per-image mean times (class + 1), plus a class offset."""
    means = images.reshape(len(images), -1).astype(np.float64).mean(axis=1, keepdims=True)
    return (means * np.arange(1, num_classes + 1) + 0.01 * np.arange(num_classes)).astype(np.float32)


@dataclass
class FakeGpu:
    """State shared by the fake TensorRT and the fake cudart: allocations, streams, and a call log."""

    name: str = "NVIDIA Fake GPU"
    compute_capability: tuple[int, int] = (8, 9)
    device_count: int = 1
    device_error: int = 0  # e.g. 35 (cudaErrorInsufficientDriver): no driver
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    device_memory: dict[int, Any] = field(default_factory=dict)
    host_memory: dict[int, Any] = field(default_factory=dict)
    streams: dict[int, "FakeStream"] = field(default_factory=dict)
    graph_launches: int = 0

    def record(self, *call: Any) -> None:
        self.calls.append(call)

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


class FakeStream:
    _next = 0x5000

    def __init__(self) -> None:
        FakeStream._next += 1
        self.handle = FakeStream._next
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
    err = enum.IntEnum("cudaError_t", {"cudaSuccess": 0, "cudaErrorMemoryAllocation": 2,
                                       "cudaErrorInvalidValue": 1, "cudaErrorInsufficientDriver": 35})
    ok = err.cudaSuccess
    rt.cudaError_t = err
    rt.cudaMemcpyKind = enum.IntEnum("cudaMemcpyKind", {"cudaMemcpyHostToDevice": 1, "cudaMemcpyDeviceToHost": 2})
    rt.cudaStreamCaptureMode = enum.IntEnum("cudaStreamCaptureMode", {"cudaStreamCaptureModeGlobal": 0})

    def alloc(pool: dict[int, Any], name: str) -> Callable[[int], tuple[Any, int]]:
        def malloc(nbytes: int) -> tuple[Any, int]:
            buffer = ctypes.create_string_buffer(int(nbytes))
            ptr = ctypes.addressof(buffer)
            pool[ptr] = buffer
            gpu.record(name, int(nbytes))
            return ok, ptr
        return malloc

    def release(pool: dict[int, Any], name: str) -> Callable[[int], tuple[Any]]:
        def free(ptr: int) -> tuple[Any]:
            if pool.pop(int(ptr), None) is None:
                return (err.cudaErrorInvalidValue,)
            gpu.record(name, int(ptr))
            return (ok,)
        return free

    class Props:
        name = gpu.name.encode() + b"\0\0"
        major, minor = gpu.compute_capability

    def memcpy(dst: int, src: int, nbytes: int, kind: Any, stream: FakeStream) -> tuple[Any]:
        gpu.record("cudaMemcpyAsync", int(kind), int(nbytes))
        stream.run(lambda: ctypes.memmove(dst, src, nbytes))
        return (ok,)

    def create_stream() -> tuple[Any, FakeStream]:
        stream = FakeStream()
        gpu.streams[stream.handle] = stream
        gpu.record("cudaStreamCreate")
        return ok, stream

    def destroy_stream(stream: FakeStream) -> tuple[Any]:
        gpu.record("cudaStreamDestroy")
        return (ok,) if gpu.streams.pop(int(stream), None) is not None else (err.cudaErrorInvalidValue,)

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

    functions: dict[str, Callable[..., Any]] = {
        "cudaGetErrorString": lambda e: (ok, f"fake error {int(e)}".encode()),
        "cudaGetDeviceCount": lambda: (err(gpu.device_error), gpu.device_count if not gpu.device_error else 0),
        "cudaSetDevice": lambda device: (ok,),
        "cudaGetDeviceProperties": lambda device: (ok, Props()),
        "cudaRuntimeGetVersion": lambda: (ok, 12080),
        "cudaDriverGetVersion": lambda: (ok, 12090),
        "cudaMalloc": alloc(gpu.device_memory, "cudaMalloc"),
        "cudaFree": release(gpu.device_memory, "cudaFree"),
        "cudaMallocHost": alloc(gpu.host_memory, "cudaMallocHost"),
        "cudaFreeHost": release(gpu.host_memory, "cudaFreeHost"),
        "cudaStreamCreate": create_stream,
        "cudaStreamDestroy": destroy_stream,
        "cudaStreamSynchronize": lambda stream: (ok,),
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


# -- tensorrt ----------------------------------------------------------------------------------------------------

@dataclass
class FakeTensorRTConfig:
    """How the fake TensorRT behaves."""

    version: str = "10.13.0.35"
    parse_errors: tuple[tuple[str, str, str], ...] = ()  # (node, description, code): parse_from_file fails
    build_returns_none: bool = False
    listing: dict[str, Any] | None = None  # the inspector's JSON listing
    num_classes: int = 10


def make_fake_tensorrt(gpu: FakeGpu, config: FakeTensorRTConfig | None = None) -> types.ModuleType:
    cfg = config or FakeTensorRTConfig()
    major = int(cfg.version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__version__ = cfg.version
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

    def _ilogger_init(self: Any) -> None:
        record("ILogger.__init__")

    ILogger.__init__ = _ilogger_init  # type: ignore[method-assign]
    ILogger.log = lambda self, severity, msg: None  # type: ignore[attr-defined]

    class Logger(ILogger):
        def __init__(self, min_severity: Any = Severity.WARNING) -> None:
            self.min_severity = min_severity

    flags = [*(_V10_ONLY_FLAGS if major < 11 else ()), *_FLAGS]
    trt.BuilderFlag = enum.IntEnum("BuilderFlag", {name: i for i, name in enumerate(flags)})
    trt.NetworkDefinitionCreationFlag = enum.IntEnum(
        "NetworkDefinitionCreationFlag", {"STRONGLY_TYPED": 1, **({"EXPLICIT_BATCH": 0} if major < 11 else {})})
    trt.MemoryPoolType = enum.IntEnum("MemoryPoolType", {"WORKSPACE": 0, "TACTIC_SHARED_MEMORY": 2})
    levels = {"NONE": 0, "AMPERE_PLUS": 1}
    if tuple(int(v) for v in cfg.version.split(".")[:2]) >= (10, 9):
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

    class INetworkDefinition:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.inputs: list[ITensor] = []
            self.outputs: list[ITensor] = []

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

    class OnnxParser:
        def __init__(self, network: INetworkDefinition, logger: ILogger) -> None:
            self.network = network
            self.errors = [ParserError(*e) for e in cfg.parse_errors]

        def parse_from_file(self, model: str) -> bool:
            import onnx

            record("OnnxParser.parse_from_file", model)
            if self.errors:
                return False
            graph = onnx.load(model, load_external_data=False).graph
            dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1
                    for d in graph.input[0].type.tensor_type.shape.dim]
            self.network.inputs.append(ITensor(graph.input[0].name, Dims(dims)))
            self.network.outputs.append(ITensor(graph.output[0].name, Dims([dims[0], cfg.num_classes])))
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
            record("IProgressMonitor.__init__")

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
                self.logger.log(Severity.ERROR, "[fake] out of memory while building")  # type: ignore[attr-defined]
                return None
            tensor = network.get_input(0)
            dims = list(tensor.shape)
            profile = config.profiles[0].shapes[tensor.name] if config.profiles else (dims, dims, dims)
            facts = {"input": tensor.name, "output": network.get_output(0).name, "chw": dims[1:],
                     "profile": [list(p)[0] for p in profile], "fixed": dims[0] if dims[0] > 0 else None}
            return PLAN_MAGIC + json.dumps(facts).encode()

    class EngineInspector:
        def get_engine_information(self, format: Any) -> str:
            return json.dumps(cfg.listing or {"Layers": ["conv1", "fc"], "Bindings": ["input", "logits"]})

    class IExecutionContext:
        def __init__(self, engine: ICudaEngine) -> None:
            self.engine = engine
            self.shape: list[int] | None = None
            self.addresses: dict[str, int] = {}

        def set_input_shape(self, name: str, shape: Any) -> bool:
            record("IExecutionContext.set_input_shape", name, tuple(shape))
            low, high = self.engine.facts["profile"][0], self.engine.facts["profile"][2]
            if name != self.engine.facts["input"] or not low <= shape[0] <= high:
                return False
            self.shape = list(shape)
            return True

        def get_tensor_shape(self, name: str) -> Dims:
            assert self.shape is not None
            return Dims([self.shape[0], cfg.num_classes] if name == self.engine.facts["output"] else self.shape)

        def set_tensor_address(self, name: str, memory: int) -> bool:
            record("IExecutionContext.set_tensor_address", name, memory)
            self.addresses[name] = memory
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            record("IExecutionContext.execute_async_v3", stream_handle)
            if not isinstance(stream_handle, int):
                raise TypeError("execute_async_v3(): incompatible function arguments")
            stream = gpu.streams[stream_handle]
            assert self.shape is not None
            shape, facts = tuple(self.shape), self.engine.facts
            src, dst = self.addresses[facts["input"]], self.addresses[facts["output"]]

            def work() -> None:
                count = int(np.prod(shape))
                images = np.frombuffer((ctypes.c_float * count).from_address(src), np.float32).reshape(shape)
                out = fake_logits(images, cfg.num_classes)
                ctypes.memmove(dst, out.ctypes.data, out.nbytes)

            stream.run(work)
            return True

    class ICudaEngine:
        def __init__(self, facts: dict[str, Any]) -> None:
            self.facts = facts
            self.device_memory_size_v2 = 1 << 20
            if major < 11:
                self.device_memory_size = 1 << 20

        @property
        def num_io_tensors(self) -> int:
            return 2

        def get_tensor_name(self, index: int) -> str:
            return (self.facts["input"], self.facts["output"])[index]

        def get_tensor_mode(self, name: str) -> Any:
            return trt.TensorIOMode.INPUT if name == self.facts["input"] else trt.TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name: str) -> Any:
            return trt.DataType.FLOAT

        def get_tensor_shape(self, name: str) -> Dims:
            batch = self.facts["fixed"] or -1
            return Dims([batch, *self.facts["chw"]] if name == self.facts["input"] else [batch, cfg.num_classes])

        def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[Dims]:
            return [Dims([b, *self.facts["chw"]]) for b in self.facts["profile"]]

        def create_execution_context(self) -> IExecutionContext:
            record("ICudaEngine.create_execution_context")
            return IExecutionContext(self)

        def create_engine_inspector(self) -> EngineInspector:
            return EngineInspector()

    class Runtime:
        def __init__(self, logger: ILogger) -> None:
            self.logger = logger
            self.engine_host_code_allowed = False
            record("Runtime.__init__")

        def deserialize_cuda_engine(self, serialized_engine: Any) -> ICudaEngine | None:
            data = bytes(serialized_engine)
            record("Runtime.deserialize_cuda_engine", len(data), self.engine_host_code_allowed)
            if not data.startswith(PLAN_MAGIC):
                self.logger.log(Severity.ERROR, "[fake] IRuntime::deserializeCudaEngine: Error Code 1: "  # type: ignore[attr-defined]
                                "Serialization (magic tag does not match)")
                return None
            return ICudaEngine(json.loads(data[len(PLAN_MAGIC):]))

        def load_runtime(self, path: str) -> Runtime:
            record("Runtime.load_runtime", path)
            return Runtime(self.logger)

    for cls in (ILogger, Logger, Dims, ITensor, INetworkDefinition, ParserError, OnnxParser, IOptimizationProfile,
                ITimingCache, IProgressMonitor, IBuilderConfig, Builder, EngineInspector, IExecutionContext,
                ICudaEngine, Runtime):
        setattr(trt, cls.__name__, cls)
    return trt


def install_fakes(monkeypatch: Any, *, gpu: FakeGpu | None = None,
                  config: FakeTensorRTConfig | None = None, with_tensorrt: bool = True) -> FakeGpu:
    """Put the fake `tensorrt` and `cuda.bindings.runtime` into sys.modules for one test; returns the shared state."""
    gpu = gpu or FakeGpu()
    rt = make_fake_cudart(gpu)
    cuda, bindings = types.ModuleType("cuda"), types.ModuleType("cuda.bindings")
    bindings.runtime = rt  # type: ignore[attr-defined]
    cuda.bindings = bindings  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cuda", cuda)
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", rt)
    if with_tensorrt:
        monkeypatch.setitem(sys.modules, "tensorrt", make_fake_tensorrt(gpu, config))
    else:
        monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` raises ImportError
    return gpu
