"""`vgg-deploy bench` end to end on a tiny model through the CLI group (which sets up the log lines): worker subprocesses, report files,
skip reasons, a NaN backend marked failed, the artifact cache, and usage errors."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vgg_deploy.bench import backends
from vgg_deploy.bench.backends import Backend, register_backend
from vgg_deploy.bench.schema import validate_report
from vgg_deploy.cli import main

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
FAST = ["--model", "vgg_tiny", "--iterations", "3", "--warmup", "1", "--data", "synthetic"]


@pytest.fixture(scope="module")
def subprocess_run(tmp_path_factory):
    """One real run: each backend in its own worker process, with the machine-peak calibration."""
    out = tmp_path_factory.mktemp("bench")
    args = [*FAST, "--backends", "torch,ort,ort-int8-cpu,trt-fp16", "--batch-sizes", "2", "--calib-data", "synthetic",
            "--calib-samples", "16", "--eval-samples", "24", "-o", str(out)]
    result = CliRunner().invoke(main, ["bench", *args])
    assert result.exit_code == 0, result.output
    return out, result, json.loads((out / "report.json").read_text())


def test_bench_writes_every_report_file(subprocess_run):
    out, result, report = subprocess_run
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    assert (out / "chart.png").is_file() == HAS_MATPLOTLIB
    assert f"report: {out / 'report.html'}" in result.stdout
    assert "| Backend | Precision | Status | Size MB | Top-1 agree | p50 ms |" in result.stdout  # the table, printed
    assert "[bench] [1/3] torch, batch 2" in result.stderr and "[bench] [2/3] ort, batch 2 (~" in result.stderr
    assert validate_report(report) == []


def test_each_backend_ran_in_its_own_process(subprocess_run):
    _, _, report = subprocess_run
    rows = {r["backend"]: r for r in report["results"]}
    assert set(rows) == {"torch", "ort", "ort-int8-cpu"}
    assert all(r["status"] == "ok" and r["subprocess"] for r in rows.values())
    # Memory figures do not mix: a worker that never imports torch peaks far below the torch worker.
    assert rows["ort"]["peak_rss_mb"] < 0.8 * rows["torch"]["peak_rss_mb"]


def test_figures_against_the_eager_reference(subprocess_run):
    _, _, report = subprocess_run
    rows = {r["backend"]: r for r in report["results"]}
    assert rows["torch"]["speedup_vs_torch"] == pytest.approx(1.0)
    assert rows["ort"]["parity"]["top1_agreement"] == 1.0 and rows["ort"]["parity"]["samples"] == 24
    assert rows["ort"]["parity"]["max_abs_diff"] < 1e-4
    assert rows["ort-int8-cpu"]["parity"]["cosine"] > 0.9 and rows["ort-int8-cpu"]["parity"]["nonfinite"] == 0
    assert rows["ort-int8-cpu"]["artifact_mb"] < rows["ort"]["artifact_mb"]  # int8 weights
    m = rows["ort"]["measurement"]
    assert m["count"] == 3 and m["warmup"] == 1 and m["images_per_s"] == pytest.approx(2 / (m["median_ms"] / 1e3))
    assert set(report["machine_peak"]) == {"cpu"} and set(report["machine_peak"]["cpu"]) >= {"fp32", "int8"}
    assert 0 < rows["ort"]["peak_fraction"] < 2
    assert report["inputs"]["synthetic_calibration"] is True  # asked for explicitly, and the report says so
    assert report["executed"]["ort-int8-cpu"]["int8"] == 7 and report["executed"]["ort"]["fp32"] == 7


def test_skipped_backends_carry_their_reason(subprocess_run):
    _, result, report = subprocess_run
    assert report["skipped"] == [{"backend": "trt-fp16", "precision": "fp16 (from the FP16 ONNX)",
                                  "reason": "CUDA only: run with --device cuda on a machine with an NVIDIA GPU"}]
    assert "- trt-fp16: CUDA only: run with --device cuda" in result.stdout


TESTS = Path(__file__).resolve().parent


@pytest.fixture
def custom_backends(monkeypatch, request):
    """Register test backends (by "module:Class") for one test; their module is importable by fresh workers."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p))

    def add(backend: Backend) -> None:
        register_backend(backend)
        request.addfinalizer(lambda: backends.BACKENDS.pop(backend.name, None))

    return add


def test_a_backend_returning_nan_is_marked_failed(tmp_path, custom_backends):
    custom_backends(Backend("fake-nan", "custom", "checkpoint", "fp32", "test double",
                            factory="bench_custom_backends:NaNRunner"))
    result = CliRunner().invoke(main, ["bench", *FAST, "--backends", "torch,fake-nan", "--batch-sizes", "1", "--eval-samples",
                                        "16", "--in-process", "--no-peak", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert validate_report(report) == []
    row = next(r for r in report["results"] if r["backend"] == "fake-nan")
    assert row["status"] == "failed" and row["reason"] == "160 NaN/Inf values in the outputs"  # 16 inputs x 10
    assert row["speedup_vs_torch"] is None and row["peak_fraction"] is None
    assert row["parity"]["max_abs_diff"] is None  # NaN is not JSON: written as null
    assert "| fake-nan | test double | failed: 160 NaN/Inf values in the outputs |" in result.stdout


def test_a_registered_backend_runs_in_its_own_worker_process(tmp_path, custom_backends):
    """A fresh worker knows only the built-in backends: the spec carries the custom one's "module:Class"."""
    custom_backends(Backend("my-ort", "custom", "onnx-fp32", "fp32", "my ONNX Runtime, 1 thread", device="cpu",
                            factory="bench_custom_backends:OrtWithOneThread"))
    result = CliRunner().invoke(main, ["bench", *FAST, "--backends", "my-ort", "--batch-sizes", "2", "--eval-samples",
                                        "16", "--no-peak", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    row = next(r for r in json.loads((tmp_path / "report.json").read_text())["results"] if r["backend"] == "my-ort")
    assert row["status"] == "ok" and row["subprocess"], row["reason"]
    assert row["runner"] == "ort-fp32" and row["parity"]["cosine"] > 0.99999  # real logits, vs eager fp32


def test_register_backend_refuses_a_factory_a_worker_could_not_import():
    for factory in ("bench_custom_backends.NaNRunner", "no_such_module_xyz:Runner"):
        with pytest.raises(ValueError, match="package.module:Class|cannot be imported"):
            register_backend(Backend("bad", "custom", "checkpoint", "fp32", "bad", factory=factory))
    assert "bad" not in backends.BACKENDS


def test_artifacts_are_cached_and_reused(tmp_path):
    args = [*FAST, "--backends", "ort", "--batch-sizes", "1", "--in-process", "--no-peak", "-o", str(tmp_path)]
    first = CliRunner().invoke(main, ["bench", *args])
    assert first.exit_code == 0, first.output
    onnx_file = tmp_path / "artifacts" / "vgg_tiny.onnx"
    stamp = onnx_file.stat().st_mtime_ns
    second = CliRunner().invoke(main, ["bench", *args])
    assert second.exit_code == 0, second.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["artifacts"]["onnx-fp32"]["origin"] == "reused from the work folder"
    assert onnx_file.stat().st_mtime_ns == stamp and "exporting" not in second.stderr
    assert "no speed-ups: the baseline backend 'torch'" in report["warnings"][-1]
    assert report["command"][:4] == ["vgg-deploy", "bench", "--model", "vgg_tiny"]


@pytest.mark.parametrize("args, code, needle", [
    (["--model", "vgg_tiny", "--duration", "1s", "--iterations", "2"], 2, "pass --duration or --iterations, not both"),
    (["--model", "vgg_tiny", "--duration", "soon"], 2, "is not a duration"),
    (["--model", "vgg_tiny", "--batch-sizes", "1,0"], 2, "is not a list of batch sizes"),
    (["--model", "vgg_tiny", "--device", "tpu"], 2, "is not a device"),
    ([], 2, "nothing to benchmark"),
    (["--model", "vgg_tiny", "--backends", "tensorflow"], 1, "unknown backend 'tensorflow'; choose from:"),
    (["--model", "vgg_tiny", "--backends", "trt-int8"], 1, "no requested backend can run here: trt-int8: CUDA only"),
])
def test_usage_and_user_errors_are_one_line(tmp_path, args, code, needle):
    result = CliRunner().invoke(main, ["bench", *args, "-o", str(tmp_path)])
    assert result.exit_code == code, result.output
    assert needle in result.output and "Traceback" not in result.output


def test_latency_budget_sweep_stops_at_the_first_batch_over_budget(tmp_path):
    result = CliRunner().invoke(main, ["bench", *FAST, "--backends", "ort", "--batch-sizes", "1,2,4", "--latency-budget-ms",
                                        "0.000001", "--eval-samples", "8", "--in-process", "--no-peak", "-o",
                                        str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    statuses = [(r["batch_size"], r["status"], r["reason"]) for r in report["results"]]
    assert statuses == [(1, "ok", None), (2, "skipped", "batch 1 already exceeded the 1e-06 ms budget"),
                        (4, "skipped", "batch 1 already exceeded the 1e-06 ms budget")]
    assert report["budget"]["choices"] == [{"backend": "ort", "budget_ms": 1e-06, "batch_size": None,
                                            "images_per_s": None, "p99_ms": None, "tried": [1]}]
    assert "| ort | none fits |" in result.stdout


def test_help_imports_no_backend():
    import subprocess
    import sys

    code = ("import sys; from vgg_deploy.cli.bench_cmd import bench\n"
            "try: bench(['--help'], standalone_mode=False)\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('torch', 'onnxruntime', 'openvino', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "--latency-budget-ms" in out and out.strip().endswith("[]")


def test_conversion_gates_apply_to_variants_made_on_the_way(tmp_path):
    """bench shares quantize's gates: an INT8 variant below --min-cosine is not measured, and says why."""
    result = CliRunner().invoke(main, ["bench", *FAST, "--backends", "ort,ort-int8-cpu", "--batch-sizes", "1", "--calib-data",
                                        "synthetic", "--calib-samples", "16", "--calib-batch", "4", "--min-cosine", "1",
                                        "--eval-samples", "8", "--in-process", "--no-peak", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = {r["backend"]: r for r in json.loads((tmp_path / "report.json").read_text())["results"]}
    assert rows["ort"]["status"] == "ok"
    assert rows["ort-int8-cpu"]["status"] == "failed" and "(min 1.0)" in rows["ort-int8-cpu"]["reason"]
