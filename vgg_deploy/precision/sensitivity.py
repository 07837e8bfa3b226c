"""Per-layer INT8 sensitivity: which quantized layers cost the accuracy, measured on held-out images.

For each quantized layer of a calibrated Q/DQ model, two variants of the same calibration (layers.py):
- "only this layer INT8": every other layer kept high — the error this layer alone brings;
- "all INT8 but this layer": only this layer kept high — what keeping it out of INT8 buys back.
Each is compared with the fp32 source on held-out images (worst-sample cosine, max abs diff, top-1 agreement;
accuracy when labels exist). Layers are ranked by the error they bring alone (lowest top-1 agreement, then lowest
cosine, then largest max abs diff): the ranking that accuracy-targeted fallback (fallback.py) follows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import atomic_output, scratch_folder
from ..export.parity import Parity, compare_logits
from ..log import progress_bar
from ..plotting import PLOT_HINT
from ..tables import md_table
from .layers import QuantizedLayer, keep_layers_high, quantized_layers
from .logits import onnx_logits

__all__ = [
    "LayerSensitivity", "SensitivityReport", "layer_sensitivity", "measure_layers", "LogitsEvaluator",
    "draw_sensitivity_chart",
]

log = logging.getLogger(__name__)


def _accuracy(logits: np.ndarray, labels: np.ndarray | None) -> float | None:
    return None if labels is None else float((logits.argmax(1) == labels).mean())


class LogitsEvaluator:
    """Held-out logits of model variants, compared with the fp32 reference (one temporary folder for all)."""

    def __init__(self, reference: np.ndarray, holdout: np.ndarray, labels: np.ndarray | None, folder: Path) -> None:
        self.reference, self.holdout, self.labels, self.folder = reference, holdout, labels, folder
        self.runs = 0

    def __call__(self, model: Any) -> tuple[Parity, float | None]:
        import onnx

        path = self.folder / f"variant{self.runs}.onnx"
        self.runs += 1
        onnx.save_model(model, str(path))
        try:
            logits = onnx_logits(path, self.holdout)
        finally:
            path.unlink(missing_ok=True)
        return (compare_logits(self.reference, logits, max_rel_diff=None, min_cosine=None),
                _accuracy(logits, self.labels))


@dataclass(frozen=True)
class LayerSensitivity:
    layer: QuantizedLayer
    only_int8: Parity  # every other layer high
    only_high: Parity  # every other layer INT8
    only_int8_accuracy: float | None = None
    only_high_accuracy: float | None = None

    def damage_key(self) -> tuple[float, float, float]:
        """Sorts the most damaging layer first."""
        return (self.only_int8.top1_agreement, self.only_int8.cosine, -self.only_int8.max_abs_diff)

    def to_dict(self) -> dict[str, Any]:
        return {**self.layer.to_dict(), "only_int8": self.only_int8.to_dict(), "only_high": self.only_high.to_dict(),
                "only_int8_accuracy": self.only_int8_accuracy, "only_high_accuracy": self.only_high_accuracy}


@dataclass(frozen=True)
class SensitivityReport:
    model: str
    high_precision: str  # what a layer kept out of INT8 runs in
    holdout: str  # how the held-out samples were chosen
    all_int8: Parity
    layers: tuple[LayerSensitivity, ...]  # most damaging first
    seconds: float  # the per-layer evaluations (the calibration not included)
    evaluations: int
    fp32_accuracy: float | None = None
    all_int8_accuracy: float | None = None
    facts: dict[str, Any] | None = None  # calibration facts of the Q/DQ model

    @property
    def ranking(self) -> list[str]:
        """Layer labels, most damaging first."""
        return [row.layer.label for row in self.layers]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "high_precision": self.high_precision, "holdout": self.holdout,
            "all_int8": self.all_int8.to_dict(), "fp32_accuracy": self.fp32_accuracy,
            "all_int8_accuracy": self.all_int8_accuracy, "seconds": self.seconds, "evaluations": self.evaluations,
            "ranking": self.ranking, "layers": [row.to_dict() for row in self.layers], "facts": self.facts or {},
        }

    def to_markdown(self) -> str:
        labelled = self.fp32_accuracy is not None

        def cells(parity: Parity, accuracy: float | None) -> list[str]:
            out = [f"{parity.cosine:.6f}", f"{parity.max_abs_diff:.3g}", f"{parity.top1_agreement:.1%}"]
            return out + ([f"{accuracy:.1%}"] if labelled and accuracy is not None else [])

        metrics = ["min cosine", "max abs diff", "top-1 agr."] + (["accuracy"] if labelled else [])
        head = (["rank", "layer", "op"] + [f"only this INT8: {m}" for m in metrics]
                + [f"all INT8 but this ({self.high_precision}): {m}" for m in metrics])
        lines = [
            f"Per-layer INT8 sensitivity of {self.model} on {self.holdout}; layers kept out of INT8 run in "
            f"{self.high_precision}. Most damaging first (by the error the layer brings alone).",
            "",
            f"All layers INT8: {self.all_int8.summary()}"
            + (f"; accuracy {self.all_int8_accuracy:.1%} (fp32 {self.fp32_accuracy:.1%})" if labelled else ""),
            "",
        ]
        lines += md_table(head, [[str(rank), row.layer.label, row.layer.op_type,
                                  *cells(row.only_int8, row.only_int8_accuracy),
                                  *cells(row.only_high, row.only_high_accuracy)]
                                 for rank, row in enumerate(self.layers, 1)])
        lines += ["", f"{self.evaluations} held-out evaluations in {self.seconds:.1f} s (one calibration, reused)."]
        return "\n".join(lines) + "\n"


def measure_layers(qdq: Any, source: Any, evaluate: LogitsEvaluator, *, precision: str,
                   spared: bool = True) -> list[LayerSensitivity]:
    """Every quantized layer of `qdq` evaluated alone in INT8 (the others kept in `precision`) and, with `spared`,
    as the only layer kept high; most damaging first (by the error the layer brings alone). Without `spared` the
    "only high" figures repeat the "only INT8" ones: only those rank."""
    layers = quantized_layers(qdq)
    names = [layer.name for layer in layers]
    rows = []
    for number, layer in enumerate(progress_bar(layers, desc="measuring layers", unit="layer"), 1):
        log.debug("layer %d/%d: %s (%s)", number, len(layers), layer.label, layer.op_type)
        others = [n for n in names if n != layer.name]
        only_int8, only_int8_accuracy = evaluate(keep_layers_high(qdq, source, others, precision=precision))
        if not spared:
            rows.append(LayerSensitivity(layer, only_int8, only_int8))
            continue
        only_high, only_high_accuracy = evaluate(keep_layers_high(qdq, source, [layer.name], precision=precision))
        rows.append(LayerSensitivity(layer, only_int8, only_high, only_int8_accuracy, only_high_accuracy))
    rows.sort(key=LayerSensitivity.damage_key)
    return rows


def layer_sensitivity(
    qdq: Any,
    source: Any,
    holdout: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    high_precision: str = "fp16",
    model_name: str = "model",
    holdout_note: str = "held-out samples",
    facts: dict[str, Any] | None = None,
    reference: np.ndarray | None = None,
) -> SensitivityReport:
    """Measure every quantized layer of `qdq` (an onnx.ModelProto calibrated from fp32 `source`) on `holdout`.
    `reference`: `source`'s logits on `holdout` when the caller has its file (else it is saved once to compute them)."""
    import onnx

    start = time.perf_counter()
    with scratch_folder(name="sensitivity") as tmp:
        if reference is None:
            source_path = tmp / "fp32.onnx"
            onnx.save_model(source, str(source_path))
            reference = onnx_logits(source_path, holdout)
        evaluate = LogitsEvaluator(reference, holdout, labels, tmp)
        all_int8, all_int8_accuracy = evaluate(qdq)
        rows = measure_layers(qdq, source, evaluate, precision=high_precision)
    return SensitivityReport(
        model=model_name, high_precision=high_precision, holdout=holdout_note, all_int8=all_int8,
        layers=tuple(rows), seconds=time.perf_counter() - start, evaluations=evaluate.runs,
        fp32_accuracy=_accuracy(reference, labels), all_int8_accuracy=all_int8_accuracy, facts=facts,
    )


def draw_sensitivity_chart(report: SensitivityReport, path: Path) -> str | None:
    """A bar chart of each layer's error (1 - worst-sample cosine) to `path`; returns why not, or None."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return PLOT_HINT
    rows = report.layers
    fig = Figure(figsize=(9, 0.45 * len(rows) + 1.8), dpi=100)
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    floor = 1e-7  # a log axis needs a floor: layers at cosine 1.0 are drawn there
    alone = [max(floor, 1 - r.only_int8.cosine) for r in rows]
    spared = [max(floor, 1 - r.only_high.cosine) for r in rows]
    ax.barh(y - 0.2, alone, height=0.4, label="only this layer INT8", color="#c0392b")
    ax.barh(y + 0.2, spared, height=0.4, label=f"all INT8 but this layer ({report.high_precision})", color="#2980b9")
    ax.axvline(max(floor, 1 - report.all_int8.cosine), color="black", linestyle="--", label="all layers INT8")
    ax.set_yticks(y, [f"{r.layer.label} ({r.layer.op_type})" for r in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("1 - worst held-out cosine vs fp32 (lower is better)")
    ax.set_title(f"INT8 sensitivity per layer: {report.model}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        FigureCanvasAgg(fig).print_png(str(tmp))
    return None
