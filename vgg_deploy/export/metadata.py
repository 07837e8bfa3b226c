"""The model's facts stored in an ONNX file's metadata_props, so later steps need no other source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from ..errors import VGGDeployError
from ..models.config import VGGConfig

__all__ = [
    "config_metadata", "read_metadata", "config_from_metadata", "set_metadata", "load_onnx", "INPUT_NAME", "OUTPUT_NAME",
]

INPUT_NAME, OUTPUT_NAME = "input", "logits"  # the graph's input and output in every vgg-deploy ONNX

# Every value is stored as JSON text; these keys describe the network and its preprocessing.
_CONFIG_KEYS = (
    "name", "blocks", "batch_norm", "in_channels", "num_classes", "width_divisor", "input_size",
    "classifier_input", "classifier_width", "mean", "std", "resize_size", "labels",
)


def config_metadata(config: VGGConfig, *, precision: str, weights: str, **extra: Any) -> dict[str, str]:
    """metadata_props for a model exported from `config`."""
    from .. import __version__

    facts: dict[str, Any] = {key: getattr(config, key) for key in _CONFIG_KEYS}
    facts["architecture"] = facts.pop("name")
    facts.update(precision=precision, weights=weights, vgg_deploy_version=__version__, **extra)
    return {key: json.dumps(value) for key, value in facts.items() if value is not None}


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


def config_from_metadata(facts: dict[str, Any], *, source: str = "ONNX file") -> VGGConfig:
    """Rebuild the VGGConfig an artifact was exported from (its preprocessing facts included)."""
    missing = [k for k in ("architecture", "blocks", "input_size", "in_channels") if k not in facts]
    if missing:
        raise VGGDeployError(
            f"{source}: no vgg-deploy metadata ({', '.join(missing)} missing); export it with `vgg-deploy export`"
        )
    values = {key: facts[key] for key in _CONFIG_KEYS if key in facts and key != "name"}
    values["blocks"] = tuple(tuple(b) for b in values["blocks"])
    for key in ("input_size", "mean", "std", "labels"):
        if values.get(key) is not None:
            values[key] = tuple(values[key])
    return VGGConfig(name=facts["architecture"], **values)
