"""LeNet-5 as *Dive into Deep Learning* (section 7.6) writes it: two 5x5 convolutions, each followed by a 2x2
average pool, then three dense layers, on 1x28x28 images (Fashion-MNIST); sigmoid as in the book, or ReLU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ..errors import ConfigError
from .layers import Layer, LayeredConfig, act, conv, linear, pool

__all__ = ["LeNetConfig"]


@dataclass(frozen=True, kw_only=True)
class LeNetConfig(LayeredConfig):
    family: ClassVar[str] = "lenet"
    reference: ClassVar[bool] = True
    classes_key: ClassVar[str] = "classifier.4.weight"

    in_channels: int = 1
    num_classes: int = 10
    input_size: tuple[int, int] = (28, 28)
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    resize_size: int | None = 28
    activation: Literal["sigmoid", "relu"] = "sigmoid"

    def __post_init__(self) -> None:
        if self.activation not in ("sigmoid", "relu"):
            raise ConfigError(f"{self.name}: activation must be 'sigmoid' or 'relu', got {self.activation!r}")
        super().__post_init__()

    def features(self) -> tuple[Layer, ...]:
        f = act(self.activation)
        return (conv(6, 5, padding=2), f, pool("avgpool", 2, 2), conv(16, 5), f, pool("avgpool", 2, 2))

    def classifier(self) -> tuple[Layer, ...]:
        f = act(self.activation)
        return (linear(120), f, linear(84), f, linear(self.num_classes))
