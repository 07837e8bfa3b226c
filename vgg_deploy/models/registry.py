"""Named models: the standard VGG variants, the d2l Fashion-MNIST VGG, a tiny test model, and the reference
architectures VGG is compared with (AlexNet, LeNet-5), with the published ImageNet accuracy of each; the model
families, and the questions only the whole registry can answer (which model a checkpoint or metadata describes)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import VGGDeployError
from .alexnet import AlexNetConfig
from .config import STANDARD_BLOCKS, VGGConfig
from .family import ImageConfig, ModelFamily, PublishedAccuracy
from .lenet import LeNetConfig

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "list_models", "model_config", "UnknownModelError", "published_accuracy", "PUBLISHED_SOURCE", "ModelInfo",
    "model_info", "families", "family_of", "config_from_facts", "recognise_checkpoint", "describe_checkpoint",
]

# Every model family, by the name its metadata carries: a new architecture is one config class added here.
_FAMILIES: dict[str, type[ImageConfig]] = {cls.family: cls for cls in (VGGConfig, AlexNetConfig, LeNetConfig)}
# metadata keys written before families existed: an ONNX without "family" is a VGG
DEFAULT_FAMILY = "vgg"


# torchvision's IMAGENET1K_V1 weights, ImageNet-1k validation, single 224x224 center crop of a 256 resize.
PUBLISHED_SOURCE = ("torchvision model docs, IMAGENET1K_V1 weights (https://pytorch.org/vision/stable/models.html): "
                    "ImageNet-1k val, 224x224 center crop")
_PUBLISHED = {
    "vgg11": (69.02, 88.628), "vgg11_bn": (70.37, 89.81), "vgg13": (69.928, 89.246), "vgg13_bn": (71.586, 90.374),
    "vgg16": (71.592, 90.382), "vgg16_bn": (73.36, 91.516), "vgg19": (72.376, 90.876), "vgg19_bn": (74.218, 91.842),
    "alexnet": (56.522, 79.066),
}


def _registry() -> dict[str, ModelFamily]:
    configs: dict[str, ModelFamily] = {}
    for name, blocks in STANDARD_BLOCKS.items():
        configs[name] = VGGConfig(name=name, blocks=blocks)
        configs[f"{name}_bn"] = VGGConfig(name=f"{name}_bn", blocks=blocks, batch_norm=True)
    # Dive into Deep Learning, section 8.2: VGG-11's blocks at 1/4 width, Fashion-MNIST resized to 224x224,
    # no normalisation, the feature map flattened straight into the classifier.
    configs["d2l_vgg11_fashion"] = VGGConfig(
        name="d2l_vgg11_fashion", blocks=STANDARD_BLOCKS["vgg11"], width_divisor=4, in_channels=1,
        num_classes=10, classifier_input="flatten", mean=(0.0,), std=(1.0,), resize_size=224,
    )
    # Trained in seconds on scikit-learn's bundled 8x8 digits (upsampled): real data for the CPU pipeline and tests.
    configs["vgg_digits"] = VGGConfig(
        name="vgg_digits", blocks=((1, 8), (1, 16), (2, 32)), in_channels=1, num_classes=10, input_size=(32, 32),
        classifier_input="flatten", classifier_width=64, dropout=0.1, mean=(0.5,), std=(0.5,), resize_size=32,
        labels=tuple(str(d) for d in range(10)),
    )
    # A few thousand parameters: exercises every code path in milliseconds.
    configs["vgg_tiny"] = VGGConfig(
        name="vgg_tiny", blocks=((1, 8), (1, 16), (2, 32)), input_size=(32, 32), num_classes=10,
        classifier_input="flatten", classifier_width=64, resize_size=32,
    )
    # The references the VGG family is compared with: torchvision's AlexNet, d2l's LeNet-5 (sigmoid, or ReLU).
    configs["alexnet"] = AlexNetConfig(name="alexnet")
    configs["lenet"] = LeNetConfig(name="lenet")
    configs["lenet_relu"] = LeNetConfig(name="lenet_relu", activation="relu")
    return configs


_CONFIGS = dict(sorted(_registry().items()))  # by name: recognising a checkpoint asks them in this order


class UnknownModelError(VGGDeployError):
    pass


def list_models(pattern: str = "*", *, reference: bool | None = None) -> list[str]:
    """Registered model names matching a shell-style pattern, e.g. list_models("vgg1*_bn"); reference=True gives
    only the reference architectures (AlexNet, LeNet), False only the VGGs. `model_info` says which is which."""
    return sorted(n for n, c in _CONFIGS.items()
                  if fnmatch.fnmatchcase(n, pattern) and (reference is None or c.reference == reference))


def published_accuracy(name: str) -> PublishedAccuracy | None:
    """The published ImageNet top-1/top-5 (%) of a registered architecture's torchvision weights, or None."""
    figures = _PUBLISHED.get(name.lower())
    return None if figures is None else PublishedAccuracy(top1=figures[0], top5=figures[1], source=PUBLISHED_SOURCE)


@dataclass(frozen=True)
class ModelInfo:
    """One registered model, as `list_models` users want to see it."""

    name: str
    family: str
    reference: bool
    input: str  # "3x224x224"
    num_classes: int
    macs: int
    published: PublishedAccuracy | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "published": None if self.published is None else self.published.__dict__}


def model_info(name: str) -> ModelInfo:
    config = model_config(name)
    h, w = config.input_size
    return ModelInfo(name=config.name, family=config.family, reference=config.reference,
                     input=f"{config.in_channels}x{h}x{w}", num_classes=config.num_classes, macs=config.macs(),
                     published=published_accuracy(config.name))


def model_config(name: str) -> Any:
    """The config (architecture and preprocessing facts) of a registered model, without building it."""
    try:
        return _CONFIGS[name.lower()]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; choose one of: {', '.join(list_models(reference=False))}; "
            f"references: {', '.join(list_models(reference=True))}"
        ) from None


def families() -> dict[str, type[ImageConfig]]:
    return dict(_FAMILIES)


def family_of(name: str) -> type[ImageConfig]:
    if name not in _FAMILIES:
        raise VGGDeployError(f"unknown model family {name!r}; this vgg-deploy knows: {', '.join(sorted(_FAMILIES))}")
    return _FAMILIES[name]


def config_from_facts(facts: Mapping[str, Any], *, source: str) -> Any:
    """The config an artifact's metadata describes, through its family's own reader."""
    cls = family_of(str(facts.get("family", DEFAULT_FAMILY)))
    try:
        return cls.from_metadata(facts)
    except (TypeError, KeyError, ValueError) as exc:
        raise VGGDeployError(f"{source}: its vgg-deploy metadata does not describe a {cls.family} model ({exc}); "
                             "export it again with `vgg-deploy export`") from None


def recognise_checkpoint(state: Mapping[str, Tensor]) -> str | None:
    """The registered model whose layout a state dict has (asking every family), or None."""
    for cls in _FAMILIES.values():
        name = cls.recognise(state, registered=_CONFIGS)
        if name is not None:
            return name
    return None


def describe_checkpoint(state: Mapping[str, Tensor]) -> str | None:
    """What model a state dict fits, for error messages (e.g. "--model alexnet --num-classes 10"), or None."""
    known = _FAMILIES.values()
    owner = next((cls for cls in known if cls.recognise(state, registered=_CONFIGS) is not None), None)
    for cls in [owner] if owner is not None else known:  # a family's own reading before another's guess
        text = cls.describe_state(state, registered=_CONFIGS)
        if text is not None:
            return text
    return None
