"""Build options decided without TensorRT: batch profile, workspace size, optimization level, compatibility.

Everything here is pure Python, so an impossible option is refused (and tested) before TensorRT is touched.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from .errors import OptionError

__all__ = [
    "Profile", "BuildOptions", "parse_profile", "resolve_profile", "parse_workspace", "parse_version",
    "trt_major", "check_hardware_compat", "check_tensorrt_version", "HARDWARE_COMPAT", "PRECISIONS",
    "DEFAULT_PROFILE", "MIN_TENSORRT",
]

PRECISIONS = ("fp32", "fp16", "int8")
MIN_TENSORRT = (10, 0)  # strongly typed networks, named I/O tensors, execute_async_v3, IProgressMonitor

# --hardware-compat value -> (TensorRT version that introduced it, lowest compute capability that may build it).
# ampere+ exists since TensorRT 8.6 (below our minimum); same-cc was added in 10.9 ("TensorRT 10.9.0 Release
# Notes": kSAME_COMPUTE_CAPABILITY). The GPU limits are from HardwareCompatibilityLevel's API reference:
# AMPERE_PLUS "is only supported for engines built on NVIDIA Ampere and later GPUs", SAME_COMPUTE_CAPABILITY
# "on NVIDIA Turing and later GPUs".
HARDWARE_COMPAT: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "none": (MIN_TENSORRT, (0, 0)),
    "ampere+": (MIN_TENSORRT, (8, 0)),
    "same-cc": ((10, 9), (7, 5)),
}

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_MIN_WORKSPACE = 1 << 20


@dataclass(frozen=True)
class Profile:
    """The optimization profile's batch sizes: TensorRT tunes for `opt` and accepts any batch in [min, max]."""

    min: int
    opt: int
    max: int

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise OptionError(
                f"batch profile {self.min}:{self.opt}:{self.max} is impossible: "
                "it needs 1 <= MIN <= OPT <= MAX", option="--profile",
            )

    def __str__(self) -> str:
        return f"{self.min}:{self.opt}:{self.max}"

    @property
    def fixed(self) -> bool:
        return self.min == self.max

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


DEFAULT_PROFILE = Profile(1, 8, 32)


@dataclass(frozen=True)
class BuildOptions:
    """What decides an engine besides its ONNX: part of the engine cache key and of the manifest."""

    precision: str
    profile: Profile
    workspace_bytes: int | None = None  # None: TensorRT's default (the GPU's memory)
    opt_level: int = 3
    hardware_compat: str = "none"
    version_compatible: bool = False
    embed_lean_runtime: bool = False  # only with version_compatible: keep the lean runtime in the plan

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise OptionError(f"unknown precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}",
                              option="--precision")
        if not 0 <= self.opt_level <= 5:
            raise OptionError(f"optimization level {self.opt_level} is outside 0-5", option="--opt-level")
        if self.hardware_compat not in HARDWARE_COMPAT:
            raise OptionError(f"unknown hardware compatibility {self.hardware_compat!r}; choose one of: "
                              f"{', '.join(HARDWARE_COMPAT)}", option="--hardware-compat")
        if self.embed_lean_runtime and not self.version_compatible:
            raise OptionError("--embed-lean-runtime only applies to --version-compatible engines",
                              option="--embed-lean-runtime")

    @property
    def tf32(self) -> bool:
        """TF32 stays on (TensorRT's default) except for fp32 engines: `trt-fp32` means IEEE fp32."""
        return self.precision != "fp32"

    def to_dict(self) -> dict[str, Any]:
        facts = asdict(self)
        facts["profile"] = self.profile.to_dict()
        facts["tf32"] = self.tf32
        return facts


def parse_profile(text: str) -> Profile:
    """`MIN:OPT:MAX`, or `N` for a fixed batch N:N:N."""
    parts = str(text).strip().split(":")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        raise OptionError(f"{text!r} is not a batch profile; use MIN:OPT:MAX (e.g. 1:8:32) or N for a fixed batch",
                          option="--profile")
    return Profile(*values)


def resolve_profile(requested: Profile | None, fixed_batch: int | None, *, onnx: str) -> Profile:
    """The profile to build: a fixed-batch ONNX forces its batch, and a profile that disagrees is refused."""
    if fixed_batch is None:
        return requested or DEFAULT_PROFILE
    forced = Profile(fixed_batch, fixed_batch, fixed_batch)
    if requested is not None and requested != forced:
        raise OptionError(
            f"{onnx} has a fixed batch of {fixed_batch}, so --profile {requested} cannot be built; "
            f"drop --profile (or pass --profile {fixed_batch}), or export with a dynamic batch", option="--profile",
        )
    return forced


def parse_workspace(text: str | int) -> int:
    """Bytes from "4G", "512M", "1.5GiB", "64k" or a plain byte count; the units are binary (G = 2**30)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), flags=re.IGNORECASE)
    if match is None:
        raise OptionError(f"{text!r} is not a size; use bytes or a number with K, M, G or T (e.g. 4G, 512M, 1.5GiB)",
                          option="--workspace")
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size < _MIN_WORKSPACE:
        raise OptionError(f"workspace {text!r} is below 1 MiB; TensorRT needs more to find any kernel",
                          option="--workspace")
    return size


def parse_version(text: str) -> tuple[int, ...]:
    """"10.13.0.35" -> (10, 13, 0, 35); a non-numeric part (e.g. "10.0.0b6") ends the tuple."""
    numbers: list[int] = []
    for part in str(text).split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        numbers.append(int(digits.group()))
        if digits.group() != part:
            break
    if not numbers:
        raise ValueError(f"not a version: {text!r}")
    return tuple(numbers)


def trt_major(version: str) -> int:
    """The TensorRT major version; code that differs between 10.x and 11.x is guarded by `if major < 11:`."""
    return parse_version(version)[0]


def check_tensorrt_version(version: str) -> None:
    """Refuse TensorRT releases before 10.0 (no strongly typed networks, no execute_async_v3)."""
    if parse_version(version)[:2] < MIN_TENSORRT:
        raise OptionError(f"TensorRT {version} is too old: vgg-deploy needs TensorRT >= 10.0 "
                          '(pip install -U "vgg-deploy[trt]")')


def check_hardware_compat(level: str, *, tensorrt_version: str, compute_capability: str) -> None:
    """Refuse a --hardware-compat this TensorRT or this GPU cannot build, with the reason."""
    if level not in HARDWARE_COMPAT:
        raise OptionError(f"unknown hardware compatibility {level!r}; choose one of: {', '.join(HARDWARE_COMPAT)}",
                          option="--hardware-compat")
    (need_trt, need_cc) = HARDWARE_COMPAT[level]
    if parse_version(tensorrt_version)[:2] < need_trt:
        raise OptionError(
            f"--hardware-compat {level} needs TensorRT >= {'.'.join(map(str, need_trt))} "
            f"(it was added there); this is TensorRT {tensorrt_version}: upgrade it, or use --hardware-compat ampere+",
            option="--hardware-compat",
        )
    if parse_version(compute_capability)[:2] < need_cc:
        raise OptionError(
            f"--hardware-compat {level} can only be built on a GPU of compute capability >= "
            f"{'.'.join(map(str, need_cc))}; this GPU has {compute_capability}", option="--hardware-compat",
        )
