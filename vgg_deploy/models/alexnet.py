"""AlexNet, the reference the VGG papers and model-zoo charts compare against, in torchvision's layout
(torchvision/models/alexnet.py: the "one weird trick" single-tower variant its ImageNet weights were trained as),
so its published checkpoint loads strictly and gives the same logits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .layers import Layer, LayeredConfig, act, conv, dropout, linear, pool

__all__ = ["AlexNetConfig"]


@dataclass(frozen=True, kw_only=True)
class AlexNetConfig(LayeredConfig):
    family: ClassVar[str] = "alexnet"
    reference: ClassVar[bool] = True
    classes_key: ClassVar[str] = "classifier.6.weight"

    def features(self) -> tuple[Layer, ...]:
        relu = act("relu")
        return (
            conv(64, 11, stride=4, padding=2), relu, pool("maxpool", 3, 2),
            conv(192, 5, padding=2), relu, pool("maxpool", 3, 2),
            conv(384, 3, padding=1), relu,
            conv(256, 3, padding=1), relu,
            conv(256, 3, padding=1), relu, pool("maxpool", 3, 2),
        )

    def pool(self) -> Layer | None:
        return pool("adaptive_avgpool", size=6)

    def classifier(self) -> tuple[Layer, ...]:
        relu = act("relu")
        return (dropout(), linear(4096), relu, dropout(), linear(4096), relu, linear(self.num_classes))
