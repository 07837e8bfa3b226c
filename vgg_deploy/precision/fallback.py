"""Accuracy-targeted INT8 (`--fallback auto`): keep the most damaging layers out of INT8 until the gate holds.

The layers are ranked once by the error each brings alone (sensitivity.py: "only this layer INT8"), then kept
high greedily in that order, one more each step, until the held-out gate holds or the policy's `max_layers` is
spent. Every step reuses the one calibration (layers.py); the layers kept high run in fp16 for the TensorRT scheme
(TensorRT's fast non-INT8 path) and fp32 for the CPU scheme.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..export.parity import Parity
from .layers import QuantizedLayer, keep_layers_high
from .request import FallbackPolicy, ParityGates
from .sensitivity import LogitsEvaluator, measure_layers

__all__ = ["FallbackResult", "fallback_search"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FallbackResult:
    model: Any  # the best variant (onnx.ModelProto): the first that passes, else the best reached
    kept_high: tuple[QuantizedLayer, ...]
    parity: Parity
    passed: bool
    precision: str  # what the kept layers run in
    ranking: tuple[str, ...]  # layer labels, most damaging first
    steps: tuple[dict[str, Any], ...] = field(default=())  # each step's layers and figures

    def describe(self) -> str:
        layers = ", ".join(layer.label for layer in self.kept_high) or "none"
        return f"{len(self.kept_high)} layer(s) kept in {self.precision}: {layers}"

    def facts(self) -> dict[str, Any]:
        return {"int8_kept_high": [layer.label for layer in self.kept_high],
                "int8_kept_high_nodes": [layer.name for layer in self.kept_high],
                "int8_kept_high_precision": self.precision, "fallback_ranking": list(self.ranking),
                "fallback_steps": list(self.steps)}


def _better(a: Parity, b: Parity) -> bool:
    return (a.top1_agreement, a.cosine) > (b.top1_agreement, b.cosine)


def fallback_search(
    qdq: Any,
    source: Any,
    evaluate: LogitsEvaluator,
    *,
    gates: ParityGates,
    precision: str,
    policy: FallbackPolicy = FallbackPolicy(),
    plain: Parity | None = None,
) -> FallbackResult:
    """Keep layers of `qdq` high, most damaging first, until `gates` hold on `evaluate`'s held-out set (at most
    `policy.max_layers`). `plain`: `qdq`'s own parity on that set when the caller has it already (saves one
    evaluation)."""
    log.info("ranking the quantized layers by the error each brings alone")
    ranked = [row.layer for row in measure_layers(qdq, source, evaluate, precision=precision, spared=False)]
    best_kept: tuple[QuantizedLayer, ...] = ()
    best_model, best_parity = qdq, gates.apply(plain if plain is not None else evaluate(qdq)[0])
    steps = [{"kept_high": [], "cosine": best_parity.cosine, "top1_agreement": best_parity.top1_agreement}]
    for count in range(1, min(policy.max_layers, len(ranked)) + 1):
        kept = tuple(ranked[:count])
        model = keep_layers_high(qdq, source, [layer.name for layer in kept], precision=precision)
        parity = gates.apply(evaluate(model)[0])
        steps.append({"kept_high": [layer.label for layer in kept], "cosine": parity.cosine,
                      "top1_agreement": parity.top1_agreement})
        log.info("kept %s in %s: %s", ", ".join(layer.label for layer in kept), precision, parity.summary())
        if parity.passed or _better(parity, best_parity):
            best_model, best_parity, best_kept = model, parity, kept
        if parity.passed:
            break
    return FallbackResult(best_model, best_kept, best_parity, best_parity.passed, precision,
                          tuple(layer.label for layer in ranked), tuple(steps))
