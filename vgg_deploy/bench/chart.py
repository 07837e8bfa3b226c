"""The speed / accuracy / memory chart model zoos draw (GluonCV's: log-x images/s, y accuracy, bubble area = memory),
for one model's backends (`bench`) or for a zoo of models (`zoo`), and latency-vs-batch curves. Drawn with
matplotlib's object API (no pyplot state, no display needed); optional extra `plot`.

Readability rules every chart here follows: plain tick labels on log axes ("5", "20", never "6x10^0"), legends
outside the plot area, a size key for the bubbles, every bubble labelled, and an accuracy axis that says so when
accuracy cannot be measured instead of plotting noise (top-1 agreement of random-weight logits is not quality).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..plotting import PLOT_HINT

__all__ = ["draw_charts", "bench_figure", "latency_figure", "zoo_figure", "plain_log_ticks", "PLOT_HINT"]

_MARKERS = "osD^v<>ph*"
_BUBBLE_AREA = 1500.0  # points^2 of the largest bubble
_LEGEND_X = 1.02  # legends start just right of the axes (axes fraction)


def draw_charts(report: dict[str, Any], out: Path) -> tuple[dict[str, Path], str | None]:
    """({"chart": chart.png, "latency": latency.png}, None), or ({}, why not) without matplotlib or data."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        return {}, PLOT_HINT
    if not _ok_rows(report):
        return {}, "charts not drawn: no backend produced a measurement"
    from ..artifacts import atomic_output

    paths = {"chart": out / "chart.png", "latency": out / "latency.png"}
    for key, figure in (("chart", bench_figure), ("latency", latency_figure)):
        with atomic_output(paths[key]) as tmp:  # complete or not at all, like the report's text files
            FigureCanvasAgg(figure(report)).print_png(str(tmp))
    return paths, None


def _ok_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in report["results"] if r["status"] == "ok" and r.get("measurement")]


def bench_accuracy(report: dict[str, Any]) -> tuple[str | None, str]:
    """(row field to plot, axis label); field None = not measurable, and the label says why."""
    weights = str(report["model"].get("weights", ""))
    trained = not weights.startswith("random")
    labelled, synthetic = report["inputs"]["labelled"], report["inputs"].get("synthetic", False)
    if trained and labelled:
        return "accuracy", "accuracy, %"
    if trained and not synthetic:
        return "top1_agreement", "top-1 agreement with eager fp32, %"
    why = "random weights" if not trained else "synthetic inputs"
    return None, f"accuracy not measurable here ({why}: agreement with fp32 would be noise)"


def bench_figure(report: dict[str, Any]) -> Any:
    """One bubble per backend and batch size: colour = backend, marker = batch size."""
    rows = _ok_rows(report)
    field, ylabel = bench_accuracy(report)
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    batches = sorted({r["batch_size"] for r in rows})
    colour = dict(zip(backends, _colours(len(backends))))
    marker = {n: _MARKERS[i % len(_MARKERS)] for i, n in enumerate(batches)}
    points = []
    for row in rows:
        value = row.get("accuracy") if field == "accuracy" else (row.get("parity") or {}).get("top1_agreement")
        y = None if field is None or value is None else 100 * value
        points.append(_Point(x=row["measurement"]["images_per_s"], y=y, memory=_memory(row),
                             label=f"{row['backend']} b{row['batch_size']}", colour=colour[row["backend"]],
                             marker=marker[row["batch_size"]]))
    where = "GPU" if _on_gpu(rows) else "host"
    title = f"{report['model']['name']}: speed vs accuracy, bubble area = peak {where} memory"
    groups = [("backend", [(b, colour[b], "o") for b in backends]),
              ("batch size", [(f"batch {n}", "white", marker[n]) for n in batches])]
    return _bubble_figure(points, title=title, ylabel=ylabel, measurable=field is not None, groups=groups,
                          memory_title=f"peak {where} memory")


def latency_figure(report: dict[str, Any]) -> Any:
    from matplotlib.figure import Figure

    rows = _ok_rows(report)
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    batches = sorted({r["batch_size"] for r in rows})
    colour = dict(zip(backends, _colours(len(backends))))
    fig = Figure(figsize=(10, 6), dpi=110)
    ax = fig.add_axes((0.09, 0.1, 0.66, 0.8))
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
        ax.minorticks_off()
    values = [v for r in rows for v in (r["measurement"]["median_ms"], r["measurement"]["p99_ms"])]
    plain_log_ticks(ax, "y", min(values), max(values))
    ax.set_xlabel("batch size")
    ax.set_ylabel("latency per batch, ms (solid p50, dotted p99; log scale)")
    ax.set_title(f"{report['model']['name']}: latency vs batch size")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(_LEGEND_X, 1.0), borderaxespad=0.0)
    return fig


def zoo_figure(zoo: dict[str, Any]) -> Any:
    """Left: the GluonCV chart (colour = model, marker = backend, every bubble named); right: each model's speed
    relative to AlexNet per backend, against the seed's 1/5-1/6."""
    from .ratios import REFERENCE_MODEL, SEED_RATIO, ratio_text

    rows = [r for r in zoo["results"] if r["status"] == "ok" and r["images_per_s"]]
    batch = max((r["batch_size"] for r in rows), default=0)
    rows = [r for r in rows if r["batch_size"] == batch]
    models = list(dict.fromkeys(r["model"] for r in rows))
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    colour = dict(zip(models, _colours(len(models))))
    marker = {b: _MARKERS[i % len(_MARKERS)] for i, b in enumerate(backends)}
    axis = zoo["accuracy_axis"]
    points = [_Point(x=r["images_per_s"], y=r["accuracy"], memory=r["memory_mb"], colour=colour[r["model"]],
                     marker=marker[r["backend"]], hollow=r["speed_from"] is not None,
                     label=r["model"] + ("*" if r["speed_from"] else ""))
              for r in rows]
    where = "GPU" if any(r["memory_kind"] == "GPU" for r in rows) else "host"
    groups = [("model", [(m, colour[m], "o") for m in models]),
              ("backend", [(b, "white", marker[b]) for b in backends])]
    if any(r["speed_from"] for r in rows):
        groups.append(("", [("hollow, *: _bn at its twin's measured speed", "none", "o")]))
    title = f"speed vs accuracy at batch {batch}, bubble area = peak {where} memory"
    fig = _bubble_figure(points, title=title, ylabel=axis["label"], measurable=axis["measurable"], groups=groups,
                         memory_title=f"peak {where} memory", size=(17, 7.5), rect=(0.05, 0.2, 0.42, 0.7))
    notes = [axis.get("note")]
    unplotted = sorted({p.label for p in points if p.y is None}) if axis["measurable"] else []
    if unplotted:
        notes.append(f"not plotted (no accuracy measured or published): {', '.join(unplotted)}")
    fig.text(0.05, 0.03, "\n".join(n for n in notes if n), fontsize="small", va="bottom")
    ax = fig.add_axes((0.68, 0.2, 0.3, 0.7))
    ratios = zoo.get("ratios") or {}
    if not ratios:
        ax.text(0.5, 0.5, f"{REFERENCE_MODEL} not measured in this run:\nno speed ratios", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    derived = {r["model"] for r in rows if r["speed_from"]}  # the same bars as their twins': not repeated
    names = [m for m in models if m in ratios and m not in derived]
    height = 0.8 / max(1, len(backends))
    low, high = SEED_RATIO
    ax.axvspan(low, high, color="gold", alpha=0.35, label="seed: VGG ≈ 1/6-1/5 of AlexNet")
    for j, backend in enumerate(backends):
        for i, name in enumerate(names):
            value = ratios[name].get(backend)
            if value is None:
                continue
            y = i + (j - (len(backends) - 1) / 2) * height
            ax.barh(y, value, height=height * 0.9, color=colour[name], edgecolor="black",
                    hatch=_HATCHES[j % len(_HATCHES)], label=backend if i == 0 else None)
            ax.text(value, y, f" {ratio_text(value)}", va="center", fontsize="x-small")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    top = max(max(v.values()) for v in ratios.values())
    ax.set_xlim(0, max(top, high) * 1.35)
    ax.set_xlabel(f"images/s relative to {REFERENCE_MODEL} on the same backend")
    ax.set_title(f"speed relative to {REFERENCE_MODEL} (bar hatch = backend)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(0.0, -0.1), ncol=3, borderaxespad=0.0)
    return fig


_HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "++")


class _Point:
    def __init__(self, *, x: float, y: float | None, memory: float | None, label: str, colour: Any, marker: str,
                 hollow: bool = False) -> None:
        self.x, self.y, self.memory, self.label = x, y, memory, label
        self.colour, self.marker, self.hollow = colour, marker, hollow


def _bubble_figure(points: list[_Point], *, title: str, ylabel: str, measurable: bool,
                   groups: list[tuple[str, list[tuple[str, Any, str]]]], memory_title: str,
                   size: tuple[float, float] = (11, 6.5), rect: tuple[float, float, float, float] = (0.08, 0.1, 0.6, 0.8)
                   ) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=110)
    ax = fig.add_axes(rect)
    memories = [p.memory for p in points if p.memory]
    scale = _BUBBLE_AREA / max(memories or [1.0])
    if measurable and not any(p.y is not None for p in points):
        measurable = False  # e.g. every cell with a known accuracy failed: nothing to place on the accuracy axis
    plotted = [p for p in points if p.y is not None] if measurable else points
    for p in plotted:
        y = p.y if measurable and p.y is not None else 0.5
        ax.scatter(p.x, y, s=max(20.0, (p.memory or 0) * scale), facecolors="none" if p.hollow else [p.colour],
                   edgecolors=[p.colour] if p.hollow else "black", marker=p.marker, alpha=0.6, linewidths=1.2)
        ax.annotate(p.label, (p.x, y), xytext=(6, 6), textcoords="offset points", fontsize="x-small")
    xs = [p.x for p in plotted]
    plain_log_ticks(ax, "x", min(xs), max(xs))
    ys = [p.y for p in plotted if p.y is not None]
    if measurable:
        ax.set_ylim(max(0.0, min(ys) - 3.0), min(100.5, max(ys) + 3.0))
    else:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
    ax.set_xlabel("throughput, images/s (log scale)")
    ax.set_ylabel(ylabel, wrap=True)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    handles, labels = [], []
    for heading, entries in groups:
        if heading:
            handles.append(ax.scatter([], [], marker="", facecolors="none"))
            labels.append(heading)
        for text, colour, mark in entries:
            handles.append(ax.scatter([], [], facecolors=colour if colour == "none" else [colour], marker=mark,
                                      edgecolors="black"))
            labels.append(text)
    legend = ax.legend(handles, labels, fontsize="small", loc="upper left", bbox_to_anchor=(_LEGEND_X, 1.0),
                       borderaxespad=0.0)
    ax.add_artist(legend)
    key = _memory_key(max(memories or [1.0]))
    ax.legend([ax.scatter([], [], s=v * scale, c="lightgrey", edgecolors="black") for v in key],
              [f"{v:g} MB" for v in key], title=memory_title, fontsize="small", loc="lower left",
              bbox_to_anchor=(_LEGEND_X, 0.0), borderaxespad=0.0, labelspacing=1.6, borderpad=1.0,
              handletextpad=1.5)
    return fig


def _memory_key(largest: float) -> list[float]:
    """Two or three round sizes up to the largest bubble's memory, for the size key."""
    top = 10 ** math.floor(math.log10(largest)) if largest > 0 else 1.0
    top = max(t for t in (top, 2 * top, 5 * top) if t <= largest) if largest >= 1 else largest
    return sorted({round(top / 4, 6), round(top / 2, 6), top} - {0})


def plain_log_ticks(ax: Any, which: str, low: float, high: float) -> None:
    """A log axis from `low` to `high` with plain numbers at 1-2-5 steps (enough of them even inside one
    decade) and no minor labels: matplotlib's default would print "6x10^0"."""
    low, high = (low, high) if low > 0 and high > 0 else (1.0, 10.0)
    lo, hi = low / 1.25, high * 1.25
    ticks = _nice_ticks(lo, hi)
    getattr(ax, f"set_{which}scale")("log")
    getattr(ax, f"set_{which}lim")(lo, hi)
    getattr(ax, f"set_{which}ticks")(ticks, [f"{t:g}" for t in ticks])
    getattr(ax, f"set_{which}ticks")([], minor=True)


def _nice_ticks(lo: float, hi: float) -> list[float]:
    for steps in ((1.0,), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0), (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0,
                                                                          7.0, 8.0, 9.0)):
        ticks = [float(f"{s * 10 ** e:.6g}") for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                 for s in steps if lo <= s * 10 ** e <= hi]
        if len(ticks) >= 3:
            return ticks
    return [float(f"{lo:.3g}"), float(f"{math.sqrt(lo * hi):.3g}"), float(f"{hi:.3g}")]


def _memory(row: dict[str, Any]) -> float | None:
    gpu = (row.get("gpu_memory") or {}).get("device_used_increase_mb")
    return gpu if gpu is not None else row.get("peak_rss_mb")


def _on_gpu(rows: list[dict[str, Any]]) -> bool:
    return any((r.get("gpu_memory") or {}).get("device_used_increase_mb") is not None for r in rows)


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(n)]
