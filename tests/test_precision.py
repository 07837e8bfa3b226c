from __future__ import annotations

import functools
import json

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from onnx import TensorProto, numpy_helper

from precision_helpers import convert_int8
from vgg_deploy.cli import main
from vgg_deploy.errors import ParityError, VGGDeployError
from vgg_deploy.export import export_onnx, read_metadata
from vgg_deploy.models import create_model, model_config
from vgg_deploy.precision import (
    CalibrationRequest, ConversionInputs, ConversionRequest, FallbackPolicy, check_tensorrt_qdq, convert,
    int8_scheme, quantize_int8,
)
from vgg_deploy.precision.int8 import _chunk, activation_bytes_per_image

RNG = np.random.default_rng(0)
CALIB = RNG.standard_normal((48, 3, 32, 32), dtype=np.float32)
HOLDOUT = RNG.standard_normal((16, 3, 32, 32), dtype=np.float32)


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("vgg_tiny")
    with torch.no_grad():  # non-zero biases: the exporter drops all-zero ones (torchvision's init)
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                module.bias.uniform_(-0.1, 0.1)
    return export_onnx(model, tmp_path_factory.mktemp("fp32") / "tiny.onnx").path


_int8 = functools.partial(convert_int8, calibration=CALIB, holdout=HOLDOUT, method="minmax")


def _fp16(src, out, *, keep_io_types=True):
    inputs = ConversionInputs(holdout=HOLDOUT, holdout_note="h")
    return convert(src, out, ConversionRequest(precision="fp16", keep_io_types=keep_io_types), inputs)


def test_a_fallback_without_int8_and_a_gate_is_refused_first(tmp_path, fp32_onnx):
    request = ConversionRequest(precision="fp16", fallback=FallbackPolicy(mode="auto"))
    with pytest.raises(VGGDeployError, match="--fallback auto needs --precision int8 and a gate"):
        convert(fp32_onnx, tmp_path / "x.onnx", request, ConversionInputs(holdout=HOLDOUT, holdout_note="h"))
    assert not (tmp_path / "x.onnx").exists()


def _inits(model):
    return {i.name: i for i in model.graph.initializer}


def test_fp16_keeps_fp32_io_and_stores_parity(tmp_path, fp32_onnx):
    result = _fp16(fp32_onnx, tmp_path / "t.fp16.onnx")
    model = onnx.load(str(result.path))
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    weights = [i for i in model.graph.initializer if len(i.dims) > 1]
    assert weights and all(i.data_type == TensorProto.FLOAT16 for i in weights)
    assert result.parity.passed and result.parity.cosine > 0.999
    facts = read_metadata(result.path)
    assert facts["precision"] == "fp16" and facts["parity"]["cosine"] == pytest.approx(result.parity.cosine)
    assert facts["architecture"] == "vgg_tiny" and facts["input_size"] == [32, 32]  # the source facts are kept
    assert result.size_bytes < 0.6 * result.source_size_bytes


def test_fp16_without_io_casts(tmp_path, fp32_onnx):
    result = _fp16(fp32_onnx, tmp_path / "t.onnx", keep_io_types=False)
    assert onnx.load(str(result.path)).graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16


def test_fp16_overflowing_weights_stay_fp32(tmp_path):
    model = create_model("vgg_tiny")
    with torch.no_grad():
        model.classifier[6].weight[3, 5] = 1e5  # beyond fp16's 65504: would become inf (or be clamped to 1e4)
    src = export_onnx(model, tmp_path / "big.onnx").path
    result = _fp16(src, tmp_path / "big.fp16.onnx")
    converted = onnx.load(str(result.path))
    big = _inits(converted)["classifier.6.weight"]
    assert big.data_type == TensorProto.FLOAT and numpy_helper.to_array(big).max() == pytest.approx(1e5)
    assert result.facts["fp16_overflows"] == {"classifier.6.weight": pytest.approx(1e5)}
    assert len(result.facts["fp32_nodes"]) == 1 and result.parity.nonfinite == 0 and result.parity.cosine > 0.999


def test_int8_tensorrt_scheme_follows_the_rules(tmp_path, fp32_onnx):
    result = _int8(fp32_onnx, tmp_path / "t.int8.onnx")
    model = onnx.load(str(result.path))
    assert check_tensorrt_qdq(model) == []
    inits = _inits(model)
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    weight_dq = [n for n in dq if n.input[0] in inits]
    assert len(weight_dq) == 7  # 4 convs + 3 linears, each quantized per output channel along axis 0
    for node in weight_dq:
        assert inits[node.input[0]].data_type == TensorProto.INT8
        assert len(inits[node.input[1]].dims) == 1 and inits[node.input[1]].dims[0] == inits[node.input[0]].dims[0]
        assert next(a.i for a in node.attribute if a.name == "axis") == 0
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            zero = inits[node.input[2]]
            assert zero.data_type == TensorProto.INT8 and not numpy_helper.to_array(zero).any()
    last = model.graph.node[-1]  # the logits stay fp32: no Q/DQ pair clips them to the calibrated range
    assert last.op_type == "Gemm" and list(last.output) == ["logits"]
    biases = [n.input[2] for n in model.graph.node if n.op_type in ("Conv", "Gemm")]
    assert len(biases) == 7 and all(inits[b].data_type == TensorProto.FLOAT for b in biases)  # not quantized
    facts = read_metadata(result.path)
    assert facts["precision"] == "int8" and facts["int8_target"] == "tensorrt" and facts["tensorrt_qdq_check"] == "passed"
    assert facts["calibration_samples"] == 48 and facts["synthetic_calibration"] is False
    assert result.parity.passed and result.parity.cosine > 0.95


def test_int8_cpu_scheme_uses_unsigned_activations(tmp_path, fp32_onnx):
    result = _int8(fp32_onnx, tmp_path / "t.cpu.onnx", target="cpu")
    model = onnx.load(str(result.path))
    inits = _inits(model)
    q_input = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "input")
    assert inits[q_input.input[2]].data_type == TensorProto.UINT8
    violations = check_tensorrt_qdq(model)  # the validator sees that this graph is not for TensorRT
    assert any("UINT8" in v.rule for v in violations) and any(q_input.name == v.node for v in violations)
    assert result.parity.passed


def test_validator_names_each_violation(tmp_path, fp32_onnx):
    model = onnx.load(str(_int8(fp32_onnx, tmp_path / "t.onnx").path))
    inits = _inits(model)
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    inits[q.input[2]].CopyFrom(numpy_helper.from_array(np.array(3, np.int8), q.input[2]))
    w = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == "features.0.weight_quantized")
    for attr in w.attribute:
        if attr.name == "axis":
            attr.i = 1
    rules = {v.node: v.rule for v in check_tensorrt_qdq(model)}
    assert "non-zero zero point" in rules[q.name]
    assert "axis 1; expected 0" in rules[w.name]


def test_validator_flags_a_quantized_bias(tmp_path, fp32_onnx):
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    class Reader:
        def __init__(self):
            self.batches = iter([{"input": CALIB[:8]}])

        def get_next(self):
            return next(self.batches, None)

    out = tmp_path / "bias.onnx"
    quantize_static(str(fp32_onnx), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})  # QuantizeBias defaults on
    assert any("quantized bias" in v.rule for v in check_tensorrt_qdq(onnx.load(str(out))))


def _input_scale(path):
    model = onnx.load(str(path))
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "input")
    return float(numpy_helper.to_array(_inits(model)[q.input[1]]))


def test_calibration_methods_really_differ(tmp_path, fp32_onnx):
    heavy = np.random.default_rng(1).standard_normal((64, 3, 32, 32)).astype(np.float32)
    heavy[7, 1, 3, 4] = 1000.0  # one extreme outlier in 196,608 values: minmax follows it, the others do not
    config = model_config("vgg_tiny")
    scales = {}
    for method in ("minmax", "percentile", "entropy"):
        out = tmp_path / f"{method}.onnx"
        quantize_int8(fp32_onnx, out, heavy, config=config, scheme=int8_scheme("tensorrt"),
                      calibration=CalibrationRequest(method=method))
        scales[method] = _input_scale(out)
    assert scales["minmax"] == pytest.approx(np.abs(heavy).max() / 127, rel=1e-5)
    assert scales["percentile"] < 0.5 * scales["minmax"]
    assert scales["entropy"] < 0.5 * scales["minmax"]


def test_chunked_calibration_uses_every_batch(tmp_path, fp32_onnx):
    data = np.random.default_rng(2).standard_normal((64, 3, 32, 32)).astype(np.float32)
    data[-1] *= 10  # the largest input is in the last batch: dropping a batch would shrink the range
    config = model_config("vgg_tiny")
    whole = quantize_int8(fp32_onnx, tmp_path / "a.onnx", data, config=config, scheme=int8_scheme("tensorrt"),
                          calibration=CalibrationRequest(method="minmax"))
    chunked = quantize_int8(fp32_onnx, tmp_path / "b.onnx", data, config=config, scheme=int8_scheme("tensorrt"),
                            calibration=CalibrationRequest(method="minmax"), memory_budget=1)
    assert (whole["calibration_chunks"], chunked["calibration_chunks"]) == (1, 4)
    assert _input_scale(tmp_path / "b.onnx") == pytest.approx(_input_scale(tmp_path / "a.onnx"))
    assert _input_scale(tmp_path / "b.onnx") == pytest.approx(np.abs(data).max() / 127, rel=1e-5)


def test_chunks_divide_the_batches_within_the_budget():
    assert _chunk(8, batch_bytes=100, budget=350) == 2
    assert _chunk(7, batch_bytes=100, budget=350) == 1  # prime: one batch a chunk
    assert _chunk(6, batch_bytes=100, budget=10_000) == 6
    vgg16 = activation_bytes_per_image(model_config("vgg16"))
    assert 100e6 < vgg16 < 160e6  # about 138 MB of activations per 224x224 image


def test_fixed_batch_model_calibrates_in_its_own_batch(tmp_path):
    src = export_onnx(create_model("vgg_tiny"), tmp_path / "b4.onnx", batch=4).path
    result = _int8(src, tmp_path / "b4.int8.onnx", calib_batch=16)
    assert result.facts["calibration_batch"] == 4 and result.parity.samples == len(HOLDOUT)


@pytest.mark.parametrize("flags, reduce_range", [(["avx2", "avx512f", "avx512_vnni"], False), (["avx2"], True)])
def test_cpu_scheme_depends_on_vnni(flags, reduce_range):
    scheme = int8_scheme("cpu", cpu_flags=flags, machine="x86_64")
    assert scheme.activation_type == "uint8" and not scheme.activation_symmetric
    assert scheme.reduce_range is reduce_range and ("no VNNI" in scheme.note) is reduce_range
    trt = int8_scheme("tensorrt")
    assert trt.activation_type == "int8" and trt.activation_symmetric and not trt.reduce_range


def test_gate_failure_leaves_no_file(tmp_path, fp32_onnx):
    with pytest.raises(ParityError, match="not written"):
        _int8(fp32_onnx, tmp_path / "gated.onnx", min_cosine=1.0)
    assert not (tmp_path / "gated.onnx").exists() and list(tmp_path.iterdir()) == []


def test_refuses_non_fp32_and_foreign_models(tmp_path, fp32_onnx):
    fp16 = _fp16(fp32_onnx, tmp_path / "h.onnx").path
    with pytest.raises(VGGDeployError, match="already fp16"):
        _int8(fp16, tmp_path / "x.onnx")
    foreign = onnx.load(str(fp32_onnx))
    del foreign.metadata_props[:]
    onnx.save(foreign, str(tmp_path / "foreign.onnx"))
    with pytest.raises(VGGDeployError, match="no vgg-deploy metadata"):
        _int8(tmp_path / "foreign.onnx", tmp_path / "y.onnx")


def test_cli_int8_needs_calibration_data(fp32_onnx, tmp_path):
    result = CliRunner().invoke(main, ["quantize", str(fp32_onnx), "--precision", "int8",
                                       "-o", str(tmp_path / "q.onnx")])
    assert result.exit_code == 2 and "--calib-data" in result.output and not (tmp_path / "q.onnx").exists()


def test_cli_synthetic_calibration_says_so(fp32_onnx, tmp_path):
    out = tmp_path / "q.onnx"
    result = CliRunner().invoke(main, ["quantize", str(fp32_onnx), "--precision", "int8", "--calib-data",
                                       "synthetic", "--calib-samples", "32", "--calib-method", "minmax", "--json",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["synthetic_calibration"] is True and "SYNTHETIC" in result.stderr
    assert read_metadata(out)["synthetic_calibration"] is True
    assert report["calibration_samples"] == 32 and report["parity"]["samples"] == 16


def test_cli_bad_calibration_data_names_the_file(fp32_onnx, tmp_path):
    bad = tmp_path / "wrong.npy"
    np.save(bad, np.zeros((4, 1, 8, 8), np.float32))
    result = CliRunner().invoke(main, ["quantize", str(fp32_onnx), "--precision", "int8", "--calib-data",
                                       str(bad), "-o", str(tmp_path / "q.onnx")])
    assert result.exit_code == 1 and str(bad) in result.output and "Traceback" not in result.output
