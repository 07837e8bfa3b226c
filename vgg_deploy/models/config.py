"""A VGG network's configuration and preprocessing facts: plain data, readable without torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Mapping

from ..errors import ConfigError
from .family import IMAGENET_MEAN, IMAGENET_STD, ImageConfig, ModelFamily, register_family

if TYPE_CHECKING:
    from torch import Tensor

    from .vgg import VGG

__all__ = ["VGGConfig", "IMAGENET_MEAN", "IMAGENET_STD", "check_buildable", "MAX_PARAMETER_BYTES"]

ClassifierInput = Literal["avgpool", "flatten"]

# ONNX files are written with their weights inline (one self-contained file), and protobuf caps a file at 2 GB.
MAX_PARAMETER_BYTES = 2 * 10**9


@register_family
@dataclass(frozen=True, kw_only=True)
class VGGConfig(ImageConfig):
    """Everything that defines a VGG network and its preprocessing; readable without building the model.

    blocks: (num_convs, out_channels) per block, before `width_divisor` is applied.
    classifier_input: "avgpool" = torchvision's adaptive average pool to 7x7; "flatten" = the feature map as
    it is (the d2l VGG and small models), so the classifier's input size follows from `input_size`.
    """

    family: ClassVar[str] = "vgg"
    classes_key: ClassVar[str] = "classifier.6.weight"

    blocks: tuple[tuple[int, int], ...]
    batch_norm: bool = False
    width_divisor: int = 1
    classifier_input: ClassifierInput = "avgpool"
    classifier_width: int = 4096
    dropout: float = 0.5

    def __post_init__(self) -> None:
        _check_config(self)
        super().__post_init__()

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

    # -- the family protocol --------------------------------------------------------------------------------------
    def macs(self) -> int:
        """Pools, ReLUs and biases are not counted: a rounding error next to the 3x3 convolutions.
        VGG-16 at 224x224: 15.47 G."""
        height, width = self.input_size
        in_channels = self.in_channels
        total = 0
        for (num_convs, _), channels in zip(self.blocks, self.channels):
            for _ in range(num_convs):
                total += height * width * in_channels * channels * 9  # 3x3, padding 1: the output keeps H x W
                in_channels = channels
            height, width = height // 2, width // 2
        hidden = self.classifier_width
        return total + self.classifier_in_features * hidden + hidden * hidden + hidden * self.num_classes

    def weighted_layers(self) -> int:
        return sum(n for n, _ in self.blocks) + 3

    def build(self) -> VGG:
        from .vgg import build_vgg

        return build_vgg(self)

    def fit_checkpoint(self, state: Mapping[str, Tensor], *, keep: frozenset[str] = frozenset()) -> VGGConfig:
        from .checkpoint import fit_config

        return fit_config(self, state, keep=keep)

    @classmethod
    def recognise(cls, state: Mapping[str, Tensor]) -> str | None:
        from .checkpoint import infer_architecture

        arch = infer_architecture(state)
        return arch.standard_name() if arch is not None else None

    @classmethod
    def describe_state(cls, state: Mapping[str, Tensor]) -> str | None:
        from .checkpoint import infer_architecture

        arch = infer_architecture(state)
        return arch.describe() if arch is not None else None


def _check_config(cfg: VGGConfig) -> None:
    if not cfg.blocks:
        raise ConfigError(f"{cfg.name}: a VGG needs at least one block")
    for num_convs, out in cfg.blocks:
        if num_convs < 1 or out < 1:
            raise ConfigError(f"{cfg.name}: block ({num_convs}, {out}) needs at least one conv and one channel")
    if cfg.width_divisor < 1 or cfg.classifier_width < 1:
        raise ConfigError(f"{cfg.name}: width_divisor and classifier_width must be >= 1")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ConfigError(f"{cfg.name}: dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.classifier_input not in ("avgpool", "flatten"):
        raise ConfigError(f"{cfg.name}: classifier_input must be 'avgpool' or 'flatten', got {cfg.classifier_input!r}")
    smallest = 2 ** len(cfg.blocks)
    h, w = cfg.input_size
    if h < smallest or w < smallest:
        raise ConfigError(
            f"{cfg.name}: input {h}x{w} is too small for {len(cfg.blocks)} pooling blocks; "
            f"each side must be at least {smallest}"
        )


def check_buildable(cfg: ModelFamily, *, memory_bytes: int | None = None) -> None:
    """Refuse, before anything is allocated, a model whose weights cannot go into one ONNX file or whose
    activations for one image exceed this machine's memory (an --input-size of 100000 would ask for terabytes)."""
    h, w = cfg.input_size
    weights = 4 * cfg.parameter_count
    if weights > MAX_PARAMETER_BYTES:
        hint = " or --classifier-input avgpool" if getattr(cfg, "classifier_input", None) == "flatten" else ""
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
