"""The model under test and its artifacts by kind, made on the way (export, FP16/INT8, engines) when not given:
cached in the work folder and reused while the recipe that made them (source hash and options) is unchanged.
What is made from what is the table of formats' `made_from` column."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..artifacts import atomic_output, file_sha256
from ..devices import device_index
from ..formats import FORMATS, TENSORRT, Format, format_of_kind
from ..precision.request import CalibrationRequest, FallbackPolicy, ParityGates
from .backends import BenchError

if TYPE_CHECKING:
    from torch import nn

    from ..models.family import ModelFamily

__all__ = ["Workspace", "MODEL"]

log = logging.getLogger(__name__)

MODEL = "model"  # `made_from` of the kinds made from the PyTorch module itself (saved, exported)
_RECIPE_SUFFIX = ".bench.json"


def _row(kind: str) -> Format | None:
    try:
        return format_of_kind(kind)
    except KeyError:
        return None


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
        row = _row(kind)
        if kind in self.artifacts or row is None:
            return False
        if row.name == "plan" and row.made_from is not None:
            return self.needs_calibration(row.made_from)
        return row.name == "onnx" and row.precision == "int8"

    def makeable(self, *, tensorrt: bool) -> frozenset[str]:
        """Kinds present or makeable here: by the table's `made_from`, from the model, the given files and what
        they make in turn (engines only when TensorRT is there)."""
        kinds = set(self.artifacts) | ({MODEL} if self.model is not None else set())
        for row in FORMATS:  # in pipeline order: a kind's source comes before it
            if row.made_from in kinds and (tensorrt or row.runner != TENSORRT):
                kinds.add(row.kind)
        kinds.discard(MODEL)
        return frozenset(kinds)

    # -- making artifacts ---------------------------------------------------------------------------------------
    def ensure(self, kind: str, *, calibration: Any = None, holdout: np.ndarray | None = None,
               how: CalibrationRequest = CalibrationRequest(), gates: ParityGates = ParityGates(),
               fallback: FallbackPolicy = FallbackPolicy(), batch_sizes: tuple[int, ...] = (1,),
               device: str = "cpu") -> Path:
        """The artifact of `kind`, made (or reused from the work folder) when the user did not give it.
        `calibration` (Samples) and `holdout` are the images; `how` says how INT8 is calibrated on them, `gates`
        and `fallback` what the FP16/INT8 variants made here must reach (as `vgg-deploy quantize`'s)."""
        if kind in self.artifacts:
            return self.artifacts[kind]
        row = _row(kind)
        if row is None or row.made_from is None:
            raise BenchError(f"do not know how to make a {kind} artifact")
        if row.made_from == MODEL:
            path = self._save_checkpoint() if row.name == "checkpoint" else self._export()
        elif row.name == "onnx":
            path = self._convert(row, calibration, holdout, how, gates, fallback)
        elif row.name == "plan":
            onnx_path = self.ensure(row.made_from, calibration=calibration, holdout=holdout, how=how, gates=gates,
                                    fallback=fallback)
            path = self._build_engine(kind, onnx_path, batch_sizes, device)
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
            self._hashes[key] = file_sha256(path)
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

    def _save_checkpoint(self) -> Path:
        import torch

        if self.model is None:
            raise BenchError("no PyTorch model to save")
        path = self.work / f"{self._stem()}{format_of_kind('checkpoint').suffixes[0]}"
        recipe = {"kind": "checkpoint", "model_sha256": self._model_hash()}
        reused = self._cached(path, recipe)
        if not reused:
            log.info(f"saving the PyTorch weights to {path}")
            with atomic_output(path) as tmp:
                torch.save(self.model.state_dict(), tmp)
        self._record(path, recipe, "checkpoint", reused)
        return path

    def _export(self) -> Path:
        from ..export import export_onnx

        if self.model is None:
            raise BenchError("no fp32 ONNX given and no PyTorch model to export one from")
        path = self.work / f"{self._stem()}{format_of_kind('onnx-fp32').suffixes[0]}"
        recipe = {"kind": "onnx-fp32", "model_sha256": self._model_hash()}
        reused = self._cached(path, recipe)
        if not reused:
            log.info(f"exporting {self.config.name} to {path}")
            export_onnx(self.model, path, weights=self.weights_note)
        self._record(path, recipe, "onnx-fp32", reused)
        return path

    def _convert(self, row: Format, calibration: Any, holdout: np.ndarray | None, how: CalibrationRequest,
                 gates: ParityGates, fallback: FallbackPolicy) -> Path:
        from ..precision import QUANTIZER_METHODS, ConversionInputs, ConversionRequest, calibration_method, convert

        assert row.made_from is not None and row.precision is not None
        kind, precision, target = row.kind, row.precision, row.int8_scheme
        source = self.ensure(row.made_from)
        path = self.work / f"{self._stem()}.{precision}{'.' + target if target else ''}{row.suffixes[0]}"
        recipe: dict[str, Any] = {"kind": kind, "source_sha256": self._file_hash(source)}
        quantizer, method = how.quantizer, how.method
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
                          **({"calib_batch": how.batch} if how.batch != 16 else {}))
            if fallback.mode != "off" and gates.any:
                recipe["fallback"] = [fallback.mode, fallback.max_layers]
        if gates.any:  # a gated variant is remade (and checked) rather than reused unchecked
            recipe["gates"] = [gates.min_top1, gates.min_cosine]
        reused = self._cached(path, recipe)
        if not reused:
            if holdout is None or not len(holdout):
                raise BenchError(f"{kind}: no held-out images to check the conversion on")
            what = f"int8 ({target} scheme, {quantizer} quantizer)" if target else "fp16"
            log.info(f"making the {what} ONNX from {source.name}")
            int8 = precision == "int8"
            if int8 and calibration.synthetic:
                log.warning("calibrating INT8 on SYNTHETIC inputs: its scales do not represent real images")
            source_name = None if calibration is None else calibration.source
            request = ConversionRequest(
                precision=precision, target=target or "tensorrt",
                calibration=CalibrationRequest(data=source_name, quantizer=quantizer, method=method, batch=how.batch),
                gates=gates, fallback=fallback if int8 and gates.any else FallbackPolicy(max_layers=fallback.max_layers))
            convert(source, path, request, ConversionInputs(
                holdout=holdout, holdout_note=f"{len(holdout)} benchmark inputs",
                calibration=calibration.images if calibration is not None and int8 else None,
                synthetic=bool(calibration is not None and calibration.synthetic and int8)))
        self._record(path, recipe, kind, reused)
        return path

    def _build_engine(self, kind: str, onnx_path: Path, batch_sizes: tuple[int, ...], device: str) -> Path:
        """`vgg-deploy build-trt`'s own build, called here (its errors keep their full reason), with its engine
        cache (same ONNX hash, options, GPU and TensorRT: reused). `onnx_path` is the graph of the engine's
        precision (the bench made the FP16 / Q/DQ ONNX with its calibration and held-out images), built as it is."""
        from ..trt.build import plan_build, run_build
        from ..trt.environment import current_platform
        from ..trt.options import Profile

        path = self.work / f"{onnx_path.stem}{format_of_kind(kind).suffixes[0]}"
        profile = Profile(min(batch_sizes), max(batch_sizes), max(batch_sizes))
        log.info(f"building the TensorRT {kind.removeprefix('plan-')} engine {path.name} (profile {profile})")
        build = plan_build(onnx_path, path, profile=profile)
        report = run_build(build, platform=current_platform(device_index(device)))
        self.made[kind] = "reused (build-trt's engine cache)" if report.reused else "built by vgg-deploy build-trt"
        return path
