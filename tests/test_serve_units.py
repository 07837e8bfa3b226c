"""Serving pieces that need no server: URL and metrics parsing, the load-test report, the missing-extra error.
Run in the main venv as well as the serving venv."""

from __future__ import annotations

import importlib.util

import pytest
from click.testing import CliRunner

from vgg_deploy.bench.stats import Measurement
from vgg_deploy.serve.facts import ServeError
from vgg_deploy.serve.loadtest import LoadTestResult, LoadTestSpec, render_markdown, split_url
from vgg_deploy.serve.metrics import ModelCounters, model_names, parse_counters

METRICS = """# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="vgg_tiny",version="1"} 24
nv_inference_request_success{model="other",version="1"} 5
nv_inference_request_failure{model="vgg_tiny",reason="BACKEND",version="1"} 2
nv_inference_count{model="vgg_tiny",version="1"} 48
nv_inference_count{model="other",version="1"} 5
nv_inference_exec_count{model="vgg_tiny",version="1"} 6
nv_inference_exec_count{model="other",version="1"} 5
"""


def test_metrics_counters_and_the_batch_formed():
    counters = parse_counters(METRICS, "vgg_tiny")
    assert counters == ModelCounters(requests=24, failures=2, executions=6, inferences=48)
    assert counters.average_batch == 8.0
    assert (counters - ModelCounters(4, 0, 1, 8)).average_batch == 8.0
    assert ModelCounters(0, 0, 0, 0).average_batch is None
    assert model_names(METRICS) == ["other", "vgg_tiny"]


@pytest.mark.parametrize("url, protocol, expected", [
    ("127.0.0.1:8000", "http", ("http", "127.0.0.1:8000")),
    ("127.0.0.1", "grpc", ("grpc", "127.0.0.1:8001")),
    ("grpc://127.0.0.1:9001", "http", ("grpc", "127.0.0.1:9001")),
    ("http://[::1]:8000", "http", ("http", "[::1]:8000")),
])
def test_split_url(url, protocol, expected):
    assert split_url(url, protocol) == expected


def test_split_url_refuses_other_schemes():
    with pytest.raises(ServeError, match="not a Triton address"):
        split_url("ftp://127.0.0.1", "http")


def test_report_json_and_markdown():
    spec = LoadTestSpec(url="127.0.0.1:8000", concurrency=2, requests=4, batch=2)
    result = LoadTestResult(
        spec=spec, model="vgg_tiny", input_shape=(2, 3, 32, 32), latency=Measurement(2, (0.001, 0.002, 0.003, 0.004)),
        wall_s=0.01, completed=4, errors=1, error_samples=("boom",), server=ModelCounters(4, 0, 2, 8),
        created="2026-01-01T00:00:00+0000", endpoint="http://127.0.0.1:8000",
    )
    report = result.to_dict()
    assert report["requests_per_s"] == 400 and report["images_per_s"] == 800
    assert report["latency_ms"]["p50"] == 2.5 and report["server"]["average_batch"] == 4.0
    markdown = render_markdown(report)
    assert "| 4 | 1 | 400 | 800 | 2.5 |" in markdown and "error: boom" in markdown


@pytest.mark.skipif(importlib.util.find_spec("pytriton") is not None, reason="PyTriton is installed here")
def test_serve_without_the_extra_says_how_to_install_it(tmp_path):
    from vgg_deploy.cli import _Group
    from vgg_deploy.cli.serve_cmd import serve

    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    result = CliRunner().invoke(_Group("vgg-deploy", commands=[serve]), ["serve", str(model)])
    assert result.exit_code == 1 and 'vgg-deploy[serve]' in result.output and result.output.count("\n") == 1
