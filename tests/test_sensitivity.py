"""Per-layer sensitivity and accuracy-targeted fallback, on a model with one outlier-heavy layer on purpose."""

from __future__ import annotations

import functools
import importlib.util
import json
import re

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

from conftest import tiny_with_biases
from precision_helpers import convert_int8
from vgg_deploy.cli import main
from vgg_deploy.errors import ParityError, VGGDeployError
from vgg_deploy.export import export_onnx, read_metadata
from vgg_deploy.export.parity import compare_logits
from vgg_deploy.precision import onnx_logits
from vgg_deploy.precision.layers import keep_layers_high, quantized_layers
from vgg_deploy.precision.sensitivity import layer_sensitivity

RNG = np.random.default_rng(0)
CALIB = RNG.standard_normal((64, 3, 32, 32), dtype=np.float32)
HOLDOUT = RNG.standard_normal((32, 3, 32, 32), dtype=np.float32)
OUTLIER = "features.6"  # reads the outlier channel: per-tensor INT8 of its input crushes every other channel


@pytest.fixture(scope="module")
def outlier_onnx(tmp_path_factory):
    """vgg_tiny with channel 0 of features.3 scaled up 300x and features.6's weights on that channel scaled
    down 300x: the same fp32 function, but features.6's input has one huge channel."""
    model = tiny_with_biases(0.01)
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        convs[1].weight[0] *= 300
        convs[1].bias[0] *= 300
        convs[2].weight[:, 0] /= 300
    return export_onnx(model, tmp_path_factory.mktemp("outlier") / "outlier.onnx").path


_int8 = functools.partial(convert_int8, calibration=CALIB, holdout=HOLDOUT, method="minmax")


@pytest.mark.parametrize("target", ["tensorrt", "cpu"])
def test_every_layer_kept_high_is_the_fp32_model(tmp_path, outlier_onnx, target):
    qdq = onnx.load(str(_int8(outlier_onnx, tmp_path / "q.onnx", target=target).path))
    source = onnx.load(str(outlier_onnx))
    layers = quantized_layers(qdq)
    assert [layer.label for layer in layers] == ["features.0", "features.3", "features.6", "features.8",
                                                 "classifier.0", "classifier.3", "classifier.6"]
    reference = onnx_logits(outlier_onnx, HOLDOUT)
    for precision, tolerance in (("fp32", 1e-6), ("fp16", 1e-3)):
        high = keep_layers_high(qdq, source, [layer.name for layer in layers], precision=precision)
        onnx.checker.check_model(high)
        assert not [n for n in high.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
        onnx.save(high, str(tmp_path / "high.onnx"))
        diff = np.abs(onnx_logits(tmp_path / "high.onnx", HOLDOUT) - reference).max()
        assert diff <= tolerance * max(1.0, np.abs(reference).max()), (precision, diff)
    with pytest.raises(VGGDeployError, match="not quantized layers"):
        keep_layers_high(qdq, source, ["no_such_node"])


def test_sensitivity_ranks_the_outlier_layer_first(tmp_path, outlier_onnx):
    qdq = onnx.load(str(_int8(outlier_onnx, tmp_path / "q.onnx").path))
    labels = RNG.integers(0, 10, len(HOLDOUT))
    report = layer_sensitivity(qdq, onnx.load(str(outlier_onnx)), HOLDOUT, labels=labels, high_precision="fp16")
    assert report.ranking[0] == OUTLIER and len(report.layers) == 7
    top = report.layers[0]
    assert top.only_int8.cosine < 0.995 < min(row.only_int8.cosine for row in report.layers[1:])
    assert top.only_high.cosine > report.all_int8.cosine  # keeping it high buys the accuracy back
    assert report.evaluations == 1 + 2 * 7 and report.fp32_accuracy is not None
    table = report.to_markdown()
    assert table.index(OUTLIER) < table.index("features.0") and "accuracy" in table


def test_sensitivity_cli_writes_table_json_and_chart(tmp_path, outlier_onnx):
    out = tmp_path / "report" / "sens.md"
    result = CliRunner().invoke(main, ["sensitivity", str(outlier_onnx), "--calib-data", "synthetic",
                                       "--calib-samples", "32", "--calib-method", "minmax", "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.with_suffix(".json").read_text())
    assert len(data["layers"]) == 7 and data["ranking"][0] == data["layers"][0]["label"]
    assert data["high_precision"] == "fp16" and data["facts"]["calibration_method"] == "minmax"
    assert "| rank | layer |" in out.read_text()
    pytest.importorskip("matplotlib")
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    printed = CliRunner().invoke(main, ["sensitivity", str(outlier_onnx), "--calib-data", "synthetic",
                                        "--calib-samples", "32", "--target", "cpu", "--json"])
    assert printed.exit_code == 0 and json.loads(printed.stdout)["high_precision"] == "fp32"


def test_sensitivity_cli_needs_data_and_an_fp32_model(tmp_path, outlier_onnx):
    result = CliRunner().invoke(main, ["sensitivity", str(outlier_onnx)])
    assert result.exit_code == 2 and "--calib-data" in result.output
    q = _int8(outlier_onnx, tmp_path / "q.onnx").path
    result = CliRunner().invoke(main, ["sensitivity", str(q), "--calib-data", "synthetic"])
    assert result.exit_code == 1 and "--qdq" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("target, precision", [("tensorrt", "fp16"), ("cpu", "fp32")])
def test_fallback_keeps_the_outlier_layer_high_until_the_gate_holds(tmp_path, outlier_onnx, target, precision):
    plain = _int8(outlier_onnx, tmp_path / "plain.onnx", target=target)
    gate = round((plain.parity.cosine + 1) / 2, 6)  # tighter than plain INT8 reaches
    with pytest.raises(ParityError):
        _int8(outlier_onnx, tmp_path / "gated.onnx", target=target, min_cosine=gate)
    result = _int8(outlier_onnx, tmp_path / "auto.onnx", target=target, min_cosine=gate, fallback="auto")
    assert result.facts["int8_kept_high"][0] == OUTLIER and result.parity.passed and result.parity.cosine >= gate
    facts = read_metadata(result.path)
    assert facts["int8_kept_high"] == result.facts["int8_kept_high"]
    assert facts["int8_kept_high_precision"] == precision and facts["fallback_ranking"][0] == OUTLIER
    model = onnx.load(str(result.path))
    assert len(quantized_layers(model)) == 7 - len(facts["int8_kept_high"])
    assert any(n.op_type == "Cast" for n in model.graph.node) == (precision == "fp16")


def test_fallback_that_cannot_meet_the_gate_exits_1_without_a_file(tmp_path, outlier_onnx):
    out = tmp_path / "never.onnx"
    result = CliRunner().invoke(main, ["quantize", str(outlier_onnx), "--precision", "int8", "--calib-data",
                                       "synthetic", "--calib-samples", "32", "--calib-method", "minmax",
                                       "--min-cosine", "1.0", "--fallback", "auto", "--max-fallback-layers", "2",
                                       "-o", str(out)])
    assert result.exit_code == 1 and "cannot be met" in result.output and "best reached" in result.output
    assert re.search(r"best reached with [12] layer\(s\) kept in fp16: features\.6", result.output)
    assert not out.exists()
    assert not list(tmp_path.iterdir())


def test_fallback_needs_a_gate(tmp_path, outlier_onnx):
    with pytest.raises(VGGDeployError, match="needs --precision int8 and a gate"):
        _int8(outlier_onnx, tmp_path / "x.onnx", fallback="auto")


def test_fallback_cli_lists_the_layers_kept_high(tmp_path, outlier_onnx):
    out = tmp_path / "auto.onnx"
    plain = compare_logits(onnx_logits(outlier_onnx, HOLDOUT),
                           onnx_logits(_int8(outlier_onnx, tmp_path / "p.onnx").path, HOLDOUT), max_rel_diff=None)
    assert plain.cosine < 0.999
    result = CliRunner().invoke(main, ["quantize", str(outlier_onnx), "--precision", "int8", "--calib-data",
                                       "synthetic", "--calib-samples", "64", "--calib-method", "minmax",
                                       "--min-cosine", "0.999", "--fallback", "auto", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"kept out of INT8 (fp16): {OUTLIER}" in result.output


@pytest.mark.skipif(importlib.util.find_spec("modelopt") is None,
                    reason='NVIDIA ModelOpt is not installed (pip install "vgg-deploy[modelopt]")')
def test_fallback_on_a_modelopt_graph_finds_the_same_layer(tmp_path, outlier_onnx):
    plain = _int8(outlier_onnx, tmp_path / "plain.onnx", quantizer="modelopt", method="max")
    gate = round((plain.parity.cosine + 1) / 2, 6)
    result = _int8(outlier_onnx, tmp_path / "auto.onnx", quantizer="modelopt", method="max", min_cosine=gate,
                   min_top1=1.0, fallback="auto")
    assert result.facts["int8_kept_high"][0] == OUTLIER and result.parity.passed
    assert result.facts["quantizer"] == "modelopt"
