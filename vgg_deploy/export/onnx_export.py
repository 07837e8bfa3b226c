"""PyTorch -> ONNX with torch's dynamo exporter, checked and verified against PyTorch with ONNX Runtime.

The dynamo exporter is used because the TorchScript one is deprecated and cannot export torchvision's 7x7
adaptive pool from inputs whose size is not a multiple of 7 (e.g. 160x160). It writes one self-contained file:
weights go inline (every VGG is under ONNX's 2 GB protobuf limit), so the atomic rename covers the artifact.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..artifacts import atomic_output, check_output
from ..errors import ExportError, ParityError, first_line
from ..log import quiet_libraries
from .metadata import INPUT_NAME, OUTPUT_NAME, config_metadata, set_metadata
from .parity import Parity, compare_logits

__all__ = ["export_onnx", "ExportResult", "verify_onnx", "supported_opsets", "check_opset", "DEFAULT_OPSET", "INPUT_NAME",
           "OUTPUT_NAME"]

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17
DYNAMIC_VERIFY_BATCHES = (1, 5)
_MAX_BATCH = 65536
_NATIVE_OPSET = 18  # the dynamo exporter's lowest native opset; lower ones are converted


@dataclass(frozen=True)
class ExportResult:
    path: Path
    size_bytes: int
    model: str
    input_shape: tuple[int | str, ...]  # "batch" where the batch is dynamic
    opset: int
    exporter: str
    export_seconds: float
    parity: Parity | None
    verify_batches: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "size_bytes": self.size_bytes, "model": self.model,
            "input_shape": list(self.input_shape), "opset": self.opset, "exporter": self.exporter,
            "export_seconds": round(self.export_seconds, 3), "verify_batches": list(self.verify_batches),
            "parity": self.parity.to_dict() if self.parity else None,
        }


def export_onnx(
    model: nn.Module,
    output: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    batch: int | None = None,
    weights: str = "random",
    verify: bool = True,
    seed: int = 0,
) -> ExportResult:
    """Export `model` to `output` (dynamic batch when `batch` is None), check it, verify it, then rename it in place.

    A parity failure raises ParityError and leaves no file behind.
    """
    if batch is not None and batch < 1:
        raise ExportError(f"batch must be >= 1, got {batch}")
    check_opset(opset)
    config = model.config
    output = check_output(output, inputs=[] if weights in ("random", "imagenet") else [weights],
                          expected_bytes=4 * config.parameter_count)
    model = model.eval()
    started = time.perf_counter()
    log.info("exporting %s with torch.onnx (dynamo), opset %d", config.name, opset)
    proto = _export_proto(model, opset=opset, batch=batch)
    written = _opset_of(proto)
    if written != opset:  # the exporter falls back silently where it cannot honour the request
        raise ExportError(f"the exporter wrote opset {written} when asked for {opset}; pass --opset {written}")
    set_metadata(proto, config_metadata(config, precision="fp32", weights=weights, opset=opset))
    _check(proto)
    export_seconds = time.perf_counter() - started

    with atomic_output(output) as tmp:
        import onnx

        onnx.save_model(proto, str(tmp))
        parity = None
        verify_batches: tuple[int, ...] = ()
        if verify:
            verify_batches = DYNAMIC_VERIFY_BATCHES if batch is None else (batch, batch)
            log.info("verifying with ONNX Runtime against PyTorch on batches of %s", " and ".join(map(str, verify_batches)))
            parity = verify_onnx(model, tmp, batch_sizes=verify_batches, seed=seed)
            if not parity.passed:
                raise ParityError(f"{output}: ONNX output differs from PyTorch, not written: {parity.summary()}")
        size = tmp.stat().st_size
    shape = ("batch" if batch is None else batch, config.in_channels, *config.input_size)
    return ExportResult(
        path=output, size_bytes=size, model=config.name, input_shape=shape, opset=opset,
        exporter=f"torch.onnx dynamo (torch {torch.__version__})", export_seconds=export_seconds,
        parity=parity, verify_batches=verify_batches,
    )


def supported_opsets() -> tuple[int, int]:
    """The opsets an export can have: from 17 (what TensorRT and the converter handle) to the installed onnx's
    newest (the dynamo exporter silently writes its native opset for anything newer)."""
    import onnx

    return DEFAULT_OPSET, int(onnx.defs.onnx_opset_version())


def check_opset(opset: int) -> None:
    """ExportError naming the range when the installed exporter cannot write `opset`."""
    import onnx

    low, high = supported_opsets()
    if not low <= opset <= high:
        raise ExportError(f"opset {opset} cannot be written by the installed exporter (onnx {onnx.__version__}): "
                          f"pass --opset {low} to {high}")


def _opset_of(proto: Any) -> int:
    return max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)


def _export_proto(model: nn.Module, *, opset: int, batch: int | None) -> Any:
    import onnx

    config = model.config
    # Batch 2, not 1, as the example: the exporter would specialise a size-1 dimension.
    example = torch.randn(2 if batch is None else batch, config.in_channels, *config.input_size)
    shapes = ({0: torch.export.Dim("batch", min=1, max=_MAX_BATCH)},) if batch is None else None
    try:
        with quiet_libraries(), torch.no_grad():
            program = torch.onnx.export(
                model, (example,), None, dynamo=True, opset_version=max(opset, _NATIVE_OPSET),
                dynamic_shapes=shapes, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], verbose=False,
            )
    except Exception as exc:
        raise ExportError(f"torch.onnx export of {config.name} failed: {type(exc).__name__}: {exc}") from exc
    proto = program.model_proto
    for node in proto.graph.node:
        del node.metadata_props[:]  # the exporter's per-node stack traces: local paths, no use downstream
    if opset < _NATIVE_OPSET:
        # Converted after the exporter's optimiser has folded constants: its own conversion runs earlier
        # and fails on ReduceMean's axes for some adaptive-pool shapes, silently keeping opset 18.
        try:
            proto = onnx.version_converter.convert_version(proto, opset)
        except Exception as exc:
            raise ExportError(
                f"could not convert the exported graph to opset {opset} ({type(exc).__name__}: "
                f"{first_line(exc, limit=200)}); pass --opset {_NATIVE_OPSET}"
            ) from None
        _drop_unknown_attributes(proto, opset)
    return proto


def _drop_unknown_attributes(proto: Any, opset: int) -> None:
    """onnx's converter keeps attributes newer opsets added (ReduceMean-18's noop_with_empty_axes, at its
    default): remove those the target opset's schema does not define, so the checker accepts the graph.
    One set to a non-default value would change the result: that is an error instead."""
    import onnx

    for node in proto.graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        known = onnx.defs.get_schema(node.op_type, opset, node.domain).attributes
        newer = onnx.defs.get_schema(node.op_type, _NATIVE_OPSET, node.domain).attributes
        kept = [a for a in node.attribute if a.name in known]
        for attr in node.attribute:
            if attr.name in known:
                continue
            default = newer[attr.name].default_value if attr.name in newer else None
            at_default = default is not None and default.type != 0 and \
                onnx.helper.get_attribute_value(attr) == onnx.helper.get_attribute_value(default)
            if not at_default:
                raise ExportError(
                    f"{node.op_type} node {node.name!r} needs attribute {attr.name} of opset {_NATIVE_OPSET}; "
                    f"pass --opset {_NATIVE_OPSET}"
                )
        if len(kept) != len(node.attribute):
            del node.attribute[:]
            node.attribute.extend(kept)


def _check(proto: Any) -> None:
    import onnx

    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker rejected the exported graph: {first_line(exc)}") from exc


def verify_onnx(model: nn.Module, onnx_path: str | Path, *, batch_sizes: tuple[int, ...], seed: int = 0) -> Parity:
    """Run seeded random batches through PyTorch and ONNX Runtime (CPU) and compare the logits."""
    import onnxruntime as ort

    config = model.config
    rng = np.random.default_rng(seed)
    inputs = [rng.standard_normal((n, config.in_channels, *config.input_size), dtype=np.float32) for n in batch_sizes]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        reference = np.concatenate([model(torch.from_numpy(x)).numpy() for x in inputs])
    candidate = np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: x})[0] for x in inputs])
    return compare_logits(reference, candidate)
