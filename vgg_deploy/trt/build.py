"""`build-trt` end to end: check the request without TensorRT, reuse a cached engine, convert, build, manifest.

Two steps so the CLI can refuse impossible requests (exit 2) before TensorRT is imported: `plan_build` reads only
the ONNX and the options; `run_build` needs TensorRT and a GPU.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..artifacts import check_output, file_sha256
from ..formats import suffixes
from .builder import BuildResult, build_engine
from .compat import Platform
from .errors import ManifestError, OptionError
from .handoff import (
    ConversionSettings, OnnxFacts, check_qdq_for_tensorrt, convert_for_engine, converted_onnx_path, engine_precision,
    inspect_onnx,
)
from .manifest import (
    EngineManifest, cache_key, manifest_path, onnx_fingerprint, read_manifest, write_manifest,
)
from .options import BuildOptions, Profile, check_hardware_compat, resolve_profile

__all__ = ["BuildPlan", "BuildReport", "plan_build", "run_build", "default_timing_cache"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildPlan:
    """A build-trt request checked without TensorRT: the ONNX facts, the engine options, and whether to convert."""

    source: OnnxFacts
    output: Path
    options: BuildOptions
    convert: bool
    settings: ConversionSettings


@dataclass(frozen=True)
class BuildReport:
    plan: Path
    manifest: EngineManifest
    reused: bool
    converted_onnx: Path | None = None
    conversion: dict[str, Any] | None = None
    result: BuildResult | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    warnings: tuple[str, ...] = field(default_factory=tuple)  # e.g. an int8 engine running convolutions in fp32

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": str(self.plan), "manifest": str(manifest_path(self.plan)), "reused": self.reused,
            "precision": self.manifest.precision, "profile": self.manifest.profile.to_dict(),
            "size_bytes": self.manifest.engine_size_bytes, "build_seconds": self.manifest.build_seconds,
            "tensorrt_version": self.manifest.tensorrt_version, "gpu": self.manifest.gpu_name,
            "compute_capability": self.manifest.compute_capability, "layers": self.manifest.layers,
            "converted_onnx": None if self.converted_onnx is None else str(self.converted_onnx),
            "conversion": self.conversion, "notes": list(self.notes), "warnings": list(self.warnings),
        }


def plan_build(
    onnx: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    precision: str | None = None,
    profile: Profile | None = None,
    workspace_bytes: int | None = None,
    opt_level: int = 3,
    hardware_compat: str = "none",
    version_compatible: bool = False,
    embed_lean_runtime: bool = False,
    settings: ConversionSettings = ConversionSettings(),
) -> BuildPlan:
    """Everything about a build decided before TensorRT: OptionError (a usage error) for impossible requests."""
    output = Path(output)
    engine_suffixes = suffixes("plan")
    if output.suffix.lower() not in engine_suffixes:
        raise OptionError(f"{output}: name the engine with a {' or '.join(engine_suffixes)} suffix (e.g. "
                          f"{output.stem}{engine_suffixes[0]}), "
                          "so `vgg-deploy infer` and vgg_deploy.load() know it", option="--output")
    check_output(output, inputs=[onnx])
    facts = inspect_onnx(onnx)
    chosen, convert = engine_precision(precision, facts)
    if convert and chosen == "int8" and settings.calib_data is None:
        raise OptionError(f"{facts.path} is fp32: building int8 quantizes it first, which needs calibration images: "
                          "pass --calib-data PATH (image folder, .npy or .npz), 'digits', or 'synthetic' "
                          "(random inputs, on purpose)", option="--calib-data")
    options = BuildOptions(
        precision=chosen, profile=resolve_profile(profile, facts.fixed_batch, onnx=str(facts.path)),
        workspace_bytes=workspace_bytes, opt_level=opt_level, hardware_compat=hardware_compat,
        version_compatible=version_compatible, embed_lean_runtime=embed_lean_runtime,
    )
    return BuildPlan(source=facts, output=output, options=options, convert=convert, settings=settings)


def default_timing_cache(platform: Platform) -> Path:
    """One timing cache per TensorRT version and GPU, shared by every build: ~/.cache/vgg-deploy/..."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vgg-deploy"
    gpu = re.sub(r"[^A-Za-z0-9.]+", "-", platform.gpu_name).strip("-") or "gpu"
    return root / f"timing-trt{platform.tensorrt_version}-{gpu}-sm{platform.compute_capability}.cache"


def _reusable(plan: Path, key: str) -> EngineManifest | None:
    """The manifest of an existing engine built with the same key and still intact; None otherwise."""
    if not plan.is_file():
        return None
    try:
        manifest = read_manifest(plan)
    except ManifestError:
        return None
    if manifest.cache_key != key or manifest.engine_size_bytes != plan.stat().st_size:
        return None
    return manifest if file_sha256(plan) == manifest.engine_sha256 else None


def _graph_to_build(build: BuildPlan) -> tuple[OnnxFacts, Path | None, dict[str, Any] | None]:
    """The ONNX the engine is built from: the given one (its Q/DQ checked), or its FP16 / Q/DQ conversion made
    first when it is fp32 and the precision asks for more; with the converted path and the conversion's facts."""
    options, source, plan = build.options, build.source, build.output
    if not build.convert:
        check_qdq_for_tensorrt(source)
        return source, None, None
    converted = converted_onnx_path(plan, options.precision, source=source.path)
    log.info("%s is fp32: making the %s ONNX %s first", source.path, options.precision, converted)
    made = convert_for_engine(source, converted, precision=options.precision, settings=build.settings)
    log.info("parity vs fp32 on held-out samples (%s): %s", made.holdout, made.parity.summary())
    return inspect_onnx(converted), converted, made.to_dict()


def run_build(
    build: BuildPlan,
    *,
    platform: Platform,
    force: bool = False,
    timing_cache: Path | None = None,
) -> BuildReport:
    """Reuse the engine when its cache key matches (unless `force`), else convert if needed, build, and write the
    manifest last. A build that fails keeps the previous engine and manifest; one that fails after replacing the
    plan leaves a manifest whose sha256 no longer matches it, which the runner and the cache refuse."""
    from ..version import __version__

    options, source, plan = build.options, build.source, build.output
    check_hardware_compat(options.hardware_compat, tensorrt_version=platform.tensorrt_version,
                          compute_capability=platform.compute_capability)
    fingerprint = onnx_fingerprint(source.path)
    conversion_facts = build.settings.cache_facts(options.precision) if build.convert else {}
    key = cache_key(source_sha256=fingerprint.sha256, conversion=conversion_facts, options=options,
                    tensorrt_version=platform.tensorrt_version, gpu_name=platform.gpu_name,
                    compute_capability=platform.compute_capability)
    if not force:
        cached = _reusable(plan, key)
        if cached is not None:
            log.info("%s is up to date (same ONNX, options, TensorRT %s and %s); reusing it (--force rebuilds)",
                     plan, platform.tensorrt_version, platform.gpu_name)
            return BuildReport(plan=plan, manifest=cached, reused=True)

    built, converted, conversion = _graph_to_build(build)
    cache = timing_cache if timing_cache is not None else default_timing_cache(platform)
    engine = build_engine(built.path, plan, options=options, timing_cache=cache)
    layer_warning = engine.layers.warning(options.precision)
    manifest = EngineManifest(
        engine_sha256=file_sha256(plan), engine_size_bytes=engine.size_bytes,
        tensorrt_version=platform.tensorrt_version, gpu_name=platform.gpu_name,
        compute_capability=platform.compute_capability, cuda_version=platform.cuda_version,
        driver_version=platform.driver_version, precision=options.precision, profile=options.profile,
        hardware_compat=options.hardware_compat, version_compatible=options.version_compatible,
        lean_runtime_embedded=options.version_compatible and options.embed_lean_runtime,
        source_onnx=fingerprint, built_onnx=onnx_fingerprint(built.path) if build.convert else fingerprint,
        input_name=engine.input_name, output_name=engine.output_name, input_shape=engine.input_shape,
        cache_key=key, built_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        build_seconds=round(engine.build_seconds, 3), vgg_deploy_version=__version__,
        build_options={**options.to_dict(), "conversion": conversion_facts, "timing_cache": str(cache),
                       "device_memory_bytes": engine.device_memory_bytes},
        model=built.metadata, layers=engine.layers.to_dict(),
    )
    write_manifest(manifest, plan)
    return BuildReport(plan=plan, manifest=manifest, reused=False, converted_onnx=converted, conversion=conversion,
                       result=engine, notes=(engine.timing_cache_note,),
                       warnings=(layer_warning,) if layer_warning else ())
