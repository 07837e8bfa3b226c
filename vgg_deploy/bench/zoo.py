"""`run_zoo`: the model-zoo chart for this machine. Every model x backend cell is one `run_bench` (each backend in
its own worker process, memory the worker's own peak), so a zoo row means what a bench row means. Accuracy is
measured when trained weights and labelled data are given, else the architecture's published figure, labelled so.

Batch norm folds into the convolutions at inference, so with `bn` a `_bn` variant that is not measured itself is
plotted at its plain twin's measured speed with its own published accuracy, and marked as such.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..log import progress_bar
from ..formats import suffixes
from .backends import BenchError, resolve_backends
from .harness import BenchOptions, run_bench
from .prepare import ModelSource
from .ratios import REFERENCE_MODEL, SEED_RATIO, ratio_text, speed_ratios

log = logging.getLogger(__name__)

__all__ = ["ZooOptions", "run_zoo", "speed_ratios", "ratio_text", "REFERENCE_MODEL", "SEED_RATIO", "ZOO_SCHEMA"]

ZOO_SCHEMA = "vgg-deploy-zoo"


@dataclass(frozen=True)
class ZooOptions:
    """Which models and backends; `bench` says how each cell is measured (its backends/batch sizes are set here)."""

    models: tuple[str, ...]
    backends: tuple[str, ...] = ("torch", "ort", "ov-bf16", "ov-int8")
    batch_sizes: tuple[int, ...] = (8,)
    bn: bool = False
    weights_dir: Path | None = None
    input_size: tuple[int, int] | None = None
    bench: BenchOptions = field(default_factory=BenchOptions)


def run_zoo(options: ZooOptions, *, work: Path, command: list[str] | None = None) -> dict[str, Any]:
    """Measure every model x backend; Ctrl-C stops after keeping the finished rows (the report says so)."""
    from ..environment import environment_facts
    from ..models import model_config, model_info

    started = time.time()
    configs = {name: model_config(name) for name in options.models}
    backends = [b.name for b in resolve_backends(",".join(options.backends), device=options.bench.device)]
    weights = {name: _weights_file(options.weights_dir, name) for name in configs} if options.weights_dir else {}
    derived = _bn_twins(list(configs)) if options.bn else {}
    facts = {name: _model_facts(name, options.input_size) for name in [*configs, *derived]}
    cells = [(m, b) for m in configs for b in backends]
    rows: list[dict[str, Any]] = []
    spent: list[float] = []
    interrupted = False
    for index, (model, backend) in enumerate(progress_bar(cells, desc="zoo", unit="cell"), start=1):
        elapsed = time.time() - started
        left = f", ~{_clock((len(cells) - index + 1) * sum(spent) / len(spent))} left" if spent else ""
        log.info(f"[{index}/{len(cells)}] {model} x {backend} ({len(configs)} models x {len(backends)} backends; "
                 f"elapsed {_clock(elapsed)}{left})")
        tick, load = time.perf_counter(), _load_average()
        try:
            report = run_bench(
                ModelSource(model=model, weights=weights.get(model), input_size=options.input_size,
                            seed=options.bench.seed),
                out=work / model, work=work / model, command=command,
                options=replace(options.bench, backends=backend, batch_sizes=options.batch_sizes, measure_peak=False),
            )
        except KeyboardInterrupt:
            interrupted = True
            log.info("interrupted: keeping the %d finished rows", len(rows))
            break
        except BenchError as exc:
            report = None
            rows.extend(_failed_row(model, backend, n, str(exc), facts[model]) for n in options.batch_sizes)
        spent.append(time.perf_counter() - tick)
        if report is not None:
            for result in report["results"]:
                rows.append({**_zoo_row(model, result, report, facts[model], trained=model in weights),
                             "load_average_1m": load})
                log.info("    %s", _summary(rows[-1]))
    for twin, plain in derived.items():
        rows.extend(_derived_row(row, twin, facts[twin]) for row in list(rows) if row["model"] == plain)
    return {
        "schema": ZOO_SCHEMA, "schema_version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_s": round(time.time() - started, 1), "interrupted": interrupted,
        "command": list(command if command is not None else sys.argv),
        "machine": environment_facts(),
        "settings": {"models": list(configs), "backends": backends, "batch_sizes": list(options.batch_sizes),
                     "bn": options.bn, "weights_dir": str(options.weights_dir) if options.weights_dir else None,
                     "input_size": list(options.input_size) if options.input_size else None,
                     **{k: v for k, v in asdict(options.bench).items() if k not in ("backends", "batch_sizes")}},
        "models": {name: {**model_info(name).to_dict(), **facts[name], "measured": name in configs,
                          "speed_from": derived.get(name)} for name in facts},
        "accuracy_axis": _accuracy_axis(rows, trained=bool(weights)),
        "results": rows,
        "ratios": speed_ratios(rows),
    }


def _weights_file(folder: Path, name: str) -> str:
    """`name`.pth/.pt/.safetensors, or torchvision's own file name (`vgg16-397923af.pth`), in the weights folder."""
    found = sorted(p for p in folder.iterdir() if p.suffix in suffixes("checkpoint") and
                   (p.stem == name or re.fullmatch(rf"{re.escape(name)}-[0-9a-f]+", p.stem)))
    if len(found) != 1:
        what = "no checkpoint" if not found else f"{len(found)} checkpoints ({', '.join(p.name for p in found)})"
        raise BenchError(f"--weights {folder}: {what} for {name}; expected one {name}.pth (or torchvision's "
                         f"{name}-<hash>.pth, .pt, .safetensors)")
    return str(found[0])


def _bn_twins(models: list[str]) -> dict[str, str]:
    """`X_bn` -> `X` for each plain VGG in the run whose batch-norm twin is registered but not measured itself."""
    from ..models import list_models

    known = set(list_models())
    return {f"{m}_bn": m for m in models if f"{m}_bn" in known and f"{m}_bn" not in models}


def _model_facts(name: str, input_size: tuple[int, int] | None) -> dict[str, Any]:
    from ..models import model_config, published_accuracy

    config = model_config(name).with_options(input_size=input_size)
    params = config.parameter_count
    published = published_accuracy(name)
    return {"params": params, "macs_per_image": config.macs(), "input_size": list(config.input_size),
            "published_top1": published.top1 if published else None,
            "published_top5": published.top5 if published else None}


def _zoo_row(model: str, result: dict[str, Any], report: dict[str, Any], facts: dict[str, Any], *,
             trained: bool) -> dict[str, Any]:
    m = result.get("measurement") or {}
    gpu = (result.get("gpu_memory") or {}).get("device_used_increase_mb")
    inputs = report["inputs"]
    parity = result.get("parity") or {}
    measured = result.get("accuracy") if trained and inputs["labelled"] else None
    if trained and not inputs["synthetic"]:
        agreement, agreement_note = parity.get("top1_agreement"), None
    else:
        agreement = None
        agreement_note = "not measurable: random weights" if not trained else "not measurable: synthetic inputs"
    return {
        "model": model, "backend": result["backend"], "precision": result["precision"],
        "batch_size": result["batch_size"], "status": result["status"], "reason": result.get("reason"),
        "images_per_s": m.get("images_per_s"), "p50_ms": m.get("median_ms"), "p99_ms": m.get("p99_ms"),
        "memory_mb": gpu if gpu is not None else result.get("peak_rss_mb"),
        "memory_kind": "GPU" if gpu is not None else "host RSS", "file_mb": result.get("artifact_mb"),
        "accuracy": 100 * measured if measured is not None else facts["published_top1"],
        "accuracy_kind": "measured top-1" if measured is not None else
        "published fp32 top-1" if facts["published_top1"] is not None else None,
        "agreement_with_fp32": agreement, "agreement_note": agreement_note, "speed_from": None,
    }


def _failed_row(model: str, backend: str, batch: int, reason: str, facts: dict[str, Any]) -> dict[str, Any]:
    return {"model": model, "backend": backend, "precision": None, "batch_size": batch, "status": "failed",
            "reason": reason, "images_per_s": None, "p50_ms": None, "p99_ms": None, "memory_mb": None,
            "memory_kind": None, "file_mb": None, "accuracy": facts["published_top1"],
            "accuracy_kind": "published fp32 top-1" if facts["published_top1"] is not None else None,
            "agreement_with_fp32": None, "agreement_note": None, "speed_from": None}


def _derived_row(row: dict[str, Any], name: str, facts: dict[str, Any]) -> dict[str, Any]:
    """A `_bn` variant at its twin's measured speed (batch norm folds away), with its own published accuracy."""
    published = facts["published_top1"]
    return {**row, "model": name, "speed_from": row["model"], "accuracy": published,
            "accuracy_kind": "published fp32 top-1" if published is not None else None,
            "agreement_with_fp32": None, "agreement_note": f"not measured: plotted at {row['model']}'s speed"}


def _accuracy_axis(rows: list[dict[str, Any]], *, trained: bool) -> dict[str, Any]:
    kinds = sorted({r["accuracy_kind"] for r in rows if r["accuracy_kind"] and r["status"] == "ok"})
    if not kinds:
        return {"measurable": False, "label": "accuracy not measurable here: random weights, and no published "
                "ImageNet figure for these models"}
    note = None if trained else "published: torchvision's ImageNet weights; speed measured on random weights"
    return {"measurable": True, "label": " / ".join(kinds) + ", %", "kinds": kinds, "note": note}


def _summary(row: dict[str, Any]) -> str:
    if row["status"] != "ok":
        return f"{row['model']} x {row['backend']}: {row['status']}: {row['reason']}"
    return (f"{row['model']} x {row['backend']}: {row['images_per_s']:.4g} img/s, p50 {row['p50_ms']:.4g} ms, "
            f"{row['memory_kind']} {row['memory_mb']:.0f} MB")


def _load_average() -> float | None:
    """The machine's 1-minute load average as a cell starts: on a shared machine, how busy it was."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _clock(seconds: float) -> str:
    seconds = max(0, math.ceil(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
