"""The engine manifest `X.plan.json`: where and how an engine was built, checked before it is deserialized.

It also fingerprints the source ONNX (the file and every external-data file it references) and holds the
engine cache key, so `build-trt` can skip a rebuild when nothing that decides the engine changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..artifacts import atomic_output, file_sha256
from ..errors import VGGDeployError
from .errors import ManifestError
from .options import BuildOptions, Profile

__all__ = [
    "EngineManifest", "OnnxFingerprint", "manifest_path", "layers_path", "write_manifest", "read_manifest",
    "onnx_fingerprint", "cache_key", "MANIFEST_FORMAT",
]

MANIFEST_FORMAT = 1
_MAX_MANIFEST_BYTES = 16 << 20  # a manifest is a few KB; refuse to parse anything huge


def manifest_path(plan: str | os.PathLike[str]) -> Path:
    """`model.plan` -> `model.plan.json`."""
    plan = Path(plan)
    return plan.with_name(plan.name + ".json")


def layers_path(plan: str | os.PathLike[str]) -> Path:
    """`model.plan` -> `model.plan.layers.json` (the engine inspector's layer listing)."""
    plan = Path(plan)
    return plan.with_name(plan.name + ".layers.json")


@dataclass(frozen=True)
class OnnxFingerprint:
    """An ONNX file's sha256 over the file and its external-data files (names relative to its folder)."""

    path: str
    sha256: str
    external_data: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineManifest:
    """Facts about one engine; `model` holds the ONNX's vgg-deploy metadata (preprocessing, classes)."""

    engine_sha256: str
    engine_size_bytes: int
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    cuda_version: str | None
    driver_version: str | None
    precision: str
    profile: Profile
    hardware_compat: str
    version_compatible: bool
    lean_runtime_embedded: bool
    source_onnx: OnnxFingerprint  # what the user gave build-trt
    built_onnx: OnnxFingerprint  # what TensorRT parsed (the FP16 / Q/DQ ONNX made from the source, or the source)
    input_name: str
    output_name: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    cache_key: str
    built_at: str  # ISO 8601, UTC
    build_seconds: float
    vgg_deploy_version: str
    build_options: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, Any] = field(default_factory=dict)  # LayerSummary.to_dict()
    format: int = MANIFEST_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "manifest") -> EngineManifest:
        """Validate a parsed manifest (it is user input) and build it; ManifestError names what is wrong."""
        if not isinstance(data, Mapping):
            raise ManifestError(f"{source}: not a vgg-deploy engine manifest (a JSON object was expected); "
                                "rebuild the engine with vgg-deploy build-trt ... --force")
        if data.get("format") != MANIFEST_FORMAT:
            raise ManifestError(f"{source}: manifest format {data.get('format')!r} is not {MANIFEST_FORMAT}; "
                                "rebuild the engine with this vgg-deploy (vgg-deploy build-trt ... --force)")
        names = {f.name for f in fields(cls)}
        missing = sorted(n for n in names - set(data) if n not in ("build_options", "model", "layers", "format"))
        if missing:
            raise ManifestError(f"{source}: not a complete engine manifest ({', '.join(missing)} missing); "
                                "rebuild the engine with vgg-deploy build-trt ... --force")
        values = {name: data[name] for name in names if name in data}
        try:
            values["profile"] = Profile(**values["profile"])
            values["source_onnx"] = _fingerprint(values["source_onnx"])
            values["built_onnx"] = _fingerprint(values["built_onnx"])
            values["input_shape"] = tuple(int(v) for v in values["input_shape"])
            manifest = cls(**values)
            _check_types(manifest)
        except (TypeError, ValueError, KeyError) as exc:
            raise ManifestError(f"{source}: malformed engine manifest ({type(exc).__name__}: {exc}); "
                                "rebuild the engine with vgg-deploy build-trt ... --force") from None
        return manifest


def _fingerprint(value: Any) -> OnnxFingerprint:
    return OnnxFingerprint(path=str(value["path"]), sha256=str(value["sha256"]),
                           external_data=tuple(str(v) for v in value.get("external_data", ())))


def _check_types(manifest: EngineManifest) -> None:
    text = ("engine_sha256", "tensorrt_version", "gpu_name", "compute_capability", "precision", "hardware_compat",
            "input_name", "output_name", "cache_key", "built_at", "vgg_deploy_version")
    for name in text:
        if not isinstance(getattr(manifest, name), str):
            raise TypeError(f"{name} must be a string")
    if not isinstance(manifest.engine_size_bytes, int) or manifest.engine_size_bytes < 0:
        raise ValueError("engine_size_bytes must be a byte count")
    if len(manifest.input_shape) != 3:
        raise ValueError("input_shape must be (C, H, W)")
    for name in ("build_options", "model", "layers"):
        if not isinstance(getattr(manifest, name), dict):
            raise TypeError(f"{name} must be an object")


def write_manifest(manifest: EngineManifest, plan: str | os.PathLike[str]) -> Path:
    """Write `plan`'s manifest atomically next to it; returns its path."""
    path = manifest_path(plan)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def read_manifest(plan: str | os.PathLike[str]) -> EngineManifest:
    """The manifest next to `plan`; ManifestError (one line, with the fix) when it is missing or malformed."""
    path = manifest_path(plan)
    if not path.is_file():
        raise ManifestError(
            f"{plan}: no manifest {path.name} next to it, so the engine cannot be checked against this GPU and "
            f"TensorRT before it is loaded; build it with `vgg-deploy build-trt MODEL.onnx -o {plan}`"
        )
    if path.stat().st_size > _MAX_MANIFEST_BYTES:
        raise ManifestError(f"{path}: {path.stat().st_size} bytes is far too large for an engine manifest")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not readable JSON ({type(exc).__name__}: {exc}); "
                            "rebuild the engine with vgg-deploy build-trt ... --force") from None
    return EngineManifest.from_dict(data, source=str(path))


def onnx_fingerprint(path: str | os.PathLike[str]) -> OnnxFingerprint:
    """sha256 over the ONNX file and every external-data file it references, read without loading weights."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    from ..export.metadata import load_onnx

    path = Path(path)
    model = load_onnx(path)
    locations = sorted({ExternalDataInfo(t).location for t in _all_tensors(model) if uses_external_data(t)})
    digest = hashlib.sha256()
    digest.update(bytes.fromhex(file_sha256(path)))
    folder = path.resolve().parent
    for location in locations:
        data = (folder / location).resolve()
        if Path(location).is_absolute() or folder not in data.parents:
            raise VGGDeployError(f"{path}: external data {location!r} lies outside the model's folder; "
                                 "keep the model and its data files together")
        if not data.is_file():
            raise VGGDeployError(f"{path}: references external data {location!r}, which is not next to it; "
                                 "copy the model with all its data files")
        digest.update(location.encode() + b"\0")
        digest.update(bytes.fromhex(file_sha256(data)))
    return OnnxFingerprint(path=str(path), sha256=digest.hexdigest(), external_data=tuple(locations))


def _all_tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto of a model: initializers, sparse initializers and tensor attributes, in subgraphs too."""
    graphs = [model.graph]
    nodes = [node for function in model.functions for node in function.node]
    while graphs or nodes:
        if graphs:
            graph = graphs.pop()
            yield from graph.initializer
            for sparse in graph.sparse_initializer:
                yield sparse.values
                yield sparse.indices
            nodes.extend(graph.node)
            continue
        for attribute in nodes.pop().attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                graphs.append(attribute.g)
            graphs.extend(attribute.graphs)


def cache_key(
    *,
    source_sha256: str,
    conversion: Mapping[str, Any],
    options: BuildOptions,
    tensorrt_version: str,
    gpu_name: str,
    compute_capability: str,
) -> str:
    """The engine cache key: the same key means the same engine would be built again."""
    facts = {
        "source_sha256": source_sha256, "conversion": dict(conversion), "options": options.to_dict(),
        "tensorrt_version": tensorrt_version, "gpu_name": gpu_name, "compute_capability": compute_capability,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()
