"""The VGG network, built from VGG blocks, in torchvision's parameter layout.

A block is `num_convs` x (3x3 conv, padding 1, [batch norm], ReLU) followed by a 2x2/stride-2 max-pool.
The layers of all blocks sit flat in `features`, so parameter names match torchvision's
(`features.0.weight`, ..., `classifier.6.bias`) and its checkpoints load as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from .config import VGGConfig  # the config builds its network (config.build()): no import back at run time

__all__ = ["VGG", "vgg_block", "build_vgg"]


def vgg_block(
    num_convs: int, out_channels: int, *, in_channels: int | None = None, batch_norm: bool = False
) -> nn.Sequential:
    """num_convs x (3x3 conv, padding 1, [BN], ReLU), then a 2x2/stride-2 max-pool.

    Without `in_channels` the first conv is lazy (its input channels are set by the first forward), as in d2l.
    """
    layers: list[nn.Module] = []
    for i in range(num_convs):
        if i == 0 and in_channels is None:
            layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
        else:
            layers.append(nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """features (flat VGG blocks) -> avgpool (7x7 adaptive, or identity) -> flatten -> classifier (3 linears)."""

    def __init__(self, config: VGGConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        in_ch = config.in_channels
        for (num_convs, _), out_ch in zip(config.blocks, config.channels):
            layers.extend(vgg_block(num_convs, out_ch, in_channels=in_ch, batch_norm=config.batch_norm))
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.avgpool: nn.Module = nn.AdaptiveAvgPool2d((7, 7)) if config.classifier_input == "avgpool" else nn.Identity()
        width = config.classifier_width
        self.classifier = nn.Sequential(
            nn.Linear(config.classifier_in_features, width),
            nn.ReLU(inplace=True),
            nn.Dropout(p=config.dropout),
            nn.Linear(width, width),
            nn.ReLU(inplace=True),
            nn.Dropout(p=config.dropout),
            nn.Linear(width, config.num_classes),
        )
        self._init_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)

    def _init_weights(self) -> None:
        # torchvision's initialisation, so random-weight models behave like its untrained ones.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)


def build_vgg(config: VGGConfig) -> VGG:
    """The network for a config, in eval mode, with torchvision's random initialisation."""
    return VGG(config).eval()
