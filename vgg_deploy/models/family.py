"""The model-family protocol: what every registered architecture tells the rest of vgg-deploy, torch-free.

Export, precision conversion, engines, the runners and the benchmark only use what `ModelFamily` names, so a new
architecture is one config class (and its network), listed in the registry; nothing outside its own module asks
which family a model is. `ImageConfig` holds the facts every family shares (input, classes, preprocessing) and the
generic parts (options, ONNX metadata to and from); a family adds its architecture's fields and methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol, TypeVar, runtime_checkable

from ..errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = [
    "ModelFamily", "ImageConfig", "IMAGENET_MEAN", "IMAGENET_STD", "same_layout", "PublishedAccuracy",
    "check_buildable", "MAX_PARAMETER_BYTES",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# ONNX files are written with their weights inline (one self-contained file), and protobuf caps a file at 2 GB.
MAX_PARAMETER_BYTES = 2 * 10**9


@dataclass(frozen=True)
class PublishedAccuracy:
    """A published ImageNet-1k validation figure (single 224x224 center crop), as a fact with its source."""

    top1: float
    top5: float
    source: str


@runtime_checkable
class ModelFamily(Protocol):
    """What the pipeline needs to know about any registered model, without building it."""

    family: ClassVar[str]  # "vgg", "alexnet", "lenet"
    reference: ClassVar[bool]  # a reference architecture the VGGs are compared with, not a VGG

    # Read-only (the configs are frozen dataclasses).
    @property
    def name(self) -> str: ...
    @property
    def in_channels(self) -> int: ...
    @property
    def num_classes(self) -> int: ...
    @property
    def input_size(self) -> tuple[int, int]: ...
    @property
    def mean(self) -> tuple[float, ...]: ...
    @property
    def std(self) -> tuple[float, ...]: ...
    @property
    def resize_size(self) -> int | None: ...
    @property
    def labels(self) -> tuple[str, ...] | None: ...
    @property
    def preprocess_resize(self) -> int: ...

    def with_options(self, **changes: object) -> Any: ...

    def macs(self) -> int:
        """Multiply-accumulates of one image through the convolutions and linear layers."""
        ...

    def weighted_layers(self) -> int:
        """How many convolutions and linear layers the network has."""
        ...

    @property
    def activation_bytes_per_image(self) -> int:
        """fp32 bytes of the layer outputs of one image (what a forward pass or INT8 calibration holds)."""
        ...

    @property
    def parameter_count(self) -> int:
        """Weights and biases (batch norm's statistics included), computed without building the model."""
        ...

    def build(self) -> nn.Module:
        """The network (torch), in eval mode, randomly initialised; it carries this config as `.config`."""
        ...

    def fit_checkpoint(self, state: Mapping[str, Tensor], *, keep: frozenset[str] = frozenset()) -> Any:
        """A copy sized like the checkpoint (class count and such), leaving the fields named in `keep` alone."""
        ...

    def metadata(self) -> dict[str, Any]:
        """JSON-able facts for an ONNX file's metadata; `config_from_facts` turns them back into this config."""
        ...


C = TypeVar("C", bound="ImageConfig")


@dataclass(frozen=True, kw_only=True)
class ImageConfig:
    """The fields and generic behaviour every family's config shares (it is not a family by itself)."""

    family: ClassVar[str] = ""
    reference: ClassVar[bool] = False
    # The state-dict key of the last linear layer's weight (its rows are the classes), for fit_checkpoint.
    classes_key: ClassVar[str] = ""

    name: str
    in_channels: int = 3
    num_classes: int = 1000
    input_size: tuple[int, int] = (224, 224)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    resize_size: int | None = None  # shorter side before the center crop; None = input size / 0.875
    labels: tuple[str, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.in_channels < 1 or self.num_classes < 1:
            raise ConfigError(f"{self.name}: in_channels and num_classes must be >= 1")
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ConfigError(
                f"{self.name}: mean/std need {self.in_channels} values, got {len(self.mean)}/{len(self.std)}"
            )

    @property
    def preprocess_resize(self) -> int:
        return self.resize_size or round(min(self.input_size) / 0.875)

    def with_options(self: C, **changes: object) -> C:
        """A copy with the given fields changed (None = keep); mean/std follow a changed channel count."""
        kept = {k: v for k, v in changes.items() if v is not None}
        own = {f.name for f in fields(self)}
        unknown = sorted(set(kept) - own)
        if unknown:
            raise ConfigError(f"{self.name} ({self.family}) has no option {', '.join(unknown)}; "
                              f"its options: {', '.join(sorted(own - {'name'}))}")
        channels = kept.get("in_channels", self.in_channels)
        if channels != self.in_channels and "mean" not in kept:
            kept["mean"] = _per_channel(self.mean, channels)  # type: ignore[arg-type]
            kept["std"] = _per_channel(self.std, channels)  # type: ignore[arg-type]
        return replace(self, **kept)  # type: ignore[arg-type]

    def build(self) -> nn.Module:
        raise NotImplementedError(f"{type(self).__name__} does not say how to build its network")

    def fit_checkpoint(self: C, state: Mapping[str, Tensor], *, keep: frozenset[str] = frozenset()) -> C:
        last = state.get(self.classes_key)
        if last is None or last.ndim != 2 or "num_classes" in keep:
            return self
        return self.with_options(num_classes=int(last.shape[0]))

    def metadata(self) -> dict[str, Any]:
        facts = {f.name: getattr(self, f.name) for f in fields(self)}
        facts["architecture"] = facts.pop("name")
        facts["family"] = self.family
        return facts

    @classmethod
    def recognise(cls, state: Mapping[str, Tensor], *, registered: Mapping[str, ModelFamily]) -> str | None:
        """The model among `registered` (name -> config) of this family whose state-dict layout `state` has (any
        class count), or None."""
        import torch

        if cls.classes_key not in state:
            return None
        for name, config in registered.items():
            if type(config) is not cls:
                continue
            with torch.device("meta"):  # shapes only: no weights allocated or initialised (AlexNet: 244 MB, 0.25 s)
                expected = config.build().state_dict()
            if same_layout(expected, state, cls.classes_key):
                return name
        return None

    @classmethod
    def describe_state(cls, state: Mapping[str, Tensor], *, registered: Mapping[str, ModelFamily]) -> str | None:
        """How to rebuild the model a state dict came from (`--model NAME`), if it is one of this family."""
        name = cls.recognise(state, registered=registered)
        return None if name is None else f"--model {name}"

    @classmethod
    def from_metadata(cls: type[C], facts: Mapping[str, Any]) -> C:
        values = {f.name: _tuples(facts[f.name]) for f in fields(cls) if f.name in facts and f.name != "name"}
        return cls(name=facts["architecture"], **values)


def same_layout(expected: Mapping[str, Tensor], state: Mapping[str, Tensor], classes_key: str) -> bool:
    """Same keys and shapes, the class count (rows of `classes_key` and its bias) aside."""
    if set(expected) != set(state):
        return False
    free = {classes_key, classes_key.removesuffix("weight") + "bias"}
    return all(tuple(v.shape)[k in free:] == tuple(state[k].shape)[k in free:] for k, v in expected.items())


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples configs hold (nested: VGG's blocks)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _per_channel(values: tuple[float, ...], channels: int) -> tuple[float, ...]:
    """Stats for another channel count: the average of the known ones, repeated (ImageNet's for grayscale)."""
    if len(values) == channels:
        return values
    avg = round(sum(values) / len(values), 4)
    return (avg,) * channels


def check_buildable(cfg: ModelFamily, *, memory_bytes: int | None = None) -> None:
    """Refuse, before anything is allocated, a model whose weights cannot go into one ONNX file or whose
    activations for one image exceed this machine's memory (an --input-size of 100000 would ask for terabytes)."""
    h, w = cfg.input_size
    weights = 4 * cfg.parameter_count
    if weights > MAX_PARAMETER_BYTES:
        hint = " or --classifier-input avgpool" if getattr(cfg, "classifier_input", None) == "flatten" else ""
        raise ConfigError(f"{cfg.name} at {h}x{w}: {weights / 1e9:.1f} GB of fp32 weights exceeds ONNX's 2 GB file "
                          f"limit; use a smaller --input-size{hint}")
    if memory_bytes is None:
        memory_bytes = _physical_memory()
    activations = cfg.activation_bytes_per_image
    if memory_bytes and activations > memory_bytes:
        raise ConfigError(f"{cfg.name} at {h}x{w}: one image needs about {activations / 1e9:.1f} GB of activations, "
                          f"more than this machine's {memory_bytes / 1e9:.1f} GB of memory; use a smaller --input-size")


def _physical_memory() -> int:
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
