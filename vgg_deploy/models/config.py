"""A VGG network's configuration and preprocessing facts: plain data, readable without torch."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from ..errors import ConfigError

__all__ = ["VGGConfig", "IMAGENET_MEAN", "IMAGENET_STD", "check_buildable", "MAX_PARAMETER_BYTES"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ClassifierInput = Literal["avgpool", "flatten"]

# ONNX files are written with their weights inline (one self-contained file), and protobuf caps a file at 2 GB.
MAX_PARAMETER_BYTES = 2 * 10**9


@dataclass(frozen=True)
class VGGConfig:
    """Everything that defines a VGG network and its preprocessing; readable without building the model.

    blocks: (num_convs, out_channels) per block, before `width_divisor` is applied.
    classifier_input: "avgpool" = torchvision's adaptive average pool to 7x7; "flatten" = the feature map as
    it is (the d2l VGG and small models), so the classifier's input size follows from `input_size`.
    """

    name: str
    blocks: tuple[tuple[int, int], ...]
    batch_norm: bool = False
    in_channels: int = 3
    num_classes: int = 1000
    width_divisor: int = 1
    input_size: tuple[int, int] = (224, 224)
    classifier_input: ClassifierInput = "avgpool"
    classifier_width: int = 4096
    dropout: float = 0.5
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    resize_size: int | None = None  # shorter side before the center crop; None = input size / 0.875
    labels: tuple[str, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_config(self)

    @property
    def channels(self) -> tuple[int, ...]:
        """Output channels of each block, after the width divisor."""
        return tuple(max(1, out // self.width_divisor) for _, out in self.blocks)

    @property
    def feature_map_size(self) -> tuple[int, int]:
        """Spatial size after the last pool (each 2x2/stride-2 pool floors)."""
        n = len(self.blocks)
        return (self.input_size[0] >> n, self.input_size[1] >> n)

    @property
    def classifier_in_features(self) -> int:
        h, w = (7, 7) if self.classifier_input == "avgpool" else self.feature_map_size
        return self.channels[-1] * h * w

    @property
    def parameter_count(self) -> int:
        """Weights and biases (batch-norm's four per channel included), computed without building the model."""
        total, channels_in = 0, self.in_channels
        for (num_convs, _), out in zip(self.blocks, self.channels):
            for _ in range(num_convs):
                total += channels_in * out * 9 + out + (4 * out if self.batch_norm else 0)
                channels_in = out
        width, features = self.classifier_width, self.classifier_in_features
        return total + features * width + width + width * width + width + width * self.num_classes + self.num_classes

    @property
    def activation_bytes_per_image(self) -> int:
        """fp32 bytes of the conv, ReLU and pool outputs of one image (what a forward pass or calibration holds)."""
        h, w = self.input_size
        total = 0
        for (num_convs, _), channels in zip(self.blocks, self.channels):
            total += 2 * num_convs * channels * h * w  # conv output + ReLU output
            h, w = h // 2, w // 2
            total += channels * h * w  # pool output
        return 4 * total

    @property
    def preprocess_resize(self) -> int:
        return self.resize_size or round(min(self.input_size) / 0.875)

    def with_options(self, **changes: object) -> VGGConfig:
        """A copy with the given fields changed (None = keep); mean/std follow a changed channel count."""
        kept = {k: v for k, v in changes.items() if v is not None}
        channels = kept.get("in_channels", self.in_channels)
        if channels != self.in_channels and "mean" not in kept:
            kept["mean"] = _per_channel(self.mean, channels)  # type: ignore[arg-type]
            kept["std"] = _per_channel(self.std, channels)  # type: ignore[arg-type]
        return replace(self, **kept)  # type: ignore[arg-type]


def _per_channel(values: tuple[float, ...], channels: int) -> tuple[float, ...]:
    """Stats for another channel count: the average of the known ones, repeated (ImageNet's for grayscale)."""
    if len(values) == channels:
        return values
    avg = round(sum(values) / len(values), 4)
    return (avg,) * channels


def _check_config(cfg: VGGConfig) -> None:
    if not cfg.blocks:
        raise ConfigError(f"{cfg.name}: a VGG needs at least one block")
    for num_convs, out in cfg.blocks:
        if num_convs < 1 or out < 1:
            raise ConfigError(f"{cfg.name}: block ({num_convs}, {out}) needs at least one conv and one channel")
    if cfg.in_channels < 1 or cfg.num_classes < 1 or cfg.width_divisor < 1 or cfg.classifier_width < 1:
        raise ConfigError(f"{cfg.name}: in_channels, num_classes, width_divisor and classifier_width must be >= 1")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ConfigError(f"{cfg.name}: dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.classifier_input not in ("avgpool", "flatten"):
        raise ConfigError(f"{cfg.name}: classifier_input must be 'avgpool' or 'flatten', got {cfg.classifier_input!r}")
    if len(cfg.mean) != cfg.in_channels or len(cfg.std) != cfg.in_channels:
        raise ConfigError(f"{cfg.name}: mean/std need {cfg.in_channels} values, got {len(cfg.mean)}/{len(cfg.std)}")
    smallest = 2 ** len(cfg.blocks)
    h, w = cfg.input_size
    if h < smallest or w < smallest:
        raise ConfigError(
            f"{cfg.name}: input {h}x{w} is too small for {len(cfg.blocks)} pooling blocks; "
            f"each side must be at least {smallest}"
        )


def check_buildable(cfg: VGGConfig, *, memory_bytes: int | None = None) -> None:
    """Refuse, before anything is allocated, a model whose weights cannot go into one ONNX file or whose
    activations for one image exceed this machine's memory (an --input-size of 100000 would ask for terabytes)."""
    h, w = cfg.input_size
    weights = 4 * cfg.parameter_count
    if weights > MAX_PARAMETER_BYTES:
        hint = " or --classifier-input avgpool" if cfg.classifier_input == "flatten" else ""
        raise ConfigError(f"{cfg.name} at {h}x{w}: {weights / 1e9:.1f} GB of fp32 weights exceeds ONNX's 2 GB file "
                          f"limit; use a smaller --input-size{hint}")
    if memory_bytes is None:
        memory_bytes = _physical_memory()
    activations = cfg.activation_bytes_per_image
    if memory_bytes and activations > memory_bytes:
        raise ConfigError(f"{cfg.name} at {h}x{w}: one image needs about {activations / 1e9:.1f} GB of activations, "
                          f"more than this machine's {memory_bytes / 1e9:.1f} GB of memory; use a smaller --input-size")


def _physical_memory() -> int:
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
