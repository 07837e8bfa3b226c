"""The torch module of a `LayeredConfig`: features -> pool -> flatten -> classifier, numbered like torchvision
(`features.0.weight`, ..., `classifier.6.bias`) so its published checkpoints load as they are."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from .layers import Layer, LayeredConfig  # the config builds its network: no import back at run time

__all__ = ["LayeredNet", "build_layered"]


def _module(layer: Layer, before: int, after: int) -> nn.Module:
    if layer.kind == "conv":
        return nn.Conv2d(before, after, layer.kernel, stride=layer.stride, padding=layer.padding)
    if layer.kind == "linear":
        return nn.Linear(before, after)
    if layer.kind == "maxpool":
        return nn.MaxPool2d(layer.kernel, layer.stride)
    if layer.kind == "avgpool":
        return nn.AvgPool2d(layer.kernel, layer.stride)
    if layer.kind == "adaptive_avgpool":
        return nn.AdaptiveAvgPool2d((layer.size, layer.size))
    if layer.kind == "relu":
        return nn.ReLU(inplace=True)
    if layer.kind == "sigmoid":
        return nn.Sigmoid()
    if layer.kind == "dropout":
        return nn.Dropout(p=0.5)
    raise ValueError(f"unknown layer kind {layer.kind!r}")


class LayeredNet(nn.Module):
    def __init__(self, config: LayeredConfig) -> None:
        super().__init__()
        self.config = config
        built = [_module(layer, before, after) for layer, before, after, _, _ in config.shapes()]
        n_features, n_pool = len(config.features()), int(config.pool() is not None)
        self.features = nn.Sequential(*built[:n_features])
        self.avgpool = built[n_features] if n_pool else nn.Identity()
        self.classifier = nn.Sequential(*built[n_features + n_pool:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def build_layered(config: LayeredConfig) -> LayeredNet:
    """The network, in eval mode, with PyTorch's default initialisation (as torchvision's AlexNet)."""
    return LayeredNet(config).eval()
