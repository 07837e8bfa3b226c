"""Networks written as a list of layers (torch-free), for the reference architectures: their MACs, activation
memory and layer count follow from the list, and `network.build_layered` builds the torch module from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from ..errors import ConfigError
from .family import ImageConfig

if TYPE_CHECKING:
    from torch import nn

__all__ = ["Layer", "LayeredConfig", "conv", "pool", "linear", "act", "dropout"]


class Layer(NamedTuple):
    """kind: conv | maxpool | avgpool | adaptive_avgpool | linear | relu | sigmoid | dropout.
    conv: size = out channels; pools: size = output side for adaptive, else unused."""

    kind: str
    size: int = 0
    kernel: int = 0
    stride: int = 1
    padding: int = 0


def conv(out: int, kernel: int, stride: int = 1, padding: int = 0) -> Layer:
    return Layer("conv", out, kernel, stride, padding)


def pool(kind: str, kernel: int = 0, stride: int = 0, size: int = 0) -> Layer:
    return Layer(kind, size, kernel, stride)


def linear(out: int) -> Layer:
    return Layer("linear", out)


def act(kind: str) -> Layer:
    return Layer(kind)


def dropout() -> Layer:
    return Layer("dropout")


@dataclass(frozen=True, kw_only=True)
class LayeredConfig(ImageConfig):
    """A family whose network is `features` -> [pool] -> flatten -> `classifier`, written as layer lists."""

    def features(self) -> tuple[Layer, ...]:
        raise NotImplementedError

    def pool(self) -> Layer | None:
        """The layer between features and classifier (torchvision's `avgpool`), or None."""
        return None

    def classifier(self) -> tuple[Layer, ...]:
        raise NotImplementedError

    def shapes(self) -> list[tuple[Layer, int, int, int, int]]:
        """(layer, input features, output C, H, W) of every layer; linears have H = W = 1."""
        c, (h, w) = self.in_channels, self.input_size
        out: list[tuple[Layer, int, int, int, int]] = []
        tail = (self.pool(),) if self.pool() is not None else ()
        for layer in (*self.features(), *tail):
            before = c
            if layer.kind == "conv":
                c = layer.size
            if layer.kind in ("conv", "maxpool", "avgpool"):
                h = (h + 2 * layer.padding - layer.kernel) // layer.stride + 1
                w = (w + 2 * layer.padding - layer.kernel) // layer.stride + 1
            elif layer.kind == "adaptive_avgpool":
                h = w = layer.size
            if h < 1 or w < 1:
                raise ConfigError(f"{self.name}: input {self.input_size[0]}x{self.input_size[1]} is too small "
                                  f"for its layers (nothing left after a {layer.kind})")
            out.append((layer, before, c, h, w))
        features = c * h * w
        for layer in self.classifier():
            before = features
            if layer.kind == "linear":
                features = layer.size
            out.append((layer, before, features, 1, 1))
        return out

    def macs(self) -> int:
        total = 0
        for layer, before, c, h, w in self.shapes():
            if layer.kind == "conv":
                total += h * w * c * before * layer.kernel * layer.kernel
            elif layer.kind == "linear":
                total += before * c
        return total

    def weighted_layers(self) -> int:
        return sum(layer.kind in ("conv", "linear") for layer, *_ in self.shapes())

    @property
    def activation_bytes_per_image(self) -> int:
        return 4 * sum(c * h * w for layer, _, c, h, w in self.shapes() if layer.kind != "dropout")

    @property
    def parameter_count(self) -> int:
        total = 0
        for layer, before, c, _, _ in self.shapes():
            if layer.kind == "conv":
                total += before * c * layer.kernel * layer.kernel + c
            elif layer.kind == "linear":
                total += before * c + c
        return total

    def build(self) -> nn.Module:
        from .network import build_layered

        return build_layered(self)
