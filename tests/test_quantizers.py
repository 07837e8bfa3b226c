"""The two INT8 quantizers (ONNX Runtime's, NVIDIA ModelOpt's): placement, TensorRT rules, ModelOpt's quirks."""

from __future__ import annotations

import functools
import importlib.util
import sys

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from conftest import tiny_with_biases
from precision_helpers import convert_int8
from vgg_deploy.cli import main
from vgg_deploy.errors import MissingDependencyError
from vgg_deploy.export import export_onnx, read_metadata
from vgg_deploy.precision import check_tensorrt_qdq

RNG = np.random.default_rng(1)
CALIB = RNG.standard_normal((32, 3, 32, 32), dtype=np.float32)
HOLDOUT = RNG.standard_normal((16, 3, 32, 32), dtype=np.float32)
HAVE_MODELOPT = importlib.util.find_spec("modelopt") is not None
needs_modelopt = pytest.mark.skipif(
    not HAVE_MODELOPT, reason='NVIDIA ModelOpt is not installed (pip install "vgg-deploy[modelopt]"; '
                              "scripts/setup_env.sh installs it)")


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory):
    return export_onnx(tiny_with_biases(), tmp_path_factory.mktemp("src") / "tiny.onnx").path


_int8 = functools.partial(convert_int8, calibration=CALIB, holdout=HOLDOUT, method=None)


def _producers(model):
    return {out: node for node in model.graph.node for out in node.output}


def _assert_weighted_inputs_quantized(model):
    """Every Conv/Gemm reads its activation and weight through a DequantizeLinear."""
    producers = _producers(model)
    for node in model.graph.node:
        if node.op_type in ("Conv", "Gemm") and node.output[0] != "logits":
            assert producers[node.input[0]].op_type == "DequantizeLinear", node.name
            assert producers[node.input[1]].op_type == "DequantizeLinear", node.name


def test_ort_tensorrt_scheme_quantizes_weighted_inputs_only(tmp_path, fp32_onnx):
    model = onnx.load(str(_int8(fp32_onnx, tmp_path / "t.onnx", method="minmax").path))
    producers = _producers(model)
    _assert_weighted_inputs_quantized(model)
    for node in model.graph.node:
        if node.op_type in ("Relu", "MaxPool", "Reshape"):  # Conv->Relu fuses: no Q/DQ between them
            assert producers[node.input[0]].op_type not in ("DequantizeLinear", "QuantizeLinear"), node.name
    counts = {op: sum(n.op_type == op for n in model.graph.node) for op in ("QuantizeLinear", "DequantizeLinear")}
    assert counts == {"QuantizeLinear": 7, "DequantizeLinear": 14}  # 7 activations + 7 weights of 4 Conv, 3 Gemm


def _with_float_weight_qdq(model):
    """Rewrite int8 weight -> DQ into fp32 weight -> Q -> DQ (ModelOpt's layout without --dq_only)."""
    inits = {i.name: i for i in model.graph.initializer}
    for node in [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits]:
        q8, scale = (numpy_helper.to_array(inits[n]) for n in node.input[:2])
        axis = next(a.i for a in node.attribute if a.name == "axis")
        shape = [-1 if d == axis else 1 for d in range(q8.ndim)]
        weight = numpy_helper.from_array((q8 * scale.reshape(shape)).astype(np.float32), node.input[0] + "_f")
        model.graph.initializer.append(weight)
        q = helper.make_node("QuantizeLinear", [weight.name, *node.input[1:]], [weight.name + "_q"],
                             name=weight.name + "_Q", axis=axis)
        model.graph.node.insert(list(model.graph.node).index(node), q)
        node.input[0] = q.output[0]
    return model


def test_validator_accepts_float_weights_with_a_qdq_pair(tmp_path, fp32_onnx):
    model = _with_float_weight_qdq(onnx.load(str(_int8(fp32_onnx, tmp_path / "t.onnx", method="minmax").path)))
    assert sum(n.op_type == "QuantizeLinear" for n in model.graph.node) == 14
    assert check_tensorrt_qdq(model) == []
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0].endswith("_f"))
    next(a for a in q.attribute if a.name == "axis").i = 1  # still checked: a weight along the wrong axis
    assert [v.rule for v in check_tensorrt_qdq(model)] == ["weight quantized along axis 1; expected 0"]


def test_missing_modelopt_is_one_line_with_the_pip_command(tmp_path, fp32_onnx, monkeypatch):
    monkeypatch.setitem(sys.modules, "modelopt", None)
    monkeypatch.setitem(sys.modules, "modelopt.onnx.quantization", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "vgg-deploy\[modelopt\]"'):
        _int8(fp32_onnx, tmp_path / "m.onnx", quantizer="modelopt")
    result = CliRunner().invoke(main, ["quantize", str(fp32_onnx), "--precision", "int8", "--quantizer",
                                       "modelopt", "--calib-data", "synthetic", "--calib-samples", "16", "-o",
                                       str(tmp_path / "m.onnx")])
    assert result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit))
    assert 'pip install "vgg-deploy[modelopt]"' in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("extra, message", [
    (["--target", "cpu"], "TensorRT scheme only"),
    (["--calib-method", "percentile"], "choose entropy or max"),
])
def test_cli_refuses_what_modelopt_cannot_do(tmp_path, fp32_onnx, extra, message):
    result = CliRunner().invoke(main, ["quantize", str(fp32_onnx), "--precision", "int8", "--quantizer",
                                       "modelopt", "--calib-data", "synthetic", *extra, "-o", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x.onnx").exists()


@needs_modelopt
def test_modelopt_makes_a_tensorrt_qdq_model_and_keeps_the_folder_clean(tmp_path, fp32_onnx):
    before = sorted(p.name for p in fp32_onnx.parent.iterdir())
    result = _int8(fp32_onnx, tmp_path / "mo.onnx", quantizer="modelopt", method="max")
    assert sorted(p.name for p in fp32_onnx.parent.iterdir()) == before  # no tiny_opset19.onnx left beside it
    model = onnx.load(str(result.path))
    assert check_tensorrt_qdq(model) == []
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 19
    inits = {i.name: i for i in model.graph.initializer}
    weight_dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits]
    assert weight_dq and all(inits[n.input[0]].data_type == TensorProto.INT8 for n in weight_dq)  # DQ-only weights
    assert not [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in inits]
    # the dynamic-batch model was calibrated at the calibration batch, so its hidden Gemms are quantized too
    producers = _producers(model)
    gemms = [n for n in model.graph.node if n.op_type == "Gemm"]
    assert sum(n.input[1] in producers and producers[n.input[1]].op_type == "DequantizeLinear" for n in gemms) >= 2
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # still a dynamic batch
    facts = read_metadata(model)  # ours, carried over the metadata ModelOpt drops
    assert facts["architecture"] == "vgg_tiny" and facts["quantizer"] == "modelopt" and facts["opset"] == 19
    assert facts["mean"] == read_metadata(fp32_onnx)["mean"] and facts["tensorrt_qdq_check"] == "passed"
    assert result.parity.passed and result.parity.cosine > 0.99 and result.size_bytes < 0.5 * result.source_size_bytes
    # ModelOpt patches ONNX Runtime's quantizer in place; ours must still work afterwards in the same process
    assert _int8(fp32_onnx, tmp_path / "ort-after.onnx", method="minmax").parity.passed
    cpu = onnx.load(str(_int8(fp32_onnx, tmp_path / "cpu-after.onnx", method="minmax", target="cpu").path))
    assert "Relu" not in {n.op_type for n in cpu.graph.node}  # ONNX Runtime still folds Relu into the u8 Q


@needs_modelopt
def test_modelopt_from_the_cli(tmp_path, fp32_onnx):
    out = tmp_path / "cli.onnx"
    result = CliRunner().invoke(main, ["quantize", str(fp32_onnx), "--precision", "int8", "--quantizer",
                                       "modelopt", "--calib-data", "synthetic", "--calib-samples", "32", "--json",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert read_metadata(out)["calibration_method"] == "entropy"  # ModelOpt's default


@needs_modelopt
def test_bench_makes_its_tensorrt_scheme_int8_with_modelopt(tmp_path):
    import json as _json

    from vgg_deploy.cli.bench_cmd import bench

    out = tmp_path / "bench"
    result = CliRunner().invoke(bench, ["--model", "vgg_tiny", "--iterations", "2", "--warmup", "0", "--data",
                                        "synthetic", "--backends", "ort-int8-tensorrt,ort-int8-cpu", "--batch-sizes",
                                        "2", "--calib-data", "synthetic", "--calib-samples", "16", "--eval-samples",
                                        "16", "--quantizer", "modelopt", "--in-process", "--no-peak", "-o",
                                        str(out)])
    assert result.exit_code == 0, result.output
    made = {p.name: read_metadata(p) for p in (out / "artifacts").glob("*.int8.*.onnx")}
    by_target = {facts["int8_target"]: facts for facts in made.values()}
    assert by_target["tensorrt"]["quantizer"] == "modelopt" and by_target["cpu"]["quantizer"] == "ort"
    rows = {r["backend"]: r for r in _json.loads((out / "report.json").read_text())["results"]}
    assert rows["ort-int8-tensorrt"]["status"] == "ok"


@needs_modelopt
def test_modelopt_calibrates_a_fixed_batch_model_in_its_own_batch(tmp_path):
    src = export_onnx(tiny_with_biases(), tmp_path / "b4.onnx", batch=4).path
    result = _int8(src, tmp_path / "b4.int8.onnx", quantizer="modelopt", method="max", calib_batch=16)
    assert result.facts["calibration_batch"] == 4 and result.facts["calibration_samples"] == 32
    assert result.parity.passed and check_tensorrt_qdq(onnx.load(str(result.path))) == []
