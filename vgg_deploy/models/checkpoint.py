"""Reading checkpoints safely, recognising their architecture, and loading them with strict checking."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from torch import nn

from ..errors import CheckpointError, first_line
from .config import VGGConfig
from .family import describe_checkpoint

__all__ = [
    "read_state_dict", "load_weights", "fit_config", "infer_architecture", "CheckpointArchitecture",
    "imagenet_state_dict", "IMAGENET_URLS",
]

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

    from ..artifacts import InputFileError, check_input_file

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
        detail = next((line.strip() for line in after.splitlines() if line.strip()), "")
        detail = detail.split(". Please", 1)[0][:160]  # torch goes on to explain how to trust the file: we do not
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


@dataclass(frozen=True)
class CheckpointArchitecture:
    """What a torchvision-layout VGG state dict says about the network that made it."""

    blocks: tuple[tuple[int, int], ...]
    batch_norm: bool
    in_channels: int
    num_classes: int | None
    classifier_width: int | None = None  # rows of classifier.0 (4096 in torchvision's models)
    classifier_in_features: int | None = None  # columns of classifier.0: last channels x the pooled map

    def standard_name(self) -> str | None:
        """The registered standard model with these blocks (at any width divisor), if any."""
        from .registry import STANDARD_BLOCKS

        for name, blocks in STANDARD_BLOCKS.items():
            if self.divisor_of(blocks) is not None:
                return f"{name}_bn" if self.batch_norm else name
        return None

    def divisor_of(self, blocks: tuple[tuple[int, int], ...]) -> int | None:
        """The width divisor that turns `blocks` into this checkpoint's blocks; None if none does."""
        if [n for n, _ in blocks] != [n for n, _ in self.blocks]:
            return None
        for divisor in (1, 2, 4, 8, 16):
            if all(max(1, c // divisor) == mine for (_, c), (_, mine) in zip(blocks, self.blocks)):
                return divisor
        return None

    def describe(self) -> str:
        name = self.standard_name()
        if name is None:
            return f"a custom VGG with blocks {list(self.blocks)}, batch_norm={self.batch_norm}"
        from .registry import STANDARD_BLOCKS

        divisor = self.divisor_of(STANDARD_BLOCKS[name.removesuffix("_bn")])
        options = f"--model {name}"
        if self.num_classes is not None:
            options += f" --num-classes {self.num_classes}"
        if self.in_channels != 3:
            options += f" --in-channels {self.in_channels}"
        if divisor != 1:
            options += f" --width-divisor {divisor}"
        if self.classifier_width is not None and self.classifier_width != 4096:
            options += f" --classifier-width {self.classifier_width}"
        channels = self.blocks[-1][1]
        if self.classifier_in_features is not None and self.classifier_in_features != channels * 49:
            # not torchvision's 7x7 average pool: a plain flatten of the last feature map, whose area says the input
            side = math.isqrt(self.classifier_in_features // channels) if self.classifier_in_features % channels == 0 else 0
            if side and side * side * channels == self.classifier_in_features:
                options += f" --classifier-input flatten --input-size {side << len(self.blocks)}"
            else:
                options += " --classifier-input flatten (with a non-square input size)"
        return options


def infer_architecture(state: Mapping[str, torch.Tensor]) -> CheckpointArchitecture | None:
    """Recover blocks and batch norm from torchvision's flat `features.N` numbering; None if not that layout."""
    convs = sorted(
        (int(m.group(1)), tuple(v.shape))
        for k, v in state.items()
        if (m := re.fullmatch(r"features\.(\d+)\.weight", k)) and v.ndim == 4
    )
    if not convs or any(shape[2:] != (3, 3) for _, shape in convs):
        return None  # no convs, or not VGG's 3x3 kernels
    batch_norm = any(re.fullmatch(r"features\.\d+\.running_mean", k) for k in state)
    step = 3 if batch_norm else 2  # conv, [bn], relu
    blocks: list[tuple[int, int]] = []
    count = 1
    for (prev, prev_shape), (index, _) in zip(convs, convs[1:]):
        if index - prev == step:
            count += 1
        elif index - prev == step + 1:  # a max-pool sits between them
            blocks.append((count, prev_shape[0]))
            count = 1
        else:
            return None
    blocks.append((count, convs[-1][1][0]))
    last, first = state.get("classifier.6.weight"), state.get("classifier.0.weight")
    return CheckpointArchitecture(
        blocks=tuple(blocks), batch_norm=batch_norm, in_channels=convs[0][1][1],
        num_classes=int(last.shape[0]) if last is not None and last.ndim == 2 else None,
        classifier_width=int(first.shape[0]) if first is not None and first.ndim == 2 else None,
        classifier_in_features=int(first.shape[1]) if first is not None and first.ndim == 2 else None,
    )


def fit_config(config: VGGConfig, state: Mapping[str, torch.Tensor], *, keep: frozenset[str] = frozenset()) -> VGGConfig:
    """Take class count, input channels, classifier width and width divisor from the checkpoint.

    Fields named in `keep` (the ones the user set) are left alone; the divisor is taken only when the
    checkpoint has this config's blocks at another width.
    """
    arch = infer_architecture(state)
    if arch is None:
        return config
    first = state.get("classifier.0.weight")
    found = {
        "num_classes": arch.num_classes,
        "in_channels": arch.in_channels,
        "classifier_width": int(first.shape[0]) if first is not None and first.ndim == 2 else None,
        "width_divisor": arch.divisor_of(config.blocks),
    }
    return config.with_options(**{k: v for k, v in found.items() if k not in keep})


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
    from .registry import model_config

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
    import hashlib

    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    prefix = re.search(r"-([a-f0-9]{6,})\.", cached.name)
    if prefix is None or not cached.is_file():
        return
    digest = hashlib.sha256()
    with open(cached, "rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            digest.update(block)
    if not digest.hexdigest().startswith(prefix.group(1)):
        cached.unlink()  # damaged: let torch.hub download it again
