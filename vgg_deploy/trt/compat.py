"""Can this engine run here? Decided from its manifest before TensorRT is asked to deserialize it.

TensorRT's own refusals ("The engine plan file is not compatible with this version of TensorRT ...", "... generated
on an incompatible device ...") come after it has parsed an untrusted file and name neither the fix nor the option
that would have made the engine portable; this decision does both. Rules (TensorRT "Engine Compatibility" /
"Version Compatibility" pages and the support matrix's "Engine Portability"):
- GPU: the same compute capability runs (another model of it: a warning); another compute capability runs only
  if the engine was built with hardware compatibility AMPERE_PLUS and this GPU is Ampere or newer (cc >= 8.0).
- TensorRT: the standard runtime needs the very version the engine was built with; a version-compatible engine
  also runs on later releases of the same major version, and a 10.x one on 11.x, never on an older runtime.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import EngineCompatibilityError
from .manifest import EngineManifest
from .options import parse_version

__all__ = ["Platform", "Compatibility", "check_compatibility", "require_compatible", "rebuild_command"]

_CROSS_MAJOR = {(10, 11)}  # (built major, runtime major) a version-compatible engine may cross ("10 runs on 11")


@dataclass(frozen=True)
class Platform:
    """Where an engine is built or run."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "8.9"
    cuda_version: str | None = None
    driver_version: str | None = None


@dataclass(frozen=True)
class Compatibility:
    """The decision: `ok`, why not (`reason`, one line with the fix), and notes for a run that may go ahead."""

    ok: bool
    reason: str | None = None
    warnings: tuple[str, ...] = ()
    other_version: bool = False  # a version-compatible engine from another TensorRT: the lean runtime runs it


def rebuild_command(manifest: EngineManifest, plan: str | os.PathLike[str]) -> str:
    return f"vgg-deploy build-trt {manifest.source_onnx.path} --precision {manifest.precision} " \
           f"--profile {manifest.profile} -o {plan} --force"


def check_compatibility(manifest: EngineManifest, here: Platform, *, plan: str | os.PathLike[str]) -> Compatibility:
    """Compare the manifest with this GPU and TensorRT."""
    rebuild = rebuild_command(manifest, plan)
    built_on = f"{manifest.gpu_name} (compute capability {manifest.compute_capability})"
    running_on = f"{here.gpu_name} (compute capability {here.compute_capability})"
    warnings: list[str] = []
    built_cc, here_cc = parse_version(manifest.compute_capability)[:2], parse_version(here.compute_capability)[:2]
    if built_cc != here_cc:
        if manifest.hardware_compat == "ampere+" and here_cc >= (8, 0):
            warnings.append(f"{plan} was built on {built_on} with --hardware-compat ampere+ and runs on {running_on}")
        else:
            how = {
                "ampere+": "its --hardware-compat ampere+ covers GPUs of compute capability >= 8.0 only",
                "same-cc": "its --hardware-compat same-cc covers GPUs of the same compute capability only",
            }.get(manifest.hardware_compat, "build with --hardware-compat ampere+ to run on any Ampere or newer GPU")
            return Compatibility(False, f"{plan} was built on {built_on} and cannot run on {running_on}; "
                                        f"rebuild it here: {rebuild} ({how})")
    elif manifest.gpu_name != here.gpu_name:
        warnings.append(f"{plan} was built on {built_on}; on {running_on} it runs, but TensorRT tuned it for the other "
                        f"GPU (rebuild for best speed: {rebuild})")

    built_v, here_v = parse_version(manifest.tensorrt_version), parse_version(here.tensorrt_version)
    if built_v == here_v:
        return Compatibility(True, warnings=tuple(warnings))
    versions = f"built with TensorRT {manifest.tensorrt_version}, this is TensorRT {here.tensorrt_version}"
    if not manifest.version_compatible:
        return Compatibility(False, f"{plan} was {versions}; an engine runs only with the TensorRT it was built with: "
                                    f"rebuild it here: {rebuild} (or build with --version-compatible to run it on "
                                    "later TensorRT releases)")
    if here_v < built_v:
        return Compatibility(False, f"{plan} was {versions}; a version-compatible engine runs on the same or a later "
                                    f"TensorRT, never an older one: upgrade TensorRT, or rebuild it here: {rebuild}")
    if here_v[0] != built_v[0] and (built_v[0], here_v[0]) not in _CROSS_MAJOR:
        return Compatibility(False, f"{plan} was {versions}; TensorRT {here_v[0]} cannot run version-compatible "
                                    f"engines of TensorRT {built_v[0]}: rebuild it here: {rebuild}")
    warnings.append(f"{plan} was {versions}; it is version-compatible, so it runs through the lean runtime")
    return Compatibility(True, warnings=tuple(warnings), other_version=True)


def require_compatible(manifest: EngineManifest, here: Platform, *, plan: str | os.PathLike[str]) -> Compatibility:
    """check_compatibility(), raising EngineCompatibilityError with its reason when the engine cannot run here."""
    decision = check_compatibility(manifest, here, plan=plan)
    if not decision.ok:
        raise EngineCompatibilityError(decision.reason or f"{plan} cannot run here")
    return decision
