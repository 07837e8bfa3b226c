"""The model's facts stored in an ONNX file's metadata_props (and a .safetensors checkpoint's metadata), so later
steps need no other source: `OnnxMetadata` typed, or the plain key -> value dict of `read_metadata`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import VGGDeployError
from ..models.family import ModelFamily
from ..models.registry import config_from_facts

__all__ = [
    "OnnxMetadata", "read_onnx_metadata", "config_metadata", "read_metadata", "config_from_metadata", "set_metadata",
    "load_onnx", "INPUT_NAME", "OUTPUT_NAME",
]

INPUT_NAME, OUTPUT_NAME = "input", "logits"  # the graph's input and output in every vgg-deploy ONNX
_OWN_KEYS = ("precision", "weights", "vgg_deploy_version")


@dataclass(frozen=True, kw_only=True)
class OnnxMetadata:
    """The facts a vgg-deploy artifact carries: the model's config (architecture, input size, channels, mean/std,
    classes, labels), its precision, where its weights came from, the version that wrote it, and any other keys
    (opset, quantization facts, keys written by other tools) as they were read."""

    config: ModelFamily
    precision: str | None = None
    weights: str | None = None
    version: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        return self.config.name

    @property
    def input_size(self) -> tuple[int, int]:
        return self.config.input_size

    @property
    def in_channels(self) -> int:
        return self.config.in_channels

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def labels(self) -> tuple[str, ...] | None:
        return self.config.labels

    def to_props(self) -> dict[str, str]:
        """metadata_props (every value stored as JSON text): the family's facts (network and preprocessing), then
        the precision, weights, version and the extra keys, in that order (the ONNX bytes depend on it)."""
        facts: dict[str, Any] = self.config.metadata()
        facts.update(precision=self.precision, weights=self.weights, vgg_deploy_version=self.version, **self.extra)
        return {key: json.dumps(value) for key, value in facts.items() if value is not None}

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any], *, source: str = "ONNX file") -> OnnxMetadata:
        """From `read_metadata`'s dict; VGGDeployError when it holds no vgg-deploy model facts."""
        config = config_from_metadata(facts, source=source)
        known = {*config.metadata(), *_OWN_KEYS}
        return cls(config=config, precision=facts.get("precision"), weights=facts.get("weights"),
                   version=facts.get("vgg_deploy_version"),
                   extra={key: value for key, value in facts.items() if key not in known})


def read_onnx_metadata(model_or_path: Any, *, source: str | None = None) -> OnnxMetadata:
    """The typed facts of an ONNX file (a path, an onnx.ModelProto, or a key -> text mapping; see read_metadata)."""
    where = source or (str(model_or_path) if isinstance(model_or_path, (str, Path)) else "ONNX file")
    return OnnxMetadata.from_facts(read_metadata(model_or_path), source=where)


def config_metadata(config: ModelFamily, *, precision: str, weights: str, **extra: Any) -> dict[str, str]:
    """metadata_props for a model exported from `config` now, by this version (see OnnxMetadata.to_props)."""
    from ..version import __version__

    return OnnxMetadata(config=config, precision=precision, weights=weights, version=__version__,
                        extra=extra).to_props()


def load_onnx(path: str | Path, *, weights: bool = False) -> Any:
    """An onnx.ModelProto from a user's file (without external weights unless asked); one clear error if unreadable."""
    import onnx

    from ..artifacts import check_input_file

    check_input_file(path, what="an ONNX file")
    try:
        return onnx.load(str(path), load_external_data=weights)
    except Exception as exc:
        raise VGGDeployError(f"{path}: not a readable ONNX file ({type(exc).__name__}: {exc})") from None


def set_metadata(model: Any, props: dict[str, str]) -> None:
    """Replace/add metadata_props entries on an onnx.ModelProto."""
    existing = {p.key: p for p in model.metadata_props}
    for key, value in props.items():
        if key in existing:
            existing[key].value = value
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value


def read_metadata(model_or_path: Any) -> dict[str, Any]:
    """metadata_props as Python values, from a path (weights not loaded), an onnx.ModelProto, or a
    key -> text mapping such as ONNX Runtime's `custom_metadata_map`."""
    if isinstance(model_or_path, (str, Path)):
        model_or_path = load_onnx(model_or_path)
    pairs = model_or_path.items() if isinstance(model_or_path, Mapping) else \
        ((prop.key, prop.value) for prop in model_or_path.metadata_props)
    facts: dict[str, Any] = {}
    for key, value in pairs:
        try:
            facts[key] = json.loads(value)
        except json.JSONDecodeError:
            facts[key] = value  # written by another tool
    return facts


def config_from_metadata(facts: Mapping[str, Any], *, source: str = "ONNX file") -> Any:
    """Rebuild the config an artifact was exported from (its preprocessing facts included), by its family."""
    missing = [k for k in ("architecture", "input_size", "in_channels") if k not in facts]
    if missing:
        raise VGGDeployError(
            f"{source}: no vgg-deploy metadata ({', '.join(missing)} missing); export it with `vgg-deploy export`"
        )
    return config_from_facts(facts, source=source)
