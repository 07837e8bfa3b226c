"""Checkpoints that carry their config: a .safetensors file whose `__metadata__` holds the model's facts (name,
blocks, classes, input size, preprocessing) as in an exported ONNX, so it loads without being told what it is.

A .pth stays a plain state dict (torchvision's strict loading accepts it); for it, and for checkpoints written by
other tools, commands take `--model NAME`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CheckpointError

if TYPE_CHECKING:
    from .family import ModelFamily
    from .vgg import VGG

__all__ = ["save_checkpoint", "checkpoint_config"]


def save_checkpoint(model: VGG, path: str | Path, *, weights: str = "trained") -> Path:
    """Write `model`'s weights to a .safetensors file with its config in the metadata (atomically)."""
    from safetensors.torch import save_file

    from ..artifacts import atomic_output, check_output
    from ..export.metadata import config_metadata

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise CheckpointError(f"{path}: a checkpoint with its config is a .safetensors file; name it "
                              f"{path.with_suffix('.safetensors').name}, or save a plain .pth with torch.save")
    state = {key: value.detach().contiguous().cpu() for key, value in model.state_dict().items()}
    check_output(path, expected_bytes=sum(v.numel() * v.element_size() for v in state.values()))
    with atomic_output(path) as tmp:
        save_file(state, str(tmp), metadata=config_metadata(model.config, precision="fp32", weights=weights))
    return path


def checkpoint_config(path: str | Path) -> ModelFamily | None:
    """The config a vgg-deploy .safetensors checkpoint carries; None for other files (.pth, foreign checkpoints)."""
    from safetensors import safe_open

    from ..export.metadata import config_from_metadata, read_metadata

    path = Path(path)
    if path.suffix.lower() != ".safetensors" or not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as reader:
            metadata = reader.metadata() or {}
    except Exception:  # unreadable: read_state_dict says why, with the file's name
        return None
    if "architecture" not in metadata:
        return None
    return config_from_metadata(read_metadata(metadata), source=str(path))
