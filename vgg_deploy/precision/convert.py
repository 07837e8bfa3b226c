"""fp32 ONNX -> FP16 or INT8 ONNX, checked against the fp32 model on held-out samples, written atomically."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import atomic_output, check_output, scratch_folder
from ..errors import ParityError, VGGDeployError
from ..export.metadata import INPUT_NAME, config_from_metadata, load_onnx, read_metadata, set_metadata
from ..export.parity import Parity, compare_logits
from ..models.family import ModelFamily
from .fp16 import convert_fp16
from .inputs import ConversionInputs
from .int8 import QuantizeError, int8_scheme, quantize_int8
from .logits import onnx_logits
from .qdq_check import check_tensorrt_qdq
from .request import ConversionRequest

__all__ = ["ConversionResult", "convert", "onnx_logits", "fixed_batch_of"]

log = logging.getLogger(__name__)

_SHOWN_VIOLATIONS = 5


@dataclass(frozen=True)
class ConversionResult:
    path: Path
    precision: str
    size_bytes: int
    source_size_bytes: int
    parity: Parity
    holdout: str  # how the held-out parity samples were chosen
    facts: dict[str, Any] = field(default_factory=dict)  # conversion/calibration facts, also in the metadata

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "precision": self.precision, "size_bytes": self.size_bytes,
            "source_size_bytes": self.source_size_bytes, "parity": self.parity.to_dict(), "holdout": self.holdout,
            **self.facts,
        }


def fixed_batch_of(model: Any) -> int | None:
    """The batch size fixed in the graph's input, or None when it is dynamic."""
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    return dim.dim_value if dim.HasField("dim_value") and dim.dim_value > 0 else None


def _fall_back(
    candidate: Any, source: Any, reference: np.ndarray, holdout: np.ndarray, *, output: Path, facts: dict[str, Any],
    request: ConversionRequest,
) -> Any:
    """`candidate` if it meets the gates, else the variant with the fewest layers kept high that does (facts
    updated); ParityError with the best reached when none within the policy's `max_layers` does."""
    from .fallback import fallback_search
    from .layers import high_precision_for
    from .sensitivity import LogitsEvaluator

    gates, max_layers = request.gates, request.fallback.max_layers
    with scratch_folder(output, name="fallback") as tmp:  # beside the output; removed by a later run after SIGKILL
        evaluate = LogitsEvaluator(reference, holdout, None, tmp)
        first = gates.apply(evaluate(candidate)[0])
        if first.passed:
            facts.update(int8_kept_high=[])
            return candidate
        precision = high_precision_for(request.target)
        log.info("plain INT8 misses the gate (%s); keeping the most damaging layers in %s", first.summary(), precision)
        result = fallback_search(candidate, source, evaluate, gates=gates, precision=precision,
                                 policy=request.fallback, plain=first)
    if not result.passed:
        raise ParityError(f"{output}: not written: the gate cannot be met with up to {max_layers} layer(s) kept out "
                          f"of INT8; best reached with {result.describe()}: {result.parity.summary()} "
                          "(raise --max-fallback-layers, or lower the gate)")
    facts.update(result.facts())
    log.info("gate met with %s", result.describe())
    return result.model


def _fp16_candidate(source: Any, request: ConversionRequest, facts: dict[str, Any]) -> Any:
    """The FP16 graph of `source`; nodes fed by out-of-range weights stay fp32 (facts updated)."""
    keep_io_types = request.keep_io_types
    log.info("converting to fp16 (fp32 inputs/outputs)" if keep_io_types else "converting to fp16")
    candidate, overflows = convert_fp16(source, keep_io_types=keep_io_types)
    facts.update(keep_io_types=keep_io_types, fp32_nodes=[n for o in overflows for n in o.nodes],
                 fp16_overflows={o.initializer: o.max_abs for o in overflows})
    for o in overflows:
        log.info("%s: |x| up to %.3g > 65504, kept nodes %s in fp32", o.initializer, o.max_abs, ", ".join(o.nodes))
    return candidate


def _int8_candidate(onnx_path: Path, source: Any, output: Path, *, config: ModelFamily, request: ConversionRequest,
                    inputs: ConversionInputs, facts: dict[str, Any]) -> Any:
    """The calibrated Q/DQ graph of `onnx_path` by the request's quantizer (facts updated), checked against
    TensorRT's Q/DQ rules for the TensorRT scheme."""
    import onnx

    if inputs.calibration is None:
        raise QuantizeError("INT8 needs calibration images")
    calibration = request.calibration.resolved(target=request.target)
    scheme = int8_scheme(request.target)
    # ONNX Runtime's own scratch (ort.quant.*, the augmented model) goes inside this folder, so that SIGTERM
    # removes it with ours, and a later run removes both after a SIGKILL.
    with scratch_folder(output, name="quantize") as tmp:
        quantized = tmp / "model.int8.onnx"
        if calibration.quantizer == "modelopt":
            from .modelopt import quantize_modelopt

            facts.update(quantize_modelopt(onnx_path, quantized, inputs.calibration, calibration=calibration,
                                           fixed_batch=fixed_batch_of(source), input_name=INPUT_NAME))
        else:
            facts.update(quantize_int8(onnx_path, quantized, inputs.calibration, config=config, scheme=scheme,
                                       calibration=calibration, fixed_batch=fixed_batch_of(source),
                                       input_name=INPUT_NAME))
        candidate = onnx.load(str(quantized))
    facts.update(calibration_data=request.calibration.data, synthetic_calibration=inputs.synthetic)
    if request.target == "tensorrt":
        violations = check_tensorrt_qdq(candidate)
        if violations:
            shown = "; ".join(map(str, violations[:_SHOWN_VIOLATIONS]))
            raise QuantizeError(f"the Q/DQ graph breaks TensorRT's rules ({len(violations)}): {shown}")
        facts["tensorrt_qdq_check"] = "passed"
    return candidate


def _parity_failure(output: Path, precision: str, parity: Parity, facts: dict[str, Any]) -> ParityError:
    why = ""
    if parity.nonfinite and precision == "fp16":
        kept = facts.get("fp32_nodes") or []
        why = (f" (nodes {', '.join(kept)} were kept in fp32 for out-of-range weights, but an activation "
               "past them still exceeds fp16's 65504)" if kept else
               " (an activation exceeds fp16's range of 65504; build fp32 or int8 instead)")
    return ParityError(f"{output}: {precision} output is not close enough to fp32, not written: "
                       f"{parity.summary()}{why}")


def convert(
    onnx_path: str | Path, output: str | Path, request: ConversionRequest, inputs: ConversionInputs
) -> ConversionResult:
    """Make the FP16 or INT8 variant of an fp32 vgg-deploy ONNX as `request` asks, calibrated on
    `inputs.calibration` (INT8) and verified on `inputs.holdout` (never the calibration images). Fails
    (ParityError, no file) on NaN/Inf or below the request's gates.

    INT8 is made by the calibration's quantizer: "ort" (ONNX Runtime's, both targets) or "modelopt" (NVIDIA Model
    Optimizer's, TensorRT scheme only); a method None takes the quantizer's default.

    Fallback "auto" (INT8 with a gate): when the held-out gate fails, keep the most damaging layers out of INT8
    (fallback.py), at most the policy's `max_layers`; the layers kept high are listed in the facts and metadata."""
    import onnx

    request.check_fallback()
    precision, holdout = request.precision, inputs.holdout
    onnx_path, output = Path(onnx_path), Path(output)
    # fp16 halves the weights, int8 quarters them; the parity check needs the whole file on disk.
    check_output(output, inputs=[onnx_path], expected_bytes=onnx_path.stat().st_size // (2 if precision == "fp16" else 4))
    source = load_onnx(onnx_path, weights=True)
    source_facts = read_metadata(source)
    config = config_from_metadata(source_facts, source=str(onnx_path))
    if source_facts.get("precision", "fp32") != "fp32":
        raise VGGDeployError(f"{onnx_path}: already {source_facts['precision']}; convert from the fp32 export")

    facts: dict[str, Any] = {"source_onnx": onnx_path.name}
    if precision == "fp16":
        candidate = _fp16_candidate(source, request, facts)
    elif precision == "int8":
        candidate = _int8_candidate(onnx_path, source, output, config=config, request=request, inputs=inputs,
                                    facts=facts)
    else:
        raise VGGDeployError(f"unknown precision {precision!r}; choose fp16 or int8")
    if inputs.classes:
        facts["class_folders"] = list(inputs.classes)

    reference = onnx_logits(onnx_path, holdout)
    if request.fallback.mode == "auto":
        candidate = _fall_back(candidate, source, reference, holdout, output=output, facts=facts, request=request)
    for key in ("precision", "parity", "holdout", *facts):
        source_facts.pop(key, None)
    props = {**{k: json.dumps(v) for k, v in source_facts.items()}, **{k: json.dumps(v) for k, v in facts.items()},
             "precision": json.dumps(precision), "holdout": json.dumps(inputs.holdout_note)}
    onnx.checker.check_model(candidate)
    with atomic_output(output) as tmp_out:
        set_metadata(candidate, props)
        onnx.save_model(candidate, str(tmp_out))
        log.info("checking parity against fp32 on %d held-out samples", len(holdout))
        gates = request.gates
        parity = compare_logits(reference, onnx_logits(tmp_out, holdout),
                                max_rel_diff=None, min_cosine=gates.min_cosine, min_top1=gates.min_top1)
        if not parity.passed:
            raise _parity_failure(output, precision, parity, facts)
        set_metadata(candidate, {"parity": json.dumps(parity.to_dict())})
        onnx.save_model(candidate, str(tmp_out))
        size = tmp_out.stat().st_size
    return ConversionResult(
        path=output, precision=precision, size_bytes=size, source_size_bytes=onnx_path.stat().st_size,
        parity=parity, holdout=inputs.holdout_note, facts=facts,
    )

