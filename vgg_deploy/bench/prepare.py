"""The artifacts a benchmark runs: the user's files, and those made on the way (export, FP16/INT8, engines),
cached in the work folder and reused while the recipe that made them (source hash and options) is unchanged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np

from ..artifacts import atomic_output
from ..precision.fallback import DEFAULT_MAX_FALLBACK_LAYERS
from ..runtime.load import CHECKPOINT_SUFFIXES
from .backends import BenchError

if TYPE_CHECKING:
    from ..models.family import ModelFamily
    from torch import nn

__all__ = ["ModelSource", "Workspace", "open_workspace", "classify_files", "ONNX_KINDS", "PLAN_SOURCES", "sha256_file"]

ENGINE_SUFFIXES = (".plan", ".engine")
ONNX_KINDS = ("onnx-fp32", "onnx-fp16", "onnx-int8-tensorrt", "onnx-int8-cpu")
PLAN_SOURCES = {"plan-fp32": "onnx-fp32", "plan-fp16": "onnx-fp16", "plan-int8": "onnx-int8-tensorrt"}
_RECIPE_SUFFIX = ".bench.json"


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from: a registered name (random or given weights) and/or the user's files."""

    model: str | None = None
    weights: str | None = None
    input_size: tuple[int, int] | None = None
    files: tuple[Path, ...] = ()
    seed: int = 0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        for chunk in iter(lambda: fp.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def classify_files(paths: Iterable[Path]) -> dict[str, Path]:
    """Artifact kind -> file, from suffixes, ONNX metadata (precision, INT8 target) and engine manifests.
    A folder contributes its files (not sub-folders); two files of one kind are an error."""
    from ..export.metadata import read_metadata

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
        suffix = path.suffix.lower()
        if suffix in CHECKPOINT_SUFFIXES:
            kind = "checkpoint"
        elif suffix == ".onnx":
            facts = read_metadata(path)
            precision = facts.get("precision", "fp32")
            kind = f"onnx-int8-{facts.get('int8_target', 'tensorrt')}" if precision == "int8" else f"onnx-{precision}"
            if kind not in ONNX_KINDS:
                raise BenchError(f"{path}: ONNX of precision {precision!r} is not one the benchmark runs")
        elif suffix in ENGINE_SUFFIXES:
            manifest = path.with_name(path.name + ".json")
            try:
                precision = json.loads(manifest.read_text())["precision"]
            except (OSError, ValueError, KeyError):
                raise BenchError(f"{path}: no readable manifest {manifest.name} saying its precision; "
                                 "rebuild it with `vgg-deploy build-trt`") from None
            kind = f"plan-{precision}"
        else:
            continue  # manifests, recipes, images: not artifacts
        if kind in found:
            raise BenchError(f"two {kind} artifacts: {found[kind]} and {path}; pass the files to compare explicitly")
        found[kind] = path
    return found


@dataclass
class Workspace:
    """The model under test: its config, the PyTorch module (when there is one), and its artifacts by kind."""

    config: ModelFamily
    work: Path
    model: nn.Module | None
    model_name: str | None  # registry name the torch runner rebuilds the checkpoint as
    weights_note: str
    artifacts: dict[str, Path] = field(default_factory=dict)
    given: frozenset[str] = frozenset()
    made: dict[str, str] = field(default_factory=dict)  # kind -> "made" | "reused from cache"
    reference_onnx: Path | None = None  # an fp32 ONNX for the reference only (an engine's source), not to run
    _hashes: dict[Any, str] = field(default_factory=dict, repr=False)  # hashing VGG-16 takes a second: once

    def needs_calibration(self, kind: str) -> bool:
        """Whether making `kind` here calibrates: an INT8 ONNX, or an engine built from one, not given."""
        if kind in self.artifacts:
            return False
        if kind in PLAN_SOURCES:
            return self.needs_calibration(PLAN_SOURCES[kind])
        return kind.startswith("onnx-int8")

    def makeable(self, *, tensorrt: bool) -> frozenset[str]:
        """Kinds present or makeable here: ONNX variants from an fp32 ONNX (or a model to export), engines from ONNX."""
        kinds = set(self.artifacts)
        if self.model is not None:
            kinds |= {"checkpoint", "onnx-fp32"}
        if "onnx-fp32" in kinds:
            kinds |= set(ONNX_KINDS)
        if tensorrt:
            kinds |= {plan for plan, source in PLAN_SOURCES.items() if source in kinds}
        return frozenset(kinds)

    # -- making artifacts ---------------------------------------------------------------------------------------
    def ensure(self, kind: str, *, calibration: Any = None, holdout: np.ndarray | None = None,
               calib_method: str | None = None, calib_batch: int = 16, quantizer: str = "ort",
               gates: tuple[float | None, float | None] = (None, None), fallback: str = "off",
               max_fallback_layers: int = DEFAULT_MAX_FALLBACK_LAYERS, batch_sizes: tuple[int, ...] = (1,),
               device: str = "cpu",
               progress: Callable[[str], None] = lambda message: None) -> Path:
        """The artifact of `kind`, made (or reused from the work folder) when the user did not give it."""
        if kind in self.artifacts:
            return self.artifacts[kind]
        if kind == "checkpoint":
            path = self._save_checkpoint(progress)
        elif kind == "onnx-fp32":
            path = self._export(progress)
        elif kind in ONNX_KINDS:
            path = self._convert(kind, calibration, holdout, calib_method, calib_batch, quantizer, gates,
                                 (fallback, max_fallback_layers), progress)
        elif kind in PLAN_SOURCES:
            onnx_path = self.ensure(PLAN_SOURCES[kind], calibration=calibration, holdout=holdout,
                                    calib_method=calib_method, calib_batch=calib_batch, quantizer=quantizer,
                                    gates=gates, fallback=fallback, max_fallback_layers=max_fallback_layers,
                                    progress=progress)
            path = self._build_engine(kind, onnx_path, batch_sizes, device, progress)
        else:
            raise BenchError(f"do not know how to make a {kind} artifact")
        self.artifacts[kind] = path
        return path

    def _stem(self) -> str:
        return self.config.name

    def _model_hash(self) -> str:
        import torch

        assert self.model is not None
        if "model" in self._hashes:
            return self._hashes["model"]
        digest = hashlib.sha256(repr(self.config).encode())
        for key, tensor in self.model.state_dict().items():
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        digest.update(torch.__version__.encode())
        self._hashes["model"] = digest.hexdigest()
        return self._hashes["model"]

    def _file_hash(self, path: Path) -> str:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = sha256_file(path)
        return self._hashes[key]

    def _cached(self, path: Path, recipe: dict[str, Any]) -> bool:
        sidecar = path.with_name(path.name + _RECIPE_SUFFIX)
        try:
            recorded = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            return False
        # The artifact's own hash too: a truncated or edited file under the same recipe is made again.
        return path.is_file() and recorded.get("recipe") == recipe and \
            recorded.get("sha256") == self._file_hash(path)

    def _record(self, path: Path, recipe: dict[str, Any], kind: str, reused: bool) -> None:
        self.made[kind] = "reused from the work folder" if reused else "made"
        if not reused:
            record = {"recipe": recipe, "sha256": self._file_hash(path)}
            path.with_name(path.name + _RECIPE_SUFFIX).write_text(json.dumps(record, indent=2) + "\n")

    def _save_checkpoint(self, progress: Callable[[str], None]) -> Path:
        import torch

        if self.model is None:
            raise BenchError("no PyTorch model to save")
        path = self.work / f"{self._stem()}.pt"
        recipe = {"kind": "checkpoint", "model_sha256": self._model_hash()}
        reused = self._cached(path, recipe)
        if not reused:
            progress(f"saving the PyTorch weights to {path}")
            with atomic_output(path) as tmp:
                torch.save(self.model.state_dict(), tmp)
        self._record(path, recipe, "checkpoint", reused)
        return path

    def _export(self, progress: Callable[[str], None]) -> Path:
        from ..export import export_onnx

        if self.model is None:
            raise BenchError("no fp32 ONNX given and no PyTorch model to export one from")
        path = self.work / f"{self._stem()}.onnx"
        recipe = {"kind": "onnx-fp32", "model_sha256": self._model_hash()}
        reused = self._cached(path, recipe)
        if not reused:
            progress(f"exporting {self.config.name} to {path}")
            export_onnx(self.model, path, weights=self.weights_note, progress=progress)
        self._record(path, recipe, "onnx-fp32", reused)
        return path

    def _convert(self, kind: str, calibration: Any, holdout: np.ndarray | None, method: str | None, calib_batch: int,
                 quantizer: str, gates: tuple[float | None, float | None], fallback: tuple[str, int],
                 progress: Callable[[str], None]) -> Path:
        from ..precision import QUANTIZER_METHODS, calibration_method, convert_precision

        source = self.ensure("onnx-fp32", progress=progress)
        precision = "fp16" if kind == "onnx-fp16" else "int8"
        target = kind.removeprefix("onnx-int8-") if precision == "int8" else None
        path = self.work / f"{self._stem()}.{precision}{'.' + target if target else ''}.onnx"
        recipe: dict[str, Any] = {"kind": kind, "source_sha256": self._file_hash(source)}
        if precision == "int8":
            if target != "tensorrt":  # ModelOpt makes the TensorRT scheme only: the CPU scheme is ONNX Runtime's
                quantizer = "ort"
                method = method if method in QUANTIZER_METHODS["ort"] else None
            method = calibration_method(quantizer, method, target=target or "tensorrt")
            if calibration is None:
                raise BenchError(f"{kind} must be made and needs calibration images: pass --calib-data "
                                 "PATH|digits|synthetic (or the INT8 ONNX itself)")
            recipe.update(calibration=calibration.describe(), calibration_indices=calibration.indices.tolist()[:4096],
                          method=method, quantizer=quantizer,
                          **({"calib_batch": calib_batch} if calib_batch != 16 else {}))
            if fallback[0] != "off" and gates != (None, None):
                recipe["fallback"] = list(fallback)
        if gates != (None, None):  # a gated variant is remade (and checked) rather than reused unchecked
            recipe["gates"] = list(gates)
        reused = self._cached(path, recipe)
        if not reused:
            if holdout is None or not len(holdout):
                raise BenchError(f"{kind}: no held-out images to check the conversion on")
            what = f"int8 ({target} scheme, {quantizer} quantizer)" if target else "fp16"
            progress(f"making the {what} ONNX from {source.name}")
            if precision == "int8" and calibration.synthetic:
                progress("WARNING: calibrating INT8 on SYNTHETIC inputs: its scales do not represent real images")
            convert_precision(
                source, path, precision=precision, holdout=holdout, holdout_note=f"{len(holdout)} benchmark inputs",
                calibration=None if calibration is None or precision != "int8" else calibration.images,
                calibration_source=None if calibration is None else calibration.source,
                synthetic=bool(calibration is not None and calibration.synthetic and precision == "int8"),
                target=target or "tensorrt", method=method, quantizer=quantizer, calib_batch=calib_batch,
                min_top1=gates[0], min_cosine=gates[1],
                fallback=fallback[0] if precision == "int8" and gates != (None, None) else "off",
                max_fallback_layers=fallback[1], progress=progress,
            )
        self._record(path, recipe, kind, reused)
        return path

    def _build_engine(self, kind: str, onnx_path: Path, batch_sizes: tuple[int, ...], device: str,
                      progress: Callable[[str], None]) -> Path:
        """`vgg-deploy build-trt`'s own build, called here (its errors keep their full reason), with its engine
        cache (same ONNX hash, options, GPU and TensorRT: reused). `onnx_path` is the graph of the engine's
        precision (the bench made the FP16 / Q/DQ ONNX with its calibration and held-out images), built as it is."""
        from ..trt import Profile, current_platform, plan_build, run_build
        from .backends import device_index

        path = self.work / f"{onnx_path.stem}.plan"
        profile = Profile(min(batch_sizes), max(batch_sizes), max(batch_sizes))
        progress(f"building the TensorRT {kind.removeprefix('plan-')} engine {path.name} (profile {profile})")
        build = plan_build(onnx_path, path, profile=profile)
        report = run_build(build, platform=current_platform(device_index(device)), progress=progress)
        self.made[kind] = "reused (build-trt's engine cache)" if report.reused else "built by vgg-deploy build-trt"
        return path


def open_workspace(source: ModelSource, work: Path, *, progress: Callable[[str], None] = lambda m: None) -> Workspace:
    """Build the model (or read its config from an ONNX) and gather the user's artifacts."""
    from ..export.metadata import config_from_metadata, read_metadata

    work.mkdir(parents=True, exist_ok=True)
    given = classify_files(source.files)
    onnx_facts = next((read_metadata(given[k]) for k in ONNX_KINDS if k in given), None)
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
        progress(f"building {name}" + (f" with weights {weights}" if weights else f" (random weights, seed {source.seed})"))
        model = create_model(name, input_size=input_size, weights=weights)
        config = model.config
        note = weights or f"random (seed {source.seed})"
        if weights is not None and weights != "imagenet":
            given["checkpoint"] = Path(weights)  # the torch backends load this very file
    elif onnx_facts is not None:
        config = config_from_metadata(onnx_facts, source="the given ONNX")
        note = str(onnx_facts.get("weights", "unknown"))
    elif engines := [given[k] for k in PLAN_SOURCES if k in given]:
        return _engine_workspace(engines[0], work, given, progress)
    else:
        raise BenchError("nothing to benchmark: pass --model NAME, --artifacts DIR, or model files (.onnx, "
                         ".pt/.pth/.safetensors, .plan)")
    return Workspace(config=config, work=work, model=model, model_name=name, weights_note=note,
                     artifacts=dict(given), given=frozenset(given))


def _engine_workspace(engine: Path, work: Path, given: dict[str, Path], progress: Callable[[str], None]) -> Workspace:
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
        progress(f"reference: {source}, the fp32 ONNX {engine.name} was built from (sha256 as in its manifest)")
    else:
        progress(f"no reference for parity: {engine.name}'s manifest names {source} (fp32, sha256 "
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
