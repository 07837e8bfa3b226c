"""`vgg-deploy zoo`: a real small run through the bench harness, the rows and ratios (with a stand-in harness for
speed), the _bn twins, Ctrl-C keeping the finished rows, and the charts asserted on their matplotlib Figures."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from vgg_deploy.bench import BenchOptions
from vgg_deploy.bench import zoo as zoo_module
from vgg_deploy.bench.zoo import ZooOptions, run_zoo, speed_ratios
from vgg_deploy.bench.zoo_report import render_zoo_markdown, write_zoo
from vgg_deploy.cli import main

matplotlib = pytest.importorskip("matplotlib", reason="the charts need the optional extra 'plot'")

FAST = BenchOptions(iterations=2, warmup=0, eval_samples=4, in_process=True, measure_peak=False)


def fake_bench(speeds: dict[tuple[str, str], float], *, interrupt_at: int | None = None):
    """A stand-in for run_bench: one ok row per batch size at the given images/s (memory grows with the model)."""
    calls = []

    def run(source, *, out, work, options, command):
        calls.append((source.model, options.backends))
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise KeyboardInterrupt
        speed = speeds[(source.model, options.backends)]
        return {"inputs": {"labelled": False, "synthetic": True}, "results": [
            {"backend": options.backends, "batch_size": n, "status": "ok", "precision": "fp32",
             "measurement": {"images_per_s": speed, "median_ms": n * 1000 / speed, "p99_ms": n * 1100 / speed},
             "peak_rss_mb": 100 + 1000 / speed, "gpu_memory": None, "artifact_mb": 10.0,
             "parity": {"top1_agreement": 0.6}, "accuracy": None} for n in options.batch_sizes]}

    return run, calls


SPEEDS = {("alexnet", "torch"): 60.0, ("alexnet", "ort"): 90.0, ("vgg11", "torch"): 10.0, ("vgg11", "ort"): 15.0,
          ("vgg16", "torch"): 5.0, ("vgg16", "ort"): 7.5}


@pytest.fixture
def fake_zoo(monkeypatch, tmp_path):
    run, calls = fake_bench(SPEEDS)
    monkeypatch.setattr(zoo_module, "run_bench", run)
    options = ZooOptions(models=("vgg11", "vgg16", "alexnet"), backends=("torch", "ort"), batch_sizes=(8,), bn=True)
    return run_zoo(options, work=tmp_path, command=["vgg-deploy", "zoo"]), calls


def test_every_model_x_backend_is_one_harness_run_and_ratios_are_against_alexnet(fake_zoo):
    zoo, calls = fake_zoo
    assert calls == [(m, b) for m in ("vgg11", "vgg16", "alexnet") for b in ("torch", "ort")]
    assert zoo["ratios"] == {"vgg11": {"torch": pytest.approx(1 / 6), "ort": pytest.approx(1 / 6)},
                             "vgg16": {"torch": pytest.approx(1 / 12), "ort": pytest.approx(1 / 12)},
                             "vgg11_bn": {"torch": pytest.approx(1 / 6), "ort": pytest.approx(1 / 6)},
                             "vgg16_bn": {"torch": pytest.approx(1 / 12), "ort": pytest.approx(1 / 12)}}
    row = next(r for r in zoo["results"] if r["model"] == "vgg16" and r["backend"] == "ort")
    # Random weights: the published figure, labelled; agreement on random logits is not reported as quality.
    assert row["accuracy"] == 71.592 and row["accuracy_kind"] == "published fp32 top-1"
    assert row["agreement_with_fp32"] is None and "random weights" in row["agreement_note"]
    assert zoo["models"]["alexnet"]["reference"] and zoo["models"]["vgg16"]["params"] == 138_357_544


def test_bn_twins_are_drawn_at_their_twins_speed_with_their_own_accuracy(fake_zoo):
    zoo, _ = fake_zoo
    twin = next(r for r in zoo["results"] if r["model"] == "vgg16_bn" and r["backend"] == "torch")
    assert twin["speed_from"] == "vgg16" and twin["images_per_s"] == 5.0 and twin["accuracy"] == 73.36
    assert zoo["models"]["vgg16_bn"]["measured"] is False and zoo["models"]["vgg16_bn"]["speed_from"] == "vgg16"
    md = render_zoo_markdown(zoo)
    assert "| vgg16_bn | torch | fp32 | 8 | 5 (= vgg16) |" in md and "Batch norm folds" in md


def test_markdown_has_the_ratio_table_and_the_seeds_claim(fake_zoo):
    md = render_zoo_markdown(fake_zoo[0])
    assert "## Speed relative to alexnet" in md and "| vgg16 | 0.083 (1/12) | 0.083 (1/12) |" in md
    assert "1/12 to 1/6" in md and "1/6 to 1/5" in md
    assert "71.59 (published fp32 top-1)" in md


def test_with_weights_and_labelled_data_accuracy_is_measured(monkeypatch, tmp_path):
    run, calls = fake_bench(SPEEDS)

    def labelled(source, **kw):
        report = run(source, **kw)
        for row in report["results"]:
            row["accuracy"] = 0.5 if source.model == "alexnet" else 0.7
        return {**report, "inputs": {"labelled": True, "synthetic": False}}

    monkeypatch.setattr(zoo_module, "run_bench", labelled)
    for name in ("vgg11.pth", "alexnet-7be5be79.pth", "vgg11_bn-6002323d.pth"):
        (tmp_path / name).write_bytes(b"")
    options = ZooOptions(models=("vgg11", "alexnet"), backends=("ort",), weights_dir=tmp_path)
    zoo = run_zoo(options, work=tmp_path / "work")
    vgg = next(r for r in zoo["results"] if r["model"] == "vgg11")
    assert (vgg["accuracy"], vgg["accuracy_kind"], vgg["agreement_with_fp32"]) == (70.0, "measured top-1", 0.6)
    assert zoo["accuracy_axis"]["label"] == "measured top-1, %" and zoo["accuracy_axis"]["note"] is None


def test_ctrl_c_keeps_the_finished_rows(monkeypatch, tmp_path):
    run, calls = fake_bench(SPEEDS, interrupt_at=3)
    monkeypatch.setattr(zoo_module, "run_bench", run)
    result = CliRunner().invoke(main, ["zoo", "--models", "vgg11,alexnet", "--backends", "torch,ort",
                                       "-o", str(tmp_path / "out")])
    assert result.exit_code == 130, result.output
    zoo = json.loads((tmp_path / "out" / "zoo.json").read_text())
    assert zoo["interrupted"] and [(r["model"], r["backend"]) for r in zoo["results"]] == [("vgg11", "torch"),
                                                                                            ("vgg11", "ort")]
    assert (tmp_path / "out" / "zoo.png").is_file() and "INTERRUPTED" in (tmp_path / "out" / "zoo.md").read_text()


def test_a_small_real_zoo_through_the_harness(tmp_path):
    options = ZooOptions(models=("vgg_tiny", "lenet"), backends=("torch", "ort"), batch_sizes=(2,), bench=FAST)
    zoo = run_zoo(options, work=tmp_path / "work")
    ok = [r for r in zoo["results"] if r["status"] == "ok"]
    assert [(r["model"], r["backend"]) for r in ok] == [("vgg_tiny", "torch"), ("vgg_tiny", "ort"),
                                                        ("lenet", "torch"), ("lenet", "ort")]
    assert all(r["images_per_s"] > 0 and r["p99_ms"] >= r["p50_ms"] > 0 and r["file_mb"] > 0 for r in ok)
    assert zoo["ratios"] == {} and not zoo["accuracy_axis"]["measurable"]  # no AlexNet, nothing published
    paths = write_zoo(zoo, tmp_path / "out")
    assert {p.name for p in paths.values()} == {"zoo.json", "zoo.md", "zoo.html", "zoo.png"}
    assert json.loads(paths["json"].read_text())["results"] == zoo["results"]


# -- the charts, asserted on the matplotlib Figure -------------------------------------------------------------

def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _tick_texts(ax, which):
    return [t.get_text() for t in getattr(ax, f"get_{which}ticklabels")() if t.get_text()]


def _assert_readable(ax, renderer, *, memory_title):
    box = ax.get_window_extent(renderer)
    legends = [c for c in ax.get_children() if isinstance(c, matplotlib.legend.Legend)]
    assert len(legends) == 2
    for legend in legends:  # outside the plot area, to its right
        assert legend.get_window_extent(renderer).x0 >= box.x1
    key = next(lg for lg in legends if lg.get_title().get_text() == memory_title)
    assert all(t.get_text().endswith(" MB") for t in key.get_texts()) and len(key.get_texts()) >= 2
    ticks = _tick_texts(ax, "x")
    assert len(ticks) >= 3 and all(float(t) > 0 for t in ticks)  # plain numbers: no "6x10^0", no mathtext
    assert not _tick_texts(ax, "x") or all("$" not in t and "10^" not in t for t in ticks)
    assert [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()] == []


def test_zoo_chart_names_every_bubble_keeps_legends_outside_and_has_a_memory_key(fake_zoo):
    from vgg_deploy.bench.chart import zoo_figure

    zoo = fake_zoo[0]
    fig = zoo_figure(zoo)
    renderer = _drawn(fig)
    bubbles, ratios = fig.axes
    labels = sorted(t.get_text() for t in bubbles.texts)
    expected = sorted(r["model"] + ("*" if r["speed_from"] else "") for r in zoo["results"])
    assert labels == expected and "vgg11_bn*" in labels
    _assert_readable(bubbles, renderer, memory_title="peak host memory")
    assert bubbles.get_ylabel() == "published fp32 top-1, %"
    assert {t.get_text() for t in ratios.get_yticklabels()} == {"vgg11", "vgg16"}  # twins' bars not repeated
    assert " 1/12" in {t.get_text() for t in ratios.texts}


def test_a_chart_whose_rows_with_an_accuracy_all_failed_does_not_crash():
    from vgg_deploy.bench.chart import zoo_figure

    ok = {"model": "lenet", "backend": "ort", "batch_size": 2, "status": "ok", "images_per_s": 50.0,
          "memory_mb": 90.0, "memory_kind": "host RSS", "accuracy": None, "speed_from": None}
    failed = {**ok, "model": "vgg16", "status": "failed", "images_per_s": None, "accuracy": 71.592}
    zoo = {"results": [ok, failed], "ratios": {}, "accuracy_axis": {"measurable": True, "label": "published, %"}}
    ax = zoo_figure(zoo).axes[0]
    assert list(ax.get_yticks()) == [] and [t.get_text() for t in ax.texts] == ["lenet"]


def test_unmeasurable_accuracy_is_said_on_the_y_axis_not_plotted_as_noise(tmp_path):
    from vgg_deploy.bench.chart import bench_figure, zoo_figure

    row = {"model": "lenet", "backend": "ort", "batch_size": 2, "status": "ok", "images_per_s": 50.0,
           "memory_mb": 90.0, "memory_kind": "host RSS", "accuracy": None, "speed_from": None}
    zoo = {"results": [row, {**row, "backend": "torch", "images_per_s": 8.0}], "ratios": {},
           "accuracy_axis": {"measurable": False, "label": "accuracy not measurable here: random weights"}}
    ax = zoo_figure(zoo).axes[0]
    assert "not measurable" in ax.get_ylabel() and list(ax.get_yticks()) == []
    assert sorted(t.get_text() for t in ax.texts) == ["lenet", "lenet"]

    measurement = {"images_per_s": 6.0, "median_ms": 1300.0, "p99_ms": 1400.0}
    report = {"model": {"name": "vgg16", "weights": "random (seed 0)"},
              "inputs": {"labelled": False, "synthetic": True}, "budget": None,
              "results": [{"backend": b, "batch_size": 8, "status": "ok", "measurement": {**measurement,
                           "images_per_s": s}, "parity": {"top1_agreement": 0.56}, "peak_rss_mb": m, "accuracy": None}
                          for b, s, m in (("torch", 5.0, 1350.0), ("ort", 7.3, 1120.0), ("ov-int8", 28.6, 460.0))]}
    fig = bench_figure(report)
    renderer = _drawn(fig)
    ax = fig.axes[0]
    assert "not measurable" in ax.get_ylabel() and "random weights" in ax.get_ylabel()
    assert list(ax.get_yticks()) == []  # the 56% agreement of random logits is not drawn as accuracy
    assert sorted(t.get_text() for t in ax.texts) == ["ort b8", "ov-int8 b8", "torch b8"]
    _assert_readable(ax, renderer, memory_title="peak host memory")
