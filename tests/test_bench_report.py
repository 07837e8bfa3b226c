"""report.json against its schema (generated from the report's dataclasses, checked with jsonschema), the Markdown and HTML renderings, the charts being optional,
and `vgg-deploy report` re-rendering from the JSON."""

from __future__ import annotations

import copy
import dataclasses
import html
import importlib.util
import json
import math
import sys

import pytest
from click.testing import CliRunner

from vgg_deploy.bench.chart import PLOT_HINT
from vgg_deploy.bench.report import render_markdown, write_reports
from vgg_deploy.bench.records import BenchReport, ReportRow
from vgg_deploy.bench.schema import SCHEMA_PATH, ReportError, check_report, report_schema, schema_text, validate_report
from vgg_deploy.cli.bench_cmd import bench
from vgg_deploy.cli.report_cmd import report as report_command

jsonschema = pytest.importorskip("jsonschema")  # a dev dependency


@pytest.fixture(scope="module")
def bench_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    args = ["--model", "vgg_tiny", "--backends", "torch,ort,torch-fp16", "--batch-sizes", "1,2", "--iterations", "3",
            "--warmup", "0", "--eval-samples", "8", "--latency-budget-ms", "1000", "--in-process", "--no-peak",
            "-o", str(out)]
    result = CliRunner().invoke(bench, args)
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "report.json").read_text())


def test_schema_is_versioned_and_the_report_follows_it(bench_report):
    _, report = bench_report
    assert report_schema()["properties"]["schema_version"] == {"const": 1} and report["schema_version"] == 1
    jsonschema.Draft202012Validator.check_schema(report_schema())
    jsonschema.validate(report, report_schema(), cls=jsonschema.Draft202012Validator)
    assert validate_report(report) == []
    check_report(report)  # does not raise


def test_schema_is_generated_from_the_dataclasses_and_the_shipped_file_is_current():
    schema = report_schema()
    assert schema["required"] == [f.name for f in dataclasses.fields(BenchReport)]
    row = schema["$defs"]["ReportRow"]
    assert list(row["properties"]) == [f.name for f in dataclasses.fields(ReportRow)]
    assert row["properties"]["status"] == {"enum": ["ok", "failed", "skipped"]}
    assert row["properties"]["batch_size"] == {"type": "integer", "minimum": 1}
    assert row["properties"]["speedup_vs_torch"]["type"] == ["number", "null"]
    assert "speedup_vs_torch" not in row["required"] and "measurement" in row["required"]
    assert SCHEMA_PATH.read_text() == schema_text(), "run: python scripts/report_schema.py"


def test_report_rows_keep_their_keys_in_order(bench_report):
    _, report = bench_report
    assert list(report["results"][0]) == [f.name for f in dataclasses.fields(ReportRow)]
    assert list(report) == [f.name for f in dataclasses.fields(BenchReport)]


def test_nan_is_null_in_the_file_and_a_nan_number_is_still_a_number_to_jsonschema(bench_report):
    broken = copy.deepcopy(bench_report[1])
    broken["results"][0]["measurement"]["p99_ms"] = math.nan  # only json.loads("NaN") can make one
    assert validate_report(broken) == []  # as jsonschema has it: NaN is a number; report.json never holds one
    assert "NaN" not in json.dumps(bench_report[1])


@pytest.mark.parametrize("break_it, problem", [
    (lambda r: r.pop("results"), "(top): 'results' is a required property"),
    (lambda r: r["results"][0].update(status="fast"), "results/0/status: 'fast' is not one of"),
    (lambda r: r["results"][0]["measurement"].update(p99_ms="slow"), "results/0/measurement"),
    (lambda r: r["settings"].update(batch_sizes=[0]), "settings/batch_sizes/0: 0 is less than the minimum of 1"),
    (lambda r: r.update(schema_version=2), "schema_version: 1 was expected"),
    (lambda r: r["results"][0].update(accuracy=1.5), "results/0/accuracy: 1.5 is greater than the maximum of 1"),
    (lambda r: r["results"][0].pop("runner"), "results/0: 'runner' is a required property"),
])
def test_broken_reports_fail_validation(bench_report, break_it, problem):
    broken = copy.deepcopy(bench_report[1])
    break_it(broken)
    errors = validate_report(broken)
    assert errors and any(e.startswith(problem) for e in errors), errors
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, report_schema(), cls=jsonschema.Draft202012Validator)
    with pytest.raises(ReportError, match="does not follow the bench report schema"):
        check_report(broken)


def test_markdown_has_one_table_per_batch_size(bench_report):
    _, report = bench_report
    text = render_markdown(report)
    assert text.count("| Backend | Precision | Status | Size MB | Top-1 agree | p50 ms | p99 ms | img/s | Speed-up |") == 2
    assert "## Batch 1" in text and "## Batch 2" in text
    assert "| torch | fp32 (eager; IEEE on GPU) | ok" in text and "| 1.00x |" in text
    assert "- torch-fp16: CUDA only: run with --device cuda" in text
    assert "## Within a p99 budget of 1000 ms" in text and "## What actually ran" in text
    assert "all in one process (peak RSS is cumulative)" in text


def test_budget_section_picks_a_measured_batch(bench_report):
    _, report = bench_report
    choices = {c["backend"]: c for c in report["budget"]["choices"]}
    assert set(choices) == {"torch", "ort"}
    assert all(c["batch_size"] in (1, 2) and c["tried"] == [1, 2] for c in choices.values())


def test_html_says_so_without_matplotlib(bench_report, tmp_path, monkeypatch):
    _, report = bench_report
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)  # import -> ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    paths = write_reports(report, tmp_path)
    assert set(paths) == {"json", "md", "html"} and not (tmp_path / "chart.png").exists()
    page = (tmp_path / "report.html").read_text()
    assert html.escape(PLOT_HINT) in page and "<h2>Batch 2</h2>" in page and "<img" not in page


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib not installed (extra: plot)")
def test_report_command_rerenders_from_the_json(bench_report, tmp_path):
    out, report = bench_report
    result = CliRunner().invoke(report_command, [str(out / "report.json"), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("report.json", "report.md", "report.html", "chart.png", "latency.png"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "report.md").read_text() == (out / "report.md").read_text()
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '<img src="chart.png"' in (tmp_path / "report.html").read_text()


def test_report_command_refuses_a_bad_file_in_one_line(tmp_path):
    bad = tmp_path / "report.json"
    bad.write_text('{"schema": "vgg-deploy-bench"}')
    result = CliRunner().invoke(report_command, [str(bad)])
    assert result.exit_code == 1 and "does not follow the bench report schema" in result.output
    bad.write_text("{not json")
    result = CliRunner().invoke(report_command, [str(bad)])
    assert result.exit_code == 1 and "not JSON" in result.output and "Traceback" not in result.output
