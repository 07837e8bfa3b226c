"""A VGG network's configuration and preprocessing facts, and what a torchvision-layout VGG state dict says about
the network that made it: plain data, readable without torch."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Mapping

from ..errors import ConfigError
from .family import IMAGENET_MEAN, IMAGENET_STD, ImageConfig, ModelFamily

if TYPE_CHECKING:
    from torch import Tensor

    from .vgg import VGG

__all__ = [
    "VGGConfig", "IMAGENET_MEAN", "IMAGENET_STD", "STANDARD_BLOCKS", "CheckpointArchitecture", "infer_architecture",
    "fit_config",
]

ClassifierInput = Literal["avgpool", "flatten"]

# torchvision's cfgs "A", "B", "D", "E" written as VGG blocks: (num_convs, out_channels).
STANDARD_BLOCKS: dict[str, tuple[tuple[int, int], ...]] = {
    "vgg11": ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    "vgg13": ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),
    "vgg16": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
    "vgg19": ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),
}


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
        return fit_config(self, state, keep=keep)

    @classmethod
    def recognise(cls, state: Mapping[str, Tensor], *, registered: Mapping[str, ModelFamily]) -> str | None:
        """The standard VGG (at any width divisor) whose blocks `state` has; the registry's list is not needed."""
        arch = infer_architecture(state)
        return arch.standard_name() if arch is not None else None

    @classmethod
    def describe_state(cls, state: Mapping[str, Tensor], *, registered: Mapping[str, ModelFamily]) -> str | None:
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


@dataclass(frozen=True)
class CheckpointArchitecture:
    """What a torchvision-layout VGG state dict says about the network that made it."""

    blocks: tuple[tuple[int, int], ...]
    batch_norm: bool
    in_channels: int
    num_classes: int | None
    classifier_width: int | None = None  # rows of classifier.0 (4096 in torchvision's models)
    classifier_in_features: int | None = None  # columns of classifier.0: last channels x the pooled map

    def standard_name(self) -> str | None:
        """The registered standard model with these blocks (at any width divisor), if any."""
        for name, blocks in STANDARD_BLOCKS.items():
            if self.divisor_of(blocks) is not None:
                return f"{name}_bn" if self.batch_norm else name
        return None

    def divisor_of(self, blocks: tuple[tuple[int, int], ...]) -> int | None:
        """The width divisor that turns `blocks` into this checkpoint's blocks; None if none does."""
        if [n for n, _ in blocks] != [n for n, _ in self.blocks]:
            return None
        for divisor in (1, 2, 4, 8, 16):
            if all(max(1, c // divisor) == mine for (_, c), (_, mine) in zip(blocks, self.blocks)):
                return divisor
        return None

    def describe(self) -> str:
        name = self.standard_name()
        if name is None:
            return f"a custom VGG with blocks {list(self.blocks)}, batch_norm={self.batch_norm}"
        divisor = self.divisor_of(STANDARD_BLOCKS[name.removesuffix("_bn")])
        options = f"--model {name}"
        if self.num_classes is not None:
            options += f" --num-classes {self.num_classes}"
        if self.in_channels != 3:
            options += f" --in-channels {self.in_channels}"
        if divisor != 1:
            options += f" --width-divisor {divisor}"
        if self.classifier_width is not None and self.classifier_width != 4096:
            options += f" --classifier-width {self.classifier_width}"
        channels = self.blocks[-1][1]
        if self.classifier_in_features is not None and self.classifier_in_features != channels * 49:
            # not torchvision's 7x7 average pool: a plain flatten of the last feature map, whose area says the input
            side = math.isqrt(self.classifier_in_features // channels) if self.classifier_in_features % channels == 0 else 0
            if side and side * side * channels == self.classifier_in_features:
                options += f" --classifier-input flatten --input-size {side << len(self.blocks)}"
            else:
                options += " --classifier-input flatten (with a non-square input size)"
        return options


def infer_architecture(state: Mapping[str, Tensor]) -> CheckpointArchitecture | None:
    """Recover blocks and batch norm from torchvision's flat `features.N` numbering; None if not that layout."""
    convs = sorted(
        (int(m.group(1)), tuple(v.shape))
        for k, v in state.items()
        if (m := re.fullmatch(r"features\.(\d+)\.weight", k)) and v.ndim == 4
    )
    if not convs or any(shape[2:] != (3, 3) for _, shape in convs):
        return None  # no convs, or not VGG's 3x3 kernels
    batch_norm = any(re.fullmatch(r"features\.\d+\.running_mean", k) for k in state)
    step = 3 if batch_norm else 2  # conv, [bn], relu
    blocks: list[tuple[int, int]] = []
    count = 1
    for (prev, prev_shape), (index, _) in zip(convs, convs[1:]):
        if index - prev == step:
            count += 1
        elif index - prev == step + 1:  # a max-pool sits between them
            blocks.append((count, prev_shape[0]))
            count = 1
        else:
            return None
    blocks.append((count, convs[-1][1][0]))
    last, first = state.get("classifier.6.weight"), state.get("classifier.0.weight")
    return CheckpointArchitecture(
        blocks=tuple(blocks), batch_norm=batch_norm, in_channels=convs[0][1][1],
        num_classes=int(last.shape[0]) if last is not None and last.ndim == 2 else None,
        classifier_width=int(first.shape[0]) if first is not None and first.ndim == 2 else None,
        classifier_in_features=int(first.shape[1]) if first is not None and first.ndim == 2 else None,
    )


def fit_config(config: VGGConfig, state: Mapping[str, Tensor], *, keep: frozenset[str] = frozenset()) -> VGGConfig:
    """Take class count, input channels, classifier width and width divisor from the checkpoint.

    Fields named in `keep` (the ones the user set) are left alone; the divisor is taken only when the
    checkpoint has this config's blocks at another width.
    """
    arch = infer_architecture(state)
    if arch is None:
        return config
    found = {
        "num_classes": arch.num_classes,
        "in_channels": arch.in_channels,
        "classifier_width": arch.classifier_width,
        "width_divisor": arch.divisor_of(config.blocks),
    }
    return config.with_options(**{k: v for k, v in found.items() if k not in keep})
