"""What Triton must know about a model file: tensor names, data types, per-image dims, batch range, classes.

Read from the ONNX graph itself (weights not loaded) or, for a TensorRT engine, from its manifest alone, so a
repository for a GPU engine can be written on a machine without a GPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import VGGDeployError
from ..formats import triton_format, triton_suffixes

__all__ = ["ServedModel", "served_model", "TRITON_DTYPE_BY_ONNX", "ServeError"]

# ONNX TensorProto element types -> Triton data types (model_config.proto's DataType names).
TRITON_DTYPE_BY_ONNX = {1: "TYPE_FP32", 10: "TYPE_FP16", 16: "TYPE_BF16", 3: "TYPE_INT8", 2: "TYPE_UINT8",
                        6: "TYPE_INT32", 7: "TYPE_INT64", 11: "TYPE_FP64"}


class ServeError(VGGDeployError):
    """A model, repository or server request that cannot be served as asked."""


@dataclass(frozen=True)
class ServedModel:
    """One model file as Triton sees it; `batch_range` is (min, max), max None = any batch."""

    path: Path
    format: str  # the file type in the table of formats: "onnx" or "plan"
    input_name: str
    output_name: str
    input_dtype: str  # Triton data type, e.g. "TYPE_FP32"
    output_dtype: str
    input_dims: tuple[int, ...]  # without the batch dimension
    output_dims: tuple[int, ...]
    batch_range: tuple[int, int | None]
    precision: str | None
    labels: tuple[str, ...] | None
    gpu_name: str | None = None  # engines only: the GPU type it was built for
    external_data: tuple[str, ...] = ()  # ONNX only: data files next to it, copied along into the repository

    @property
    def classes(self) -> int:
        return self.output_dims[-1]


def served_model(path: str | os.PathLike[str]) -> ServedModel:
    """The facts of an .onnx file or a .plan/.engine (from its manifest; the engine itself is not opened)."""
    path = Path(path)
    if not path.is_file():
        raise ServeError(f"{path}: no such file")
    row = triton_format(path)
    if row is None:
        suffix = path.suffix.lower()
        raise ServeError(f"{path}: Triton serves {', '.join(triton_suffixes())} files (ONNX and TensorRT engines), "
                         f"not {suffix or 'suffix-less'} files")
    return _FACTS_BY_FORMAT[row.name](path)


def _onnx_facts(path: Path) -> ServedModel:
    from ..export.metadata import load_onnx, read_metadata

    model = load_onnx(path)
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    outputs = list(model.graph.output)
    if len(inputs) != 1 or not outputs:
        raise ServeError(f"{path}: expected one image input and a logits output, got inputs "
                         f"{[i.name for i in inputs]} and outputs {[o.name for o in outputs]}")
    (inp,), out = inputs, outputs[0]
    in_shape, out_shape = _dims(inp), _dims(out)
    if len(in_shape) != 4 or len(out_shape) != 2:
        raise ServeError(f"{path}: expected an (N, C, H, W) input and an (N, classes) output, got "
                         f"{inp.name} {_show(in_shape)} and {out.name} {_show(out_shape)}")
    if any(d is None for d in (*in_shape[1:], *out_shape[1:])):
        raise ServeError(f"{path}: only the batch dimension may be symbolic, got {inp.name} {_show(in_shape)} "
                         f"and {out.name} {_show(out_shape)}")
    batch = in_shape[0]
    facts = read_metadata(model)
    labels = facts.get("labels")
    return ServedModel(
        path=path, format="onnx", input_name=inp.name, output_name=out.name,
        input_dtype=_triton_dtype(path, inp), output_dtype=_triton_dtype(path, out),
        input_dims=tuple(in_shape[1:]), output_dims=tuple(out_shape[1:]),  # type: ignore[arg-type]
        batch_range=(1, None) if batch is None else (batch, batch),
        precision=facts.get("precision"), labels=tuple(map(str, labels)) if labels else None,
        external_data=_external_data(model),
    )


def _external_data(model: object) -> tuple[str, ...]:
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    tensors = model.graph.initializer  # type: ignore[attr-defined]
    return tuple(sorted({ExternalDataInfo(t).location for t in tensors if uses_external_data(t)}))


def _plan_facts(path: Path) -> ServedModel:
    from ..trt.manifest import read_manifest

    manifest = read_manifest(path)  # ManifestError (a VGGDeployError) says how to get one
    model = manifest.model
    classes = model.get("num_classes")
    if not isinstance(classes, int) or classes < 1:
        raise ServeError(f"{path}: its manifest does not say how many classes the model has (model.num_classes); "
                         "rebuild the engine from a vgg-deploy ONNX with `vgg-deploy build-trt ... --force`")
    labels = model.get("labels")
    # vgg-deploy engines keep float32 input and output (the runner accepts only float32/float16 I/O, and
    # build-trt builds from ONNX whose I/O is float32); the precision applies inside the engine.
    return ServedModel(
        path=path, format="plan", input_name=manifest.input_name, output_name=manifest.output_name,
        input_dtype="TYPE_FP32", output_dtype="TYPE_FP32", input_dims=tuple(manifest.input_shape),
        output_dims=(classes,), batch_range=(manifest.profile.min, manifest.profile.max),
        precision=manifest.precision, labels=tuple(map(str, labels)) if labels else None,
        gpu_name=manifest.gpu_name,
    )


# How each file type Triton serves tells its facts (the ONNX graph; an engine's manifest).
_FACTS_BY_FORMAT = {"onnx": _onnx_facts, "plan": _plan_facts}


def _dims(value_info: object) -> list[int | None]:
    shape = value_info.type.tensor_type.shape  # type: ignore[attr-defined]
    return [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]


def _show(dims: list[int | None]) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in dims) + ")"


def _triton_dtype(path: Path, value_info: object) -> str:
    elem = value_info.type.tensor_type.elem_type  # type: ignore[attr-defined]
    if elem not in TRITON_DTYPE_BY_ONNX:
        raise ServeError(f"{path}: tensor {value_info.name} has ONNX element type {elem}, which Triton "  # type: ignore[attr-defined]
                         "cannot take as a model input/output here")
    return TRITON_DTYPE_BY_ONNX[elem]
