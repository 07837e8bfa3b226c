"""The zoo's files: zoo.json (every figure), zoo.md (the table and the speed ratios against AlexNet), zoo.png
(the chart) and zoo.html (both). Everything renders from the JSON alone."""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

from ..artifacts import atomic_output, write_text_atomic
from .report import html_table, md_table, num
from .ratios import REFERENCE_MODEL, SEED_RATIO, ratio_text

log = logging.getLogger(__name__)

__all__ = ["write_zoo", "render_zoo_markdown", "zoo_tables", "ZOO_FILES"]

ZOO_FILES = ("zoo.json", "zoo.md", "zoo.html", "zoo.png")


def write_zoo(zoo: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write the zoo files into `out` (each complete or not at all); returns the paths written."""
    from .chart import PLOT_HINT

    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": write_text_atomic(out / "zoo.json", json.dumps(zoo, indent=2) + "\n"),
             "md": write_text_atomic(out / "zoo.md", render_zoo_markdown(zoo))}
    note = None
    if not any(r["status"] == "ok" for r in zoo["results"]):
        note = "chart not drawn: no cell produced a measurement"
    else:
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            from .chart import zoo_figure
        except ImportError:
            note = PLOT_HINT
        else:
            with atomic_output(out / "zoo.png") as tmp:
                FigureCanvasAgg(zoo_figure(zoo)).print_png(str(tmp))
            paths["png"] = out / "zoo.png"
    if note:
        log.info("%s", note)
    paths["html"] = write_text_atomic(out / "zoo.html", _render_html(zoo, chart="png" in paths, note=note))
    return paths


def _accuracy(row: dict[str, Any]) -> str:
    if row["accuracy"] is None:
        return "not measurable"
    return f"{row['accuracy']:.2f} ({row['accuracy_kind']})"


def _agreement(row: dict[str, Any]) -> str:
    if row["agreement_with_fp32"] is not None:
        return f"{100 * row['agreement_with_fp32']:.1f}%"
    return row["agreement_note"] or "—"


def zoo_tables(zoo: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table, for Markdown and HTML alike."""
    models = zoo["models"]
    header = ["Model", "Backend", "Precision", "Batch", "img/s", "p50 ms", "p99 ms", "Peak memory MB", "File MB",
              "Accuracy, %", "Top-1 agreement with fp32", "Params (M)", "GMACs"]
    rows = []
    for r in zoo["results"]:
        facts = models[r["model"]]
        speed = num(r["images_per_s"]) + (f" (= {r['speed_from']})" if r["speed_from"] else "")
        rows.append([r["model"], r["backend"], r["precision"] or "—", str(r["batch_size"]),
                     speed if r["status"] == "ok" else f"{r['status']}: {r['reason']}", num(r["p50_ms"]),
                     num(r["p99_ms"]), num(r["memory_mb"]) + (f" ({r['memory_kind']})" if r["memory_kind"] else ""),
                     num(r["file_mb"]), _accuracy(r), _agreement(r), f"{facts['params'] / 1e6:.2f}",
                     f"{facts['macs_per_image'] / 1e9:.3g}"])
    tables = [("Results", header, rows)]
    ratios = zoo["ratios"]
    if ratios:
        backends = list(dict.fromkeys(b for v in ratios.values() for b in v))
        ratio_rows = [[m + (f" (= {models[m]['speed_from']})" if models[m]["speed_from"] else "")]
                      + [_ratio(v.get(b)) for b in backends] for m, v in ratios.items()]
        tables.append((f"Speed relative to {REFERENCE_MODEL} (images/s ratio, same backend and batch)",
                       ["Model"] + backends, ratio_rows))
    published = [[name, f"{f['published']['top1']:.3f}", f"{f['published']['top5']:.3f}",
                  f"{f['params'] / 1e6:.2f}", f"{f['macs_per_image'] / 1e9:.3g}"]
                 for name, f in models.items() if f.get("published")]
    if published:
        tables.append(("Published ImageNet accuracy (fp32, torchvision weights) and computed size",
                       ["Model", "Top-1 %", "Top-5 %", "Params (M)", "GMACs"], published))
    return tables


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f} ({ratio_text(value)})"



def _summary_lines(zoo: dict[str, Any]) -> list[str]:
    settings, machine = zoo["settings"], zoo["machine"]
    cpu = machine.get("cpu", {})
    lines = [
        f"Command: `{' '.join(zoo['command'])}`",
        f"Machine: {cpu.get('model', '?')}, {cpu.get('usable_cores', '?')} usable cores; created {zoo['created']}, "
        f"took {zoo['wall_s']:.0f} s" + (" — INTERRUPTED (Ctrl-C): only the finished rows" if zoo["interrupted"] else ""),
        f"Each model x backend ran through `vgg-deploy bench` (each backend in its own process): batch "
        f"{', '.join(map(str, settings['batch_sizes']))}, "
        + (f"{settings['iterations']} timed calls" if settings.get("iterations") else
           f"{settings.get('duration_s') or 10:g} s timed") + " per cell; memory is the worker's peak.",
        f"Accuracy axis: {zoo['accuracy_axis']['label']}.",
    ]
    loads = sorted(r["load_average_1m"] for r in zoo["results"] if r.get("load_average_1m") is not None)
    if loads:
        lines.append(f"Machine load (1-min load average as each cell started; {cpu.get('usable_cores', '?')} cores): "
                     f"median {loads[len(loads) // 2]:.1f}, range {loads[0]:.1f}-{loads[-1]:.1f}; above the core "
                     "count means other work shared the CPUs with the measurement.")
    published = [f for f in zoo["models"].values() if f.get("published")]
    if published:
        lines.append(f"Published figures: {published[0]['published']['source']}.")
    if any(r["speed_from"] for r in zoo["results"]):
        lines.append("Batch norm folds into the convolutions at inference: a `_bn` row marked (= X) was not measured; "
                     "it shows X's measured speed with its own published accuracy.")
    ratios = zoo["ratios"]
    if ratios:
        low, high = SEED_RATIO
        vgg = [v for m, per in ratios.items() if not zoo["models"][m]["reference"] for v in per.values()]
        if vgg:
            lines.append(f"VGG/{REFERENCE_MODEL} speed on this machine: {ratio_text(min(vgg))} to {ratio_text(max(vgg))} "
                         f"across models and backends; the seed's GluonCV reading is 1/{1 / low:.0f} to "
                         f"1/{1 / high:.0f}.")
    return lines


def render_zoo_markdown(zoo: dict[str, Any]) -> str:
    lines = ["# vgg-deploy zoo: speed, accuracy and memory per model and backend", ""]
    lines += [f"- {line}" for line in _summary_lines(zoo)] + [""]
    for title, header, rows in zoo_tables(zoo):
        lines += [f"## {title}", ""] + md_table(header, rows) + [""]
    return "\n".join(lines)


def _render_html(zoo: dict[str, Any], *, chart: bool, note: str | None) -> str:
    parts = ["<!doctype html><meta charset='utf-8'><title>vgg-deploy zoo</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}</style>",
             "<h1>vgg-deploy zoo</h1><ul>"]
    parts += [f"<li>{html.escape(line)}</li>" for line in _summary_lines(zoo)] + ["</ul>"]
    parts.append('<img src="zoo.png" alt="speed vs accuracy chart" style="max-width:100%">' if chart else
                 f"<p>{html.escape(note or '')}</p>")
    for title, header, rows in zoo_tables(zoo):
        parts += [f"<h2>{html.escape(title)}</h2>", html_table(header, rows)]
    return "\n".join(parts) + "\n"
