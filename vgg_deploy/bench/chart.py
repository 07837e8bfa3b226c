"""The speed / accuracy / memory chart model zoos draw, for this model on this machine, and latency-vs-batch
curves. Drawn with matplotlib's object API (no pyplot state, no display needed); optional extra `plot`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["draw_charts", "PLOT_HINT"]

PLOT_HINT = "charts not drawn: matplotlib is not installed (pip install 'vgg-deploy[plot]')"
_MARKERS = "osD^v<>ph*"


def draw_charts(report: dict[str, Any], out: Path) -> tuple[dict[str, Path], str | None]:
    """({"chart": chart.png, "latency": latency.png}, None), or ({}, why not) without matplotlib or data."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return {}, PLOT_HINT
    rows = [r for r in report["results"] if r["status"] == "ok" and r.get("measurement")]
    if not rows:
        return {}, "charts not drawn: no backend produced a measurement"
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    batches = sorted({r["batch_size"] for r in rows})
    colours = _colours(len(backends))
    colour = dict(zip(backends, colours))
    marker = {b: _MARKERS[i % len(_MARKERS)] for i, b in enumerate(batches)}
    paths = {"chart": out / "chart.png", "latency": out / "latency.png"}

    labelled = report["inputs"]["labelled"]
    metric = "accuracy" if labelled else "top-1 agreement with eager fp32"
    fig = Figure(figsize=(9, 6), dpi=110)
    ax = fig.add_subplot()
    memories = [_memory(r) for r in rows]
    scale = 1500.0 / max([m for m in memories if m] or [1.0])
    ys = []
    for row, memory in zip(rows, memories):
        y = row.get("accuracy") if labelled else (row.get("parity") or {}).get("top1_agreement")
        if y is None:
            continue
        ys.append(100 * y)
        ax.scatter(row["measurement"]["images_per_s"], 100 * y, s=max(20.0, (memory or 0) * scale),
                   c=[colour[row["backend"]]], marker=marker[row["batch_size"]], alpha=0.6, edgecolors="black")
    if ys:
        ax.set_ylim(max(0.0, min(ys) - 2.0), min(100.5, max(ys) + 2.0))
    ax.set_xscale("log")
    ax.set_xlabel("throughput, images/s (log scale)")
    ax.set_ylabel(f"{metric}, %")
    ax.set_title(f"{report['model']['name']}: speed vs {metric.split(' with')[0]} "
                 f"(bubble area = peak {'GPU' if _on_gpu(rows) else 'host'} memory)")
    ax.grid(True, which="both", alpha=0.3)
    handles = [ax.scatter([], [], c=[colour[b]], marker="o", label=b) for b in backends]
    handles += [ax.scatter([], [], c="white", edgecolors="black", marker=marker[n], label=f"batch {n}") for n in batches]
    ax.legend(handles=handles, fontsize="small", loc="best", ncol=2)
    FigureCanvasAgg(fig).print_png(str(paths["chart"]))

    fig = Figure(figsize=(9, 6), dpi=110)
    ax = fig.add_subplot()
    for backend in backends:
        own = sorted((r for r in rows if r["backend"] == backend), key=lambda r: r["batch_size"])
        xs = [r["batch_size"] for r in own]
        ax.plot(xs, [r["measurement"]["median_ms"] for r in own], "-o", color=colour[backend], label=f"{backend} p50")
        ax.plot(xs, [r["measurement"]["p99_ms"] for r in own], ":", color=colour[backend])
    budget = report.get("budget")
    if budget:
        ax.axhline(budget["budget_ms"], color="red", linestyle="--", label=f"budget {budget['budget_ms']:g} ms")
    if len(batches) > 1:
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(n) for n in batches])
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("latency per batch, ms (solid p50, dotted p99; log scale)")
    ax.set_title(f"{report['model']['name']}: latency vs batch size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="best", ncol=2)
    FigureCanvasAgg(fig).print_png(str(paths["latency"]))
    return paths, None


def _memory(row: dict[str, Any]) -> float | None:
    gpu = (row.get("gpu_memory") or {}).get("device_used_increase_mb")
    return gpu if gpu is not None else row.get("peak_rss_mb")


def _on_gpu(rows: list[dict[str, Any]]) -> bool:
    return any((r.get("gpu_memory") or {}).get("device_used_increase_mb") is not None for r in rows)


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(n)]
