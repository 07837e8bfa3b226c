"""Named VGG configurations: the standard variants, the d2l Fashion-MNIST VGG, and a tiny test model."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

from ..errors import VGGDeployError
from .config import VGGConfig, check_buildable

if TYPE_CHECKING:
    from .vgg import VGG

__all__ = ["list_models", "model_config", "create_model", "UnknownModelError", "STANDARD_BLOCKS"]

# torchvision's cfgs "A", "B", "D", "E" written as VGG blocks: (num_convs, out_channels).
STANDARD_BLOCKS: dict[str, tuple[tuple[int, int], ...]] = {
    "vgg11": ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    "vgg13": ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),
    "vgg16": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
    "vgg19": ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),
}


def _registry() -> dict[str, VGGConfig]:
    configs: dict[str, VGGConfig] = {}
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
    return configs


_CONFIGS = _registry()


class UnknownModelError(VGGDeployError):
    pass


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, e.g. list_models("vgg1*_bn")."""
    return sorted(n for n in _CONFIGS if fnmatch.fnmatchcase(n, pattern))


def model_config(name: str) -> VGGConfig:
    """The config (architecture and preprocessing facts) of a registered model, without building it."""
    try:
        return _CONFIGS[name.lower()]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}") from None


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
) -> VGG:
    """Build a registered model in eval mode; options left as None keep the model's defaults.

    weights: None (random, torchvision's init), "imagenet" (torchvision's published file, standard models
    only), or a checkpoint path. A checkpoint's class count, input channels, classifier width and width
    divisor are used when not given here.
    """
    from .checkpoint import fit_config, imagenet_state_dict, load_weights, read_state_dict
    from .saved import checkpoint_config
    from .vgg import build_vgg

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
        return build_vgg(config)
    if weights == "imagenet":
        state, source = imagenet_state_dict(config)
    else:
        state, source = read_state_dict(weights), weights
        given = {"num_classes": num_classes, "in_channels": in_channels, "classifier_width": classifier_width,
                 "width_divisor": width_divisor}
        config = fit_config(config, state, keep=frozenset(k for k, v in given.items() if v is not None))
        check_buildable(config)
    model = build_vgg(config)
    load_weights(model, state, source=source)
    return model
