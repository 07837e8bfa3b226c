"""ONNX -> TensorRT engine with TensorRT's Python API, for TensorRT 10.x and 11.x.

Logger -> Builder -> strongly typed network -> OnnxParser -> builder config -> build_serialized_network, as in
the Python API reference and the "Migrating Python Code from TensorRT 10.x to 11.x" pages. Precision comes from
the graph (FP16 casts, Q/DQ nodes), never from builder flags: 11.x removed BuilderFlag.FP16/INT8 and the INT8
calibrators ("Removed Python APIs and Replacements"), and a strongly typed network obeys the graph on 10.x too.
Kept thin on purpose: every decision that needs no TensorRT lives in options/manifest/compat/inspector.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..artifacts import atomic_output
from .environment import make_logger
from .errors import EngineBuildError
from .inspector import LayerSummary, summarize_layers
from .manifest import layers_path
from .options import BuildOptions, trt_major

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = ["build_engine", "BuildResult", "ParserIssue", "describe_parser_errors", "KNOWN_FIXES"]

log = logging.getLogger(__name__)

# A parser message (lower case) -> the fix, for the failures users of this tool meet.
KNOWN_FIXES: tuple[tuple[str, str], ...] = (
    ("only supports symmetric quantization",
     "re-quantize the fp32 model with `vgg-deploy quantize --target tensorrt` (zero points must be 0)"),
    ("uint8", "TensorRT quantizes to signed int8: re-quantize with `vgg-deploy quantize --target tensorrt`"),
    ("bias", "a quantized (int32) bias is not supported: re-quantize with `vgg-deploy quantize --target tensorrt` "
             "(biases stay fp32)"),
    ("opset", "export with a supported opset: `vgg-deploy export --opset 17`"),
    ("external data", "keep the .onnx and its external-data files in the same folder"),
)
_SHOWN_ISSUES = 8


@dataclass(frozen=True)
class ParserIssue:
    """One ONNX parser error: the node it concerns, TensorRT's description and error code."""

    node: str
    description: str
    code: str

    def fix(self) -> str | None:
        text = self.description.lower()
        return next((fix for needle, fix in KNOWN_FIXES if needle in text), None)

    def __str__(self) -> str:
        return f"node {self.node or '?'}: {self.description} [{self.code}]"


def describe_parser_errors(issues: Sequence[ParserIssue], *, onnx: str | Path) -> str:
    """One line: how many errors, each with its node, and the fix when one is known."""
    if not issues:
        return f"{onnx}: TensorRT's ONNX parser failed without saying why; run with a newer TensorRT or check the model"
    shown = "; ".join(map(str, issues[:_SHOWN_ISSUES])) + (" ..." if len(issues) > _SHOWN_ISSUES else "")
    fixes = list(dict.fromkeys(fix for issue in issues if (fix := issue.fix()) is not None))
    text = f"{onnx}: TensorRT's ONNX parser refused it ({len(issues)} error{'s' if len(issues) > 1 else ''}): {shown}"
    return text + (f"; fix: {'; '.join(fixes)}" if fixes else "")


@dataclass(frozen=True)
class BuildResult:
    plan: Path
    size_bytes: int
    build_seconds: float
    input_name: str
    output_name: str
    input_shape: tuple[int, int, int]
    layers: LayerSummary
    layer_listing: Path | None
    timing_cache: Path | None
    timing_cache_note: str
    device_memory_bytes: int | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def build_engine(
    onnx_path: str | Path,
    plan: str | Path,
    *,
    options: BuildOptions,
    timing_cache: Path | None = None,
) -> BuildResult:
    """Parse `onnx_path`, build with `options`, write `plan` (atomically) and its layer listing next to it.

    The timing cache file is read when it exists and written back after the build, so later builds of any model
    on this GPU and TensorRT reuse the kernel timings. Raises EngineBuildError with TensorRT's reasons.
    """
    import tensorrt as trt

    onnx_path, plan = Path(onnx_path), Path(plan)
    messages: list[tuple[str, str]] = []
    logger = make_logger(messages)
    builder = trt.Builder(logger)
    # STRONGLY_TYPED is opt-in on 10.x and accepted (always on) on 11.x, so one call serves both
    # ("Migrating from TensorRT 10.x to 11.x": strongly typed networks are now required). No EXPLICIT_BATCH:
    # networks are always explicit-batch since 10.0 and the flag is gone in 11.x.
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)  # keep it alive as long as the network: it owns the weights
    dims = _parse(parser, network, onnx_path)
    input_name, output_name = network.get_input(0).name, network.get_output(0).name
    config = _builder_config(builder, options, input_name=input_name, dims=dims)
    cache_note = _load_timing_cache(config, timing_cache)
    monitor = _progress_monitor()
    if monitor is not None:
        config.progress_monitor = monitor

    log.info("building the %s engine (batch %s, optimization level %d); this can take minutes",
             options.precision, options.profile, options.opt_level)
    started = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - started
    if serialized is None:
        errors = [msg for label, msg in messages if label != "warning"] or ["no reason given"]
        raise EngineBuildError(f"{onnx_path}: TensorRT could not build the engine: {' | '.join(errors[-3:])}")
    with atomic_output(plan) as tmp:
        tmp.write_bytes(serialized)
    size = plan.stat().st_size
    if timing_cache is not None:
        with atomic_output(timing_cache) as tmp:
            tmp.write_bytes(config.get_timing_cache().serialize())
        cache_note += ", saved"

    listing, summary, memory = _inspect(plan, serialized, logger, options)
    warnings = tuple(msg for label, msg in messages if label == "warning")
    return BuildResult(plan=plan, size_bytes=size, build_seconds=seconds, input_name=input_name,
                       output_name=output_name, input_shape=(dims[1], dims[2], dims[3]), layers=summary,
                       layer_listing=listing, timing_cache=timing_cache, timing_cache_note=cache_note,
                       device_memory_bytes=memory, warnings=warnings)


def _parse(parser: Any, network: Any, onnx_path: Path) -> list[int]:
    """Parse the ONNX into `network`; the input's dims (N, C, H, W), N < 1 when the batch is dynamic."""
    import tensorrt as trt

    log.info("parsing %s (TensorRT %s, strongly typed network)", onnx_path, trt.__version__)
    if not parser.parse_from_file(str(onnx_path)):
        issues = []
        for index in range(parser.num_errors):
            error = parser.get_error(index)
            issues.append(ParserIssue(node=error.node_name(), description=error.desc(), code=str(error.code())))
        raise EngineBuildError(describe_parser_errors(issues, onnx=onnx_path))
    if network.num_inputs != 1 or network.num_outputs < 1:
        raise EngineBuildError(f"{onnx_path}: expected one image input and an output, TensorRT found "
                               f"{network.num_inputs} inputs and {network.num_outputs} outputs")
    tensor = network.get_input(0)
    dims = [tensor.shape[i] for i in range(len(tensor.shape))]
    if len(dims) != 4 or min(dims[1:]) < 1:
        raise EngineBuildError(f"{onnx_path}: input {tensor.name!r} must be (N, C, H, W) with fixed C, H, W; got {dims}")
    return dims


def _builder_config(builder: Any, options: BuildOptions, *, input_name: str, dims: list[int]) -> Any:
    """The builder config for `options`: memory, optimization level, TF32, the batch profile, compatibility."""
    import tensorrt as trt

    config = builder.create_builder_config()
    if options.workspace_bytes is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_bytes)
    config.builder_optimization_level = options.opt_level
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # per-layer precisions in the inspector listing
    if not options.tf32:
        config.clear_flag(trt.BuilderFlag.TF32)  # on by default; fp32 engines mean IEEE fp32
    if dims[0] < 1:  # a dynamic batch needs an optimization profile; a fixed one is already in the network
        c, h, w = dims[1:]
        profile = builder.create_optimization_profile()
        low, opt, high = options.profile.min, options.profile.opt, options.profile.max
        profile.set_shape(input_name, trt.Dims([low, c, h, w]), trt.Dims([opt, c, h, w]), trt.Dims([high, c, h, w]))
        config.add_optimization_profile(profile)
    _set_compatibility(config, options)
    return config


def _set_compatibility(config: trt.IBuilderConfig, options: BuildOptions) -> None:
    import tensorrt as trt

    level = {"none": trt.HardwareCompatibilityLevel.NONE, "ampere+": trt.HardwareCompatibilityLevel.AMPERE_PLUS}
    if options.hardware_compat == "same-cc":  # added in 10.9; options.check_hardware_compat refused older ones
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY
    else:
        config.hardware_compatibility_level = level[options.hardware_compat]
    if options.version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
        if not options.embed_lean_runtime:  # smaller plans; a later TensorRT then needs this version's lean runtime
            config.set_flag(trt.BuilderFlag.EXCLUDE_LEAN_RUNTIME)


def _load_timing_cache(config: trt.IBuilderConfig, path: Path | None) -> str:
    """Give the builder the timing cache at `path` (or an empty one); says what happened."""
    if path is None:
        return "no timing cache"
    data = path.read_bytes() if path.is_file() else b""
    cache = config.create_timing_cache(data)
    if config.set_timing_cache(cache, False):  # ignore_mismatch=False: never reuse timings of another GPU/version
        return f"timing cache {path}: reused ({len(data)} bytes)" if data else f"timing cache {path}: new"
    config.set_timing_cache(config.create_timing_cache(b""), False)
    return f"timing cache {path}: from another GPU or TensorRT, started a new one"


def _progress_monitor() -> trt.IProgressMonitor | None:
    """Build phases logged (top-level and first-level phases, with their durations)."""
    import tensorrt as trt

    if not hasattr(trt, "IProgressMonitor"):
        return None

    class _Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._lock = threading.Lock()  # TensorRT may report from several threads
            self._depth: dict[str, int] = {}
            self._started: dict[str, float] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            with self._lock:
                depth = 0 if parent_phase is None else self._depth.get(parent_phase, 0) + 1
                self._depth[phase_name], self._started[phase_name] = depth, time.perf_counter()
            if depth <= 1:
                log.info("%sTensorRT: %s (%d step%s)", "  " * depth, phase_name, num_steps, "s" if num_steps != 1 else "")

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True  # never cancel

        def phase_finish(self, phase_name: str) -> None:
            with self._lock:
                depth = self._depth.pop(phase_name, 0)
                started = self._started.pop(phase_name, time.perf_counter())
            if depth == 0:
                log.info("TensorRT: %s done in %.1f s", phase_name, time.perf_counter() - started)

    return _Monitor()


def _inspect(
    plan: Path, serialized: trt.IHostMemory, logger: trt.ILogger, options: BuildOptions
) -> tuple[Path | None, LayerSummary, int | None]:
    """Save the engine inspector's layer listing next to `plan` and summarize its layer precisions."""
    import tensorrt as trt

    runtime = trt.Runtime(logger)
    if options.version_compatible and options.embed_lean_runtime:
        runtime.engine_host_code_allowed = True  # the plan carries its lean runtime (host code): ours, so trusted
    engine = runtime.deserialize_cuda_engine(serialized)
    if engine is None:
        raise EngineBuildError(f"{plan}: TensorRT built the engine but cannot load it back; rebuild with --force")
    if trt_major(trt.__version__) < 11:
        # 11.x removed ICudaEngine.device_memory_size ("Removed Python APIs and Replacements"); 10.x before
        # device_memory_size_v2 only has the old name.
        memory = engine.device_memory_size_v2 if hasattr(engine, "device_memory_size_v2") \
            else engine.device_memory_size
    else:
        memory = engine.device_memory_size_v2
    text = engine.create_engine_inspector().get_engine_information(trt.LayerInformationFormat.JSON)
    try:
        listing = json.loads(text)
        summary = summarize_layers(listing)
    except ValueError:  # the listing is informative only: an unreadable one must not fail a good build
        return None, LayerSummary(layers=0, detailed=False), int(memory)
    path = layers_path(plan)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(listing, indent=1) + "\n", encoding="utf-8")
    return path, summary, int(memory)

