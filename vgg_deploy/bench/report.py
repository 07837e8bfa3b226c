"""The report files: report.json (every figure, schema-checked), report.md (one table per batch size),
report.html with chart.png and latency.png. Everything renders from the JSON alone, so `vgg-deploy report
report.json` redraws the same files later or on another machine."""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

from ..artifacts import write_text_atomic
from ..tables import md_table
from .schema import check_report

log = logging.getLogger(__name__)

__all__ = ["write_reports", "render_markdown", "render_html", "load_report", "REPORT_FILES", "num", "md_table",
           "html_table"]

REPORT_FILES = ("report.json", "report.md", "report.html")


def load_report(path: str | Path) -> dict[str, Any]:
    """A report.json, checked against the schema (a ReportError names the first problems)."""
    from .schema import ReportError

    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except OSError as exc:
        raise ReportError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ReportError(f"{path}: not JSON ({exc})") from None
    check_report(report, source=str(path))
    return report


def write_reports(report: dict[str, Any], out: str | Path, *, write_json: bool = True) -> dict[str, Path]:
    """Write report.json (unless re-rendering), report.md, the charts (when matplotlib is installed) and
    report.html into `out`; returns the paths written."""
    from .chart import draw_charts

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    check_report(report, source="the report")
    paths: dict[str, Path] = {}
    if write_json:
        paths["json"] = write_text_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    paths["md"] = write_text_atomic(out / "report.md", render_markdown(report))
    charts, chart_note = draw_charts(report, out)
    if chart_note:
        log.info("%s", chart_note)
    paths.update(charts)
    paths["html"] = write_text_atomic(out / "report.html", render_html(report, charts=charts, chart_note=chart_note))
    return paths


# -- shared cells -------------------------------------------------------------------------------------------------

def num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"


def _pct(value: float | None, places: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{places}f}%"


def _ops(value: float | None) -> str:
    if value is None:
        return "—"
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} "


def _on_gpu(report: dict[str, Any]) -> bool:
    return any(r.get("gpu_memory") for r in report["results"])


def _columns(report: dict[str, Any]) -> list[str]:
    labelled = report["inputs"]["labelled"]
    cols = ["Backend", "Precision", "Status", "Size MB", "Top-1 agree"]
    if labelled:
        cols.append("Accuracy")
    cols += ["p50 ms", "p99 ms", "img/s", "Speed-up", "% peak", "Peak MB"]
    if _on_gpu(report):
        cols.append("GPU MB")
    return cols


def _cells(report: dict[str, Any], row: dict[str, Any]) -> list[str]:
    m = row.get("measurement") or {}
    parity = row.get("parity") or {}
    status = row["status"] if row["status"] != "ok" or not row.get("warning") else "ok (noisy)"
    if row["status"] == "failed" and row.get("reason"):
        status = f"failed: {row['reason']}"
    elif row["status"] == "skipped" and row.get("reason"):
        status = f"skipped: {row['reason']}"
    cells = [row["backend"], row["precision"], status, num(row.get("artifact_mb")),
             _pct(parity.get("top1_agreement")) if parity.get("nonfinite") == 0 else "—"]
    if report["inputs"]["labelled"]:
        cells.append(_pct(row.get("accuracy")))
    speed = row.get("speedup_vs_torch")
    cells += [num(m.get("median_ms")), num(m.get("p99_ms")), num(m.get("images_per_s"), 4),
              "—" if speed is None else f"{speed:.2f}x", _pct(row.get("peak_fraction"), 0),
              num(row.get("peak_rss_mb"), 4)]
    if _on_gpu(report):
        gpu = row.get("gpu_memory") or {}
        cells.append(num(gpu.get("device_used_increase_mb"), 4))
    return cells


def _batches(report: dict[str, Any]) -> list[int]:
    return sorted({r["batch_size"] for r in report["results"]})


def _header_lines(report: dict[str, Any]) -> list[str]:
    model, machine, settings = report["model"], report["machine"], report["settings"]
    cpu = machine.get("cpu", {})
    versions = ", ".join(f"{name} {value}" for name, value in (
        ("torch", (machine.get("torch") or {}).get("version")),
        ("onnxruntime", (machine.get("onnxruntime") or {}).get("version")),
        ("openvino", machine.get("openvino")), ("tensorrt", (machine.get("tensorrt") or {}).get("version"))) if value)
    gpus = ", ".join(g["name"] for g in machine.get("gpus", [])) or "no GPU"
    timing = (f"{settings['iterations']} timed calls" if settings.get("iterations")
              else f"{settings['duration_s']:g} s of timed calls")
    isolation = "each in its own process" if not settings["in_process"] else "all in one process (peak RSS is cumulative)"
    peaks = "; ".join(f"{device.upper()} " + ", ".join(f"{p} {_ops(v['ops_per_s'])}OP/s" for p, v in figures.items())
                      for device, figures in report["machine_peak"].items() if figures) or "not measured"
    ref_acc = report["reference"].get("accuracy")
    return [
        f"Model: {model['name']} ({model['in_channels']}x{model['input_size'][0]}x{model['input_size'][1]}, "
        f"{model['num_classes']} classes, weights: {model['weights']}); {_ops(model['flops_per_image'])}FLOP per image "
        f"({_ops(model['macs_per_image'])}MAC).",
        f"Machine: {cpu.get('model', '?')}, {settings['threads']} threads, {gpus}; {versions}; device {settings['device']}.",
        f"Inputs: {report['inputs']['note']}. Reference: {report['reference']['backend']}"
        + (f", accuracy {_pct(ref_acc)}." if ref_acc is not None else "."),
        f"Timing: {settings['warmup']} warm-up calls, then {timing} per backend and batch size, {isolation}; "
        f"img/s = batch / median latency. Host<->device copies: {report['copies']}.",
        f"Machine peak, same run (2 x MAC/s of the fastest large matrix product or 3x3 convolution per precision; "
        f"a runtime whose own kernels beat those shows over 100%): {peaks}.",
        "Columns: Size MB = artifact on disk; Top-1 agree = argmax agreement with the reference on the same inputs; "
        "Speed-up = img/s over torch (eager fp32) at the same batch size in this run; % peak = achieved FLOP/s over "
        "the machine peak of the precision the backend computes in; Peak MB = peak resident memory of the process "
        "that ran it" + ("; GPU MB = device-wide used-memory increase (context and workspaces included)."
                         if _on_gpu(report) else "."),
        f"Made {report['created']} by `{' '.join(report['command'])}`.",
    ]


# -- Markdown -----------------------------------------------------------------------------------------------------

def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: one table per batch size, then budget, what ran, skipped backends, warnings."""
    lines = [f"# vgg-deploy bench: {report['model']['name']}", ""]
    lines += [f"- {line}" for line in _header_lines(report)] + [""]
    for batch in _batches(report):
        rows = [r for r in report["results"] if r["batch_size"] == batch]
        lines += [f"## Batch {batch}", ""] + md_table(_columns(report), [_cells(report, r) for r in rows]) + [""]
    for title, header, rows in _extra_tables(report):
        lines += [f"## {title}", ""] + md_table(header, rows) + [""]
    if report["skipped"]:
        lines += ["## Skipped", ""] + [f"- {s['backend']}: {s['reason']}" for s in report["skipped"]] + [""]
    if report["warnings"]:
        lines += ["## Warnings", ""] + [f"- {w}" for w in report["warnings"]] + [""]
    return "\n".join(lines)


def _extra_tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    tables = []
    budget = report.get("budget")
    if budget:
        rows = [[c["backend"], "none fits" if c["batch_size"] is None else str(c["batch_size"]),
                 num(c["images_per_s"], 4), num(c["p99_ms"]), ", ".join(map(str, c["tried"]))]
                for c in budget["choices"]]
        tables.append((f"Within a p99 budget of {budget['budget_ms']:g} ms",
                       ["Backend", "Best batch", "img/s", "p99 ms", "Batches measured"], rows))
    if report["executed"]:
        rows = []
        for backend, facts in report["executed"].items():
            if not facts.get("available"):
                rows.append([backend, "—", "—", "—", facts.get("note", "not available")])
                continue
            counts = {k: v for k, v in facts.items() if isinstance(v, int) and not isinstance(v, bool)}
            half = counts.get("fp16", 0) + counts.get("bf16", 0)
            kinds = facts.get("ops") or facts.get("layers") or {}
            detail = ", ".join(f"{k} x{v}" for k, v in kinds.items())
            if facts.get("int8_activations"):
                detail += "; int8 activations: " + ", ".join(f"{k} x{v}" for k, v in facts["int8_activations"].items())
            rows.append([backend, str(counts.get("int8", 0)), str(half), str(counts.get("fp32", 0) + counts.get("tf32", 0)),
                         f"{facts['source']}: {detail}" if detail else facts["source"]])
        tables.append(("What actually ran (convolutions and GEMMs by executed precision)",
                       ["Backend", "int8", "fp16/bf16", "fp32", "From"], rows))
    return tables


# -- HTML ---------------------------------------------------------------------------------------------------------

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse;"
          "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:nth-child(-n+3),"
          "th:nth-child(-n+3){text-align:left}tr.failed{background:#fdd}tr.skipped{color:#888}.note{color:#a60}")


def html_table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        f"<tr class=\"{html.escape(classes[i] if classes else '')}\">"
        + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for i, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any], *, charts: dict[str, Path], chart_note: str | None) -> str:
    """A self-contained page (the charts are files next to it) with the same content as the Markdown."""
    parts = [f"<!doctype html><html><head><meta charset=\"utf-8\"><title>vgg-deploy bench: "
             f"{html.escape(report['model']['name'])}</title><style>{_STYLE}</style></head><body>",
             f"<h1>vgg-deploy bench: {html.escape(report['model']['name'])}</h1><ul>"]
    parts += [f"<li>{html.escape(line)}</li>" for line in _header_lines(report)] + ["</ul>"]
    if chart_note:
        parts.append(f"<p class=\"note\">{html.escape(chart_note)}</p>")
    for name in ("chart", "latency"):
        if name in charts:
            alt = ("throughput (log) vs agreement, bubble area = peak memory" if name == "chart"
                   else "latency vs batch size")
            parts.append(f"<p><img src=\"{html.escape(charts[name].name)}\" alt=\"{alt}\" style=\"max-width:100%\"></p>")
    for batch in _batches(report):
        rows = [r for r in report["results"] if r["batch_size"] == batch]
        parts.append(f"<h2>Batch {batch}</h2>")
        parts.append(html_table(_columns(report), [_cells(report, r) for r in rows], [r["status"] for r in rows]))
    for title, header, rows in _extra_tables(report):
        parts += [f"<h2>{html.escape(title)}</h2>", html_table(header, rows)]
    if report["skipped"]:
        parts.append("<h2>Skipped</h2><ul>" + "".join(
            f"<li><b>{html.escape(s['backend'])}</b>: {html.escape(s['reason'])}</li>" for s in report["skipped"]) + "</ul>")
    if report["warnings"]:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in report["warnings"]) + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
