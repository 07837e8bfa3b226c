"""Models: the family protocol, configs and the registry (torch-free), the networks and checkpoint loading (torch).
VGG is the subject; AlexNet and LeNet-5 are registered as the references it is compared with."""

from __future__ import annotations

from typing import Any

from .alexnet import AlexNetConfig
from .config import STANDARD_BLOCKS, VGGConfig, infer_architecture
from .create import create_model
from .family import ModelFamily, PublishedAccuracy
from .lenet import LeNetConfig
from .registry import (ModelInfo, UnknownModelError, describe_checkpoint, list_models, model_config, model_info,
                       published_accuracy, recognise_checkpoint)

__all__ = [
    "VGG", "VGGConfig", "vgg_block", "build_vgg", "list_models", "model_config", "create_model",
    "UnknownModelError", "STANDARD_BLOCKS", "read_state_dict", "load_weights", "infer_architecture",
    "ModelFamily", "AlexNetConfig", "LeNetConfig", "PublishedAccuracy", "published_accuracy", "ModelInfo", "model_info",
    "recognise_checkpoint", "describe_checkpoint",
]

_TORCH_NAMES = {
    "VGG": "vgg", "vgg_block": "vgg", "build_vgg": "vgg",
    "read_state_dict": "checkpoint", "load_weights": "checkpoint",
}


def __getattr__(name: str) -> Any:
    # The network and checkpoint code need torch; import it only when they are used.
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(f".{_TORCH_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
