"""Work per image, from the model's config alone: the denominator of "what fraction of the machine's peak"."""

from __future__ import annotations

from ..models.config import VGGConfig

__all__ = ["vgg_macs", "vgg_flops"]


def vgg_macs(config: VGGConfig) -> int:
    """Multiply-accumulates of one image through the convolutions and linear layers (pools, ReLUs and biases
    are not counted: they are a rounding error next to the 3x3 convolutions). VGG-16 at 224x224: 15.47 G."""
    height, width = config.input_size
    in_channels = config.in_channels
    total = 0
    for (num_convs, _), channels in zip(config.blocks, config.channels):
        for _ in range(num_convs):
            total += height * width * in_channels * channels * 9  # 3x3, padding 1: the output keeps H x W
            in_channels = channels
        height, width = height // 2, width // 2
    hidden = config.classifier_width
    total += config.classifier_in_features * hidden + hidden * hidden + hidden * config.num_classes
    return total


def vgg_flops(config: VGGConfig) -> int:
    """Floating-point (or integer) operations per image: 2 x MACs, the convention peak figures use."""
    return 2 * vgg_macs(config)
