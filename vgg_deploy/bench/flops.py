"""Work per image, from the model's config alone: the denominator of "what fraction of the machine's peak"."""

from __future__ import annotations

from ..models.family import ModelFamily

__all__ = ["model_macs", "model_flops"]


def model_macs(config: ModelFamily) -> int:
    """Multiply-accumulates of one image through the convolutions and linear layers (pools, activations and
    biases are not counted: a rounding error next to the convolutions). VGG-16 at 224x224: 15.47 G."""
    return config.macs()


def model_flops(config: ModelFamily) -> int:
    """Floating-point (or integer) operations per image: 2 x MACs, the convention peak figures use."""
    return 2 * config.macs()
