"""TensorRT engines: build (`build-trt`), manifest and compatibility checks, and a runner on cuda-python.

Importing this package imports neither TensorRT nor cuda-python nor onnx: they load when a build or a runner
activation needs them, and their absence is one clear error naming `pip install "vgg-deploy[trt]"`.
"""

from .build import BuildPlan, BuildReport, default_timing_cache, plan_build, run_build
from .builder import BuildResult, ParserIssue, build_engine, describe_parser_errors
from .compat import Compatibility, Platform, check_compatibility, require_compatible
from .environment import current_platform, ensure_tensorrt
from .errors import (
    EngineBuildError, EngineCompatibilityError, ManifestError, OptionError, TensorRTError, TensorRTUnavailableError,
)
from .handoff import ConversionSettings, OnnxFacts, engine_precision, inspect_onnx
from .inspector import LayerSummary, summarize_layers
from .manifest import EngineManifest, cache_key, manifest_path, onnx_fingerprint, read_manifest, write_manifest
from .options import BuildOptions, Profile, parse_profile, parse_workspace
from .runner import TensorRTRunner

__all__ = [
    "TensorRTRunner", "plan_build", "run_build", "BuildPlan", "BuildReport", "build_engine", "BuildResult",
    "default_timing_cache", "ParserIssue", "describe_parser_errors", "Platform", "Compatibility",
    "check_compatibility", "require_compatible", "current_platform", "ensure_tensorrt", "EngineManifest",
    "manifest_path", "read_manifest", "write_manifest", "onnx_fingerprint", "cache_key", "BuildOptions", "Profile",
    "parse_profile", "parse_workspace", "ConversionSettings", "OnnxFacts", "inspect_onnx", "engine_precision",
    "LayerSummary", "summarize_layers", "TensorRTError", "TensorRTUnavailableError", "OptionError",
    "EngineBuildError", "EngineCompatibilityError", "ManifestError",
]
