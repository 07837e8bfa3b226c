"""Named models: the standard VGG variants, the d2l Fashion-MNIST VGG, a tiny test model, and the reference
architectures VGG is compared with (AlexNet, LeNet-5), with the published ImageNet accuracy of each."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import VGGDeployError
from .alexnet import AlexNetConfig
from .config import VGGConfig, check_buildable
from .family import ModelFamily, PublishedAccuracy
from .lenet import LeNetConfig

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "list_models", "model_config", "create_model", "UnknownModelError", "STANDARD_BLOCKS", "published_accuracy",
    "PUBLISHED_SOURCE", "ModelInfo", "model_info",
]

# torchvision's cfgs "A", "B", "D", "E" written as VGG blocks: (num_convs, out_channels).
STANDARD_BLOCKS: dict[str, tuple[tuple[int, int], ...]] = {
    "vgg11": ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    "vgg13": ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),
    "vgg16": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
    "vgg19": ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),
}


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


_CONFIGS = _registry()


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


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    in_channels: int | None = None,
    width_divisor: int | None = None,
    input_size: tuple[int, int] | None = None,
    classifier_input: str | None = None,
    classifier_width: int | None = None,
    dropout: float | None = None,
    weights: str | None = None,
) -> nn.Module:
    """Build a registered model in eval mode; options left as None keep the model's defaults.

    weights: None (random, torchvision's init), "imagenet" (torchvision's published file, standard models
    only), or a checkpoint path. A checkpoint's class count (and for a VGG its input channels, classifier width
    and width divisor) are used when not given here. VGG-only options given for another family are an error.
    """
    from .checkpoint import imagenet_state_dict, load_weights, read_state_dict
    from .saved import checkpoint_config

    saved = checkpoint_config(weights) if weights not in (None, "imagenet") else None
    if saved is not None and saved.name != model_config(name).name:
        raise VGGDeployError(f"{weights}: this checkpoint is a {saved.name} (from its metadata), not a {name}; "
                             f"pass --model {saved.name}")
    config = (saved or model_config(name)).with_options(
        num_classes=num_classes, in_channels=in_channels, width_divisor=width_divisor, input_size=input_size,
        classifier_input=classifier_input, classifier_width=classifier_width, dropout=dropout,
    )
    check_buildable(config)
    if weights is None:
        return config.build()
    if weights == "imagenet":
        state, source = imagenet_state_dict(config)
    else:
        state, source = read_state_dict(weights), weights
        given = {"num_classes": num_classes, "in_channels": in_channels, "classifier_width": classifier_width,
                 "width_divisor": width_divisor}
        config = config.fit_checkpoint(state, keep=frozenset(k for k, v in given.items() if v is not None))
        check_buildable(config)
    model = config.build()
    load_weights(model, state, source=source)
    return model
