"""Reading checkpoints safely, torchvision's published ImageNet weights, and loading with strict checking.
(What a VGG state dict says about its architecture is plain data: `config.infer_architecture`.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..artifacts import InputFileError, check_input_file, file_sha256
from ..errors import CheckpointError, first_line
from .registry import describe_checkpoint, model_config

__all__ = ["read_state_dict", "load_weights", "imagenet_state_dict", "IMAGENET_URLS"]

# torchvision's published ImageNet-1k weights (IMAGENET1K_V1), in its state-dict layout.
IMAGENET_URLS = {
    "vgg11": "https://download.pytorch.org/models/vgg11-8a719046.pth",
    "vgg13": "https://download.pytorch.org/models/vgg13-19584684.pth",
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "vgg11_bn": "https://download.pytorch.org/models/vgg11_bn-6002323d.pth",
    "vgg13_bn": "https://download.pytorch.org/models/vgg13_bn-abd245e5.pth",
    "vgg16_bn": "https://download.pytorch.org/models/vgg16_bn-6c64b313.pth",
    "vgg19_bn": "https://download.pytorch.org/models/vgg19_bn-c79401a0.pth",
    "alexnet": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
}

_SHOWN = 3  # how many keys of each kind an error lists


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from .pt/.pth (weights_only: no arbitrary unpickling) or .safetensors.

    Unwraps {"state_dict": ...} and {"model": ...} and DataParallel's "module." prefix.
    """
    import pickle
    import warnings

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file; pass a .pt/.pth/.safetensors state dict")
    try:
        check_input_file(path, what="a .pt/.pth/.safetensors state dict")
    except InputFileError as exc:
        raise CheckpointError(str(exc)) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols and future defaults: not the user's
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                obj: object = load_file(str(path), device="cpu")
            else:
                obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's text advises weights_only=False, i.e. running the file's code: never pass that on.
        text = str(exc)
        after = text.split("WeightsUnpickler error:", 1)[1] if "WeightsUnpickler error:" in text else ""
        # torch goes on to explain how to trust the file: we do not
        detail = first_line(after, default="").strip().split(". Please", 1)[0][:160]
        if "Unsupported global" in detail:
            raise CheckpointError(
                f"{path}: not a plain state dict: it holds Python objects that safe loading refuses ({detail}); "
                "save it with torch.save(model.state_dict(), PATH) or as .safetensors"
            ) from None
        raise CheckpointError(
            f"{path}: cannot read checkpoint (not a pickle that safe loading accepts"
            + (f": {detail}" if detail else "") + "); expected a PyTorch state dict (.pt/.pth, saved with "
            "torch.save) or a .safetensors file"
        ) from None
    except Exception as exc:  # any reader failure on user data is a user error
        reason = first_line(exc, limit=200)
        raise CheckpointError(
            f"{path}: cannot read checkpoint ({type(exc).__name__}: {reason[:200]}); "
            "expected a PyTorch state dict (.pt/.pth, saved with torch.save) or a .safetensors file"
        ) from None
    return _unwrap(obj, path)


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{path}: checkpoint holds {type(obj).__name__}, not a state dict of tensors")
    state: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: entry {key!r} is {type(value).__name__}, not a tensor")
        state[key[len("module."):] if str(key).startswith("module.") else str(key)] = value
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            raise CheckpointError(f"{path}: weight {key} has {bad} NaN/Inf values; the checkpoint is damaged or its "
                                  "training diverged: use an earlier checkpoint")
    return state


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str | Path) -> None:
    """Strictly load `state` into `model`; a mismatch is one CheckpointError naming the first bad keys."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshaped = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or misshaped:
        parts = [
            f"{label}: {', '.join(keys[:_SHOWN])}" + (f" (+{len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else "")
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped (file vs model)", misshaped))
            if keys
        ]
        described = describe_checkpoint(state)
        fits = f"it fits {described}" if described else "it is not a VGG in torchvision's layout, nor another registered family's"
        raise CheckpointError(f"{source}: checkpoint does not fit {model.config.name}: {'; '.join(parts)}; {fits}")
    model.load_state_dict(state, strict=True)


def imagenet_state_dict(config: Any) -> tuple[dict[str, torch.Tensor], str]:
    """torchvision's ImageNet weights for a standard model, through torch's hub cache (downloads when online)."""
    name = str(config.name)
    url = IMAGENET_URLS.get(name)
    if url is None:
        raise CheckpointError(
            f"no ImageNet weights for {name}; they exist for: {', '.join(IMAGENET_URLS)}"
        )
    published = model_config(name).with_options(input_size=config.input_size)
    if config != published:
        changed = [k for k, v in published.__dict__.items() if getattr(config, k, v) != v]
        raise CheckpointError(
            f"ImageNet weights need {name} as published (num_classes=1000, in_channels=3, full width); "
            f"these options differ: {', '.join(changed)}"
        )
    _drop_damaged_cache(url)
    try:
        state = torch.hub.load_state_dict_from_url(url, map_location="cpu", check_hash=True, weights_only=True)
    except Exception as exc:  # offline, proxy, truncated download: all user-environment errors
        raise CheckpointError(
            f"could not get ImageNet weights for {config.name} from {url} ({type(exc).__name__}: {exc}); "
            f"this machine may be offline: download the file elsewhere and pass --weights PATH, "
            f"or put it in {torch.hub.get_dir()}/checkpoints"
        ) from None
    return state, url


def _drop_damaged_cache(url: str) -> None:
    """torch.hub checks a file's hash only when it downloads it: a truncated copy in the cache would be reused
    forever (and its load error would look like being offline). The name carries the hash's first hex digits."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    prefix = re.search(r"-([a-f0-9]{6,})\.", cached.name)
    if prefix is None or not cached.is_file():
        return
    if not _cached_sha256(cached).startswith(prefix.group(1)):
        cached.unlink()  # damaged: let torch.hub download it again


_HASHED: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> sha256: VGG-16's 528 MB once per process


def _cached_sha256(path: Path) -> str:
    info = path.stat()
    key = (str(path), info.st_mtime_ns, info.st_size)
    if key not in _HASHED:
        _HASHED[key] = file_sha256(path)
    return _HASHED[key]
