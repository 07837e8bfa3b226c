"""The model's facts stored in an ONNX file's metadata_props, so later steps need no other source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from ..errors import VGGDeployError
from ..models.family import ModelFamily, config_from_facts

__all__ = [
    "config_metadata", "read_metadata", "config_from_metadata", "set_metadata", "load_onnx", "INPUT_NAME", "OUTPUT_NAME",
]

INPUT_NAME, OUTPUT_NAME = "input", "logits"  # the graph's input and output in every vgg-deploy ONNX


def config_metadata(config: ModelFamily, *, precision: str, weights: str, **extra: Any) -> dict[str, str]:
    """metadata_props for a model exported from `config` (every value stored as JSON text): its family's facts
    (network and preprocessing), then the precision, weights and version."""
    from ..version import __version__

    facts: dict[str, Any] = config.metadata()
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


def config_from_metadata(facts: dict[str, Any], *, source: str = "ONNX file") -> Any:
    """Rebuild the config an artifact was exported from (its preprocessing facts included), by its family."""
    missing = [k for k in ("architecture", "input_size", "in_channels") if k not in facts]
    if missing:
        raise VGGDeployError(
            f"{source}: no vgg-deploy metadata ({', '.join(missing)} missing); export it with `vgg-deploy export`"
        )
    return config_from_facts(facts, source=source)
