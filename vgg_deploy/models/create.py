"""`create_model`: a registered model built in eval mode, with random, ImageNet or checkpoint weights.

Torch-free to import (the network and checkpoint code load on first use), so `vgg_deploy.models` stays light."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import VGGDeployError
from .family import check_buildable
from .registry import model_config

if TYPE_CHECKING:
    from torch import nn

__all__ = ["create_model"]


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
    from .saved import checkpoint_config  # reads the checkpoint's metadata, which export.metadata knows

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
