"""TensorRTRunner: a TensorRT engine behind the runner interface, on cuda-python (no torch, no pycuda).

Activation checks the engine's manifest against this GPU and TensorRT (and the file against its recorded size
and sha256) before TensorRT deserializes anything; then it follows the Python API's run flow: Runtime ->
deserialize_cuda_engine -> create_execution_context -> set_input_shape / set_tensor_address -> execute_async_v3.
Any batch within the engine's profile runs; `cuda_graphs=True` captures one CUDA graph per batch size (copies
included) and replays it, as TensorRT's "CUDA Graphs" section describes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..runtime.base import BaseRunner, RunnerError, TimedCall
from .compat import Compatibility, Platform, rebuild_command, require_compatible
from .cuda_memory import (
    CudaGraph, DeviceBuffer, PinnedBuffer, Stream, copy_to_device, copy_to_host, require_gpu, use_device,
)
from .environment import ensure_tensorrt, make_logger
from .errors import EngineCompatibilityError, ManifestError
from .manifest import EngineManifest, manifest_path, read_manifest

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = ["TensorRTRunner"]


@dataclass(frozen=True)
class _Buffers:
    """Pinned host and device memory for one input and one output."""

    host_in: PinnedBuffer
    dev_in: DeviceBuffer
    host_out: PinnedBuffer
    dev_out: DeviceBuffer

    @classmethod
    def allocate(cls, in_bytes: int, out_bytes: int) -> _Buffers:
        made: list[PinnedBuffer | DeviceBuffer] = []
        try:
            for kind, size in ((PinnedBuffer, in_bytes), (DeviceBuffer, in_bytes), (PinnedBuffer, out_bytes),
                               (DeviceBuffer, out_bytes)):
                made.append(kind(size))
        except BaseException:
            for buffer in made:
                buffer.free()
            raise
        return cls(*made)  # type: ignore[arg-type]  # the order above matches the fields

    def free(self) -> None:
        for buffer in (self.host_in, self.dev_in, self.host_out, self.dev_out):
            buffer.free()


class TensorRTRunner(BaseRunner):
    """A `.plan`/`.engine` file built by `vgg-deploy build-trt`.

    cuda_graphs: capture and replay one CUDA graph per batch size (lower launch overhead for small batches).
    lean_runtime: path of the lean runtime library (libnvinfer_lean) of the TensorRT that built a version-compatible
        engine whose plan excludes it, to run it on a later TensorRT.
    require_manifest: False runs an engine without `X.plan.json` (e.g. from trtexec): nothing is checked before
        TensorRT deserializes it, and predict() has no preprocessing facts. Only for engines you trust.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        cuda_graphs: bool = False,
        device: int = 0,
        lean_runtime: str | os.PathLike[str] | None = None,
        require_manifest: bool = True,
    ) -> None:
        self.path = Path(path)
        self.cuda_graphs = cuda_graphs
        self.device = device
        self.lean_runtime = None if lean_runtime is None else Path(lean_runtime)
        self.require_manifest = require_manifest
        self.manifest: EngineManifest | None = None
        self.compatibility: Compatibility | None = None  # the manifest check's decision, with its warnings
        self.precision: str | None = None
        self._messages: list[tuple[str, str]] = []
        self._logger: trt.ILogger | None = None  # kept as long as the runtime: TensorRT calls it
        self._runtimes: tuple[trt.Runtime, ...] = ()  # the full runtime, and the lean one it loaded (if any)
        self._engine: trt.ICudaEngine | None = None
        self._context: trt.IExecutionContext | None = None
        self._stream: Stream | None = None
        self._buffers: _Buffers | None = None  # grown to the largest batch seen
        self._graphs: dict[int, CudaGraph] = {}
        self._io: tuple[str, str, np.dtype[Any], np.dtype[Any]] | None = None  # input, output names and dtypes
        self._prefix = "trt-graphs" if cuda_graphs else "trt"
        super().__init__(self._prefix)

    # -- activation ------------------------------------------------------------------------------------------
    def _activate_impl(self) -> None:
        self._messages.clear()
        if not self.path.is_file():
            raise RunnerError(f"{self.path}: no such engine file")
        manifest = read_manifest(self.path) if self.require_manifest or manifest_path(self.path).is_file() else None
        version = ensure_tensorrt()
        gpu = require_gpu(self.device)
        here = Platform(tensorrt_version=version, gpu_name=gpu.name, compute_capability=gpu.compute_capability,
                        cuda_version=gpu.cuda_version, driver_version=gpu.driver_version)
        decision = require_compatible(manifest, here, plan=self.path) if manifest is not None else None
        data = self._read_plan(manifest)
        try:
            self._load(data, manifest, decision)
        except BaseException:
            self._release()
            raise
        self.manifest, self.compatibility = manifest, decision

    def _read_plan(self, manifest: EngineManifest | None) -> bytes:
        """The plan's bytes, after checking them against the manifest: a truncated or swapped file never reaches
        TensorRT's deserializer."""
        if manifest is not None and self.path.stat().st_size != manifest.engine_size_bytes:
            raise ManifestError(f"{self.path}: {self.path.stat().st_size} bytes, but its manifest records "
                                f"{manifest.engine_size_bytes}: the file is truncated or was replaced; rebuild it: "
                                f"{rebuild_command(manifest, self.path)}")
        data = self.path.read_bytes()
        if not data:
            raise RunnerError(f"{self.path}: the engine file is empty; rebuild it with vgg-deploy build-trt")
        if manifest is not None and hashlib.sha256(data).hexdigest() != manifest.engine_sha256:
            raise ManifestError(f"{self.path}: its sha256 differs from the one in its manifest: the file was replaced "
                                f"or corrupted; rebuild it: {rebuild_command(manifest, self.path)}")
        return data

    def _load(self, data: bytes, manifest: EngineManifest | None, decision: Compatibility | None) -> None:
        import tensorrt as trt

        self._logger = logger = make_logger(self._messages)
        runtime = trt.Runtime(logger)
        self._runtimes = (runtime,)
        if decision is not None and decision.other_version and manifest is not None:
            if self.lean_runtime is not None:
                runtime = runtime.load_runtime(str(self.lean_runtime))  # lives no longer than its loader: keep both
                self._runtimes += (runtime,)
            elif not manifest.lean_runtime_embedded:
                raise EngineCompatibilityError(
                    f"{self.path} is a version-compatible engine of TensorRT {manifest.tensorrt_version} built without "
                    f"its lean runtime: pass lean_runtime='.../libnvinfer_lean.so' of TensorRT "
                    f"{manifest.tensorrt_version}, or rebuild it here: {rebuild_command(manifest, self.path)}"
                )
        if manifest is not None and manifest.lean_runtime_embedded:
            runtime.engine_host_code_allowed = True  # its manifest and sha256 were checked: the plan is ours
        engine = runtime.deserialize_cuda_engine(data)
        if engine is None:
            errors = [msg for label, msg in self._messages if label != "warning"] or ["no reason given"]
            hint = f"rebuild it: {rebuild_command(manifest, self.path)}" if manifest is not None else \
                "the file may be truncated, or built for another GPU or TensorRT; rebuild it with vgg-deploy build-trt"
            raise RunnerError(f"{self.path}: TensorRT could not load the engine ({' | '.join(errors[-2:])}); {hint}")
        self._engine = engine
        self._read_io(engine, manifest)
        context = engine.create_execution_context()
        if context is None:
            raise RunnerError(f"{self.path}: TensorRT could not create an execution context (out of GPU memory?)")
        self._context = context
        self._stream = Stream()

    def _read_io(self, engine: trt.ICudaEngine, manifest: EngineManifest | None) -> None:
        import tensorrt as trt

        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or not outputs:
            raise RunnerError(f"{self.path}: expected one input and an output, the engine has {inputs} and {outputs}")
        dtypes: dict[trt.DataType, np.dtype[Any]] = {trt.DataType.FLOAT: np.dtype(np.float32),
                                                     trt.DataType.HALF: np.dtype(np.float16)}
        in_dtype = dtypes.get(engine.get_tensor_dtype(inputs[0]))
        out_dtype = dtypes.get(engine.get_tensor_dtype(outputs[0]))
        if in_dtype is None or out_dtype is None:
            raise RunnerError(f"{self.path}: input/output must be float32 or float16, the engine has "
                              f"{engine.get_tensor_dtype(inputs[0])} / {engine.get_tensor_dtype(outputs[0])}")
        shape = engine.get_tensor_shape(inputs[0])
        dims = [shape[i] for i in range(len(shape))]
        if len(dims) != 4 or min(dims[1:]) < 1:
            raise RunnerError(f"{self.path}: input {inputs[0]!r} is not (N, C, H, W) with fixed C, H, W: {dims}")
        if dims[0] > 0:
            low = high = dims[0]
        else:
            low_dims, _, high_dims = engine.get_tensor_profile_shape(inputs[0], 0)
            low, high = low_dims[0], high_dims[0]
        self._io = (inputs[0], outputs[0], in_dtype, out_dtype)
        out_dims = engine.get_tensor_shape(outputs[0])
        self._classes = int(out_dims[len(out_dims) - 1]) if len(out_dims) else None
        self._input_shape = (dims[1], dims[2], dims[3])
        self._batch_range = (low, high)
        if manifest is not None and "architecture" in manifest.model:
            from ..export.metadata import config_from_metadata

            self._config = config_from_metadata(manifest.model, source=str(manifest_path(self.path)))
        self.precision = manifest.precision if manifest is not None else None
        self._name = f"{self._prefix}-{self.precision}" if self.precision else self._prefix

    # -- inference -------------------------------------------------------------------------------------------
    def timed_call(self, batch: np.ndarray, *, include_copies: bool = True, cuda_graphs: bool = False) -> TimedCall:
        """infer() itself: copies in and out on every call, a graph replay when made with cuda_graphs=True."""
        timed = super().timed_call(batch)
        return TimedCall(call=timed.call, copies_included=True, cuda_graphs=self.cuda_graphs)

    def _infer_impl(self, batch: np.ndarray) -> np.ndarray:
        assert self._context is not None and self._stream is not None and self._io is not None  # set by activate
        input_name, output_name, in_dtype, out_dtype = self._io
        n = batch.shape[0]
        use_device(self.device)  # the calling thread may not be the one that activated (CUDA's device is per thread)
        if not self._context.set_input_shape(input_name, tuple(batch.shape)):
            raise RunnerError(f"{self.name}: TensorRT refused input shape {batch.shape} (outside the engine's profile)")
        out = self._context.get_tensor_shape(output_name)
        out_shape = tuple(out[i] for i in range(len(out)))
        in_bytes, out_bytes = batch.size * in_dtype.itemsize, int(np.prod(out_shape)) * out_dtype.itemsize
        buffers = self._ensure_buffers(in_bytes, out_bytes)
        buffers.host_in.array(in_dtype, batch.shape)[...] = batch
        if self.cuda_graphs:
            graph = self._graphs.get(n) or self._capture(n, in_bytes, out_bytes)
            graph.launch()
        else:
            self._enqueue(in_bytes, out_bytes)
        self._stream.synchronize()
        return buffers.host_out.array(out_dtype, out_shape).astype(np.float32, copy=True)

    def _ensure_buffers(self, in_bytes: int, out_bytes: int) -> _Buffers:
        """(Re)allocate host and device buffers when a batch needs more than they hold; rebinds the addresses."""
        held = self._buffers
        if held is not None and held.dev_in.nbytes >= in_bytes and held.dev_out.nbytes >= out_bytes:
            return held
        assert self._context is not None and self._io is not None
        self._free_buffers()  # graphs captured the old addresses: they go too
        held = self._buffers = _Buffers.allocate(in_bytes, out_bytes)
        input_name, output_name = self._io[0], self._io[1]
        if not (self._context.set_tensor_address(input_name, held.dev_in.ptr)
                and self._context.set_tensor_address(output_name, held.dev_out.ptr)):
            raise RunnerError(f"{self.name}: TensorRT refused the device buffers' addresses")
        return held

    def _enqueue(self, in_bytes: int, out_bytes: int) -> None:
        assert self._context is not None and self._stream is not None and self._buffers is not None
        buffers = self._buffers
        copy_to_device(buffers.dev_in, buffers.host_in, in_bytes, self._stream)
        if not self._context.execute_async_v3(self._stream.handle):
            errors = [msg for label, msg in self._messages if label != "warning"][-2:]
            reason = " | ".join(errors) or "no reason given"
            raise RunnerError(f"{self.name}: TensorRT failed to run the batch ({reason})")
        copy_to_host(buffers.host_out, buffers.dev_out, out_bytes, self._stream)

    def _capture(self, n: int, in_bytes: int, out_bytes: int) -> CudaGraph:
        """Run once (TensorRT applies shape changes then), then capture copy-in, execute, copy-out for batch `n`."""
        assert self._stream is not None
        self._enqueue(in_bytes, out_bytes)
        self._stream.synchronize()
        graph = CudaGraph(self._stream)
        graph.begin()
        try:
            self._enqueue(in_bytes, out_bytes)
            graph.end()
        except BaseException as exc:
            graph.abort()
            raise RunnerError(f"{self.name}: CUDA graph capture failed for batch {n} ({exc}); "
                              "run without cuda_graphs") from None
        self._graphs[n] = graph
        return graph

    # -- cleanup ---------------------------------------------------------------------------------------------
    def _free_buffers(self) -> None:
        for graph in self._graphs.values():
            graph.free()
        self._graphs.clear()
        buffers, self._buffers = self._buffers, None
        if buffers is not None:
            buffers.free()

    def _release(self) -> None:
        """Free everything, in dependency order: graphs and buffers, stream, context, engine, runtime."""
        try:
            if self._stream is not None or self._buffers is not None:
                use_device(self.device)  # deactivate() may come from another thread too
            self._free_buffers()
            if self._stream is not None:
                self._stream.free()
        finally:
            self._stream = None
            self._context = None
            self._engine = None
            self._runtimes = ()
            self._logger = None
            self._io = None
            self._classes = None

    def _deactivate_impl(self) -> None:
        self._release()
        self.manifest, self.compatibility, self.precision = None, None, None
        self._name = self._prefix
