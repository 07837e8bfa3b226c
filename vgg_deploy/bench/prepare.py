"""The artifacts a benchmark runs: the user's files, told apart by the table of formats (suffix) and their own
facts (ONNX metadata, engine manifest), gathered with the model into a `Workspace` that makes the rest.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..formats import file_type, file_types, formats_named, kinds, suffixes
from .backends import BenchError
from .workspace import Workspace

__all__ = ["ModelSource", "open_workspace", "classify_files"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from: a registered name (random or given weights) and/or the user's files."""

    model: str | None = None
    weights: str | None = None
    input_size: tuple[int, int] | None = None
    files: tuple[Path, ...] = ()
    seed: int = 0


def _onnx_kind(path: Path) -> str:
    """The kind of an ONNX file, from the precision (and INT8 scheme) its metadata records."""
    from ..export.metadata import read_metadata

    facts = read_metadata(path)
    precision = facts.get("precision", "fp32")
    scheme = facts.get("int8_target", "tensorrt") if precision == "int8" else None
    for row in formats_named("onnx"):
        if row.precision == precision and row.int8_scheme == scheme:
            return row.kind
    raise BenchError(f"{path}: ONNX of precision {precision!r} is not one the benchmark runs")


def _engine_kind(path: Path) -> str:
    """The kind of an engine, from the precision its manifest records."""
    manifest = path.with_name(path.name + ".json")
    try:
        precision = json.loads(manifest.read_text())["precision"]
    except (OSError, ValueError, KeyError):
        raise BenchError(f"{path}: no readable manifest {manifest.name} saying its precision; "
                         "rebuild it with `vgg-deploy build-trt`") from None
    return next((row.kind for row in formats_named("plan") if row.precision == precision), f"plan-{precision}")


def classify_files(paths: Iterable[Path]) -> dict[str, Path]:
    """Artifact kind -> file, from suffixes, ONNX metadata (precision, INT8 target) and engine manifests.
    A folder contributes its files (not sub-folders); two files of one kind are an error."""
    found: dict[str, Path] = {}
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise BenchError(f"{path}: no such file or folder")
    for path in files:
        name = file_type(path)
        if name is None:
            continue  # manifests, recipes, images: not artifacts
        rows = formats_named(name)  # kinds of one file type are told apart by the file's own facts
        kind = rows[0].kind if len(rows) == 1 else _onnx_kind(path) if name == "onnx" else _engine_kind(path)
        if kind in found:
            raise BenchError(f"two {kind} artifacts: {found[kind]} and {path}; pass the files to compare explicitly")
        found[kind] = path
    return found


def open_workspace(source: ModelSource, work: Path) -> Workspace:
    """Build the model (or read its config from an ONNX) and gather the user's artifacts."""
    from ..export.metadata import config_from_metadata, read_metadata

    work.mkdir(parents=True, exist_ok=True)
    given = classify_files(source.files)
    onnx_facts = next((read_metadata(given[k]) for k in kinds("onnx") if k in given), None)
    name = source.model
    weights = source.weights
    if weights is None and "checkpoint" in given:
        weights = str(given["checkpoint"])  # the user's checkpoint is the model's weights
    if name is None and "checkpoint" in given:
        name = _checkpoint_model_name(given["checkpoint"], onnx_facts)
    input_size = source.input_size or (tuple(onnx_facts["input_size"]) if onnx_facts else None)
    model = None
    if name is not None:
        import torch

        from ..models import create_model

        torch.manual_seed(source.seed)
        log.info(f"building {name}" + (f" with weights {weights}" if weights else f" (random weights, seed {source.seed})"))
        model = create_model(name, input_size=input_size, weights=weights)
        config = model.config
        note = weights or f"random (seed {source.seed})"
        if weights is not None and weights != "imagenet":
            given["checkpoint"] = Path(weights)  # the torch backends load this very file
    elif onnx_facts is not None:
        config = config_from_metadata(onnx_facts, source="the given ONNX")
        note = str(onnx_facts.get("weights", "unknown"))
    elif engines := [given[k] for k in kinds("plan") if k in given]:
        return _engine_workspace(engines[0], work, given)
    else:
        files = ", ".join("/".join(suffixes(name)) for name in file_types())
        raise BenchError(f"nothing to benchmark: pass --model NAME, --artifacts DIR, or model files ({files})")
    return Workspace(config=config, work=work, model=model, model_name=name, weights_note=note,
                     artifacts=dict(given), given=frozenset(given))


def _engine_workspace(engine: Path, work: Path, given: dict[str, Path]) -> Workspace:
    """Engines alone: the model's facts come from the engine's manifest, and the fp32 reference from the source
    ONNX it names, when that file is still there with the recorded sha256 (otherwise there is no reference)."""
    from ..export.metadata import config_from_metadata, read_metadata
    from ..trt.manifest import manifest_path, onnx_fingerprint, read_manifest

    manifest = read_manifest(engine)
    if "architecture" not in manifest.model:
        raise BenchError(f"{manifest_path(engine)} records no model facts (input size, preprocessing); benchmark "
                         "the engine together with its ONNX, or rebuild it with `vgg-deploy build-trt`")
    config = config_from_metadata(manifest.model, source=str(manifest_path(engine)))
    source = Path(manifest.source_onnx.path)
    reference = None
    if source.is_file() and read_metadata(source).get("precision", "fp32") == "fp32" \
            and onnx_fingerprint(source).sha256 == manifest.source_onnx.sha256:
        reference = source
        log.info(f"reference: {source}, the fp32 ONNX {engine.name} was built from (sha256 as in its manifest)")
    else:
        log.info(f"no reference for parity: {engine.name}'s manifest names {source} (fp32, sha256 "
                 f"{manifest.source_onnx.sha256[:12]}...), which is not there as recorded")
    return Workspace(config=config, work=work, model=None, model_name=None,
                     weights_note=str(manifest.model.get("weights", "unknown")), artifacts=dict(given),
                     given=frozenset(given), reference_onnx=reference)


def _checkpoint_model_name(path: Path, onnx_facts: dict[str, Any] | None) -> str:
    from ..models import list_models
    from ..models.checkpoint import read_state_dict
    from ..models.registry import recognise_checkpoint
    from ..models.saved import checkpoint_config

    if onnx_facts and onnx_facts.get("architecture") in list_models():
        return str(onnx_facts["architecture"])
    saved = checkpoint_config(path)  # a vgg-deploy .safetensors says what it is
    if saved is not None:
        return str(saved.name)
    name = recognise_checkpoint(read_state_dict(path))
    if name is None:
        raise BenchError(f"{path}: cannot tell which model this checkpoint is; pass --model NAME "
                         f"(one of: {', '.join(list_models())}) with --weights {path}")
    return name
