"""The precision hand-off: which ONNX TensorRT builds, and making the FP16 / Q/DQ one from fp32 first."""

from __future__ import annotations

import onnx
import pytest
import torch

from vgg_deploy.errors import VGGDeployError
from vgg_deploy.export import export_onnx, read_metadata
from vgg_deploy.export.metadata import set_metadata
from vgg_deploy.models import create_model
from vgg_deploy.precision import check_tensorrt_qdq
from vgg_deploy.trt.build import plan_build
from vgg_deploy.trt.errors import OptionError
from vgg_deploy.trt.handoff import (
    ConversionSettings, convert_for_engine, converted_onnx_path, data_fingerprint, engine_precision, graph_precision,
    inspect_onnx,
)
from vgg_deploy.trt.options import Profile

FAST_INT8 = ConversionSettings(calib_data="synthetic", calib_method="minmax", calib_samples=16, calib_batch=8)


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory):
    torch.manual_seed(0)
    return export_onnx(create_model("vgg_tiny"), tmp_path_factory.mktemp("fp32") / "tiny.onnx", verify=False).path


@pytest.fixture(scope="module")
def int8_onnx(fp32_onnx, tmp_path_factory):
    """The hand-off itself: fp32 + int8 + synthetic calibration -> the Q/DQ ONNX next to where the engine goes."""
    plan = tmp_path_factory.mktemp("engines") / "tiny.plan"
    build = plan_build(fp32_onnx, plan, precision="int8", settings=FAST_INT8)
    assert build.convert and build.options.precision == "int8"
    target = converted_onnx_path(plan, "int8", source=fp32_onnx)
    result = convert_for_engine(build.source, target, precision="int8", settings=FAST_INT8)
    assert result.path == target == plan.with_name("tiny.int8.onnx") and target.is_file()
    return target


def test_handoff_makes_a_tensorrt_qdq_onnx(int8_onnx):
    facts = inspect_onnx(int8_onnx)
    assert (facts.precision, facts.precision_source) == ("int8", "metadata")
    model = onnx.load(str(int8_onnx))
    assert graph_precision(model) == "int8"
    assert check_tensorrt_qdq(model) == []
    metadata = read_metadata(model)
    assert metadata["int8_target"] == "tensorrt" and metadata["synthetic_calibration"] is True
    assert metadata["tensorrt_qdq_check"] == "passed" and metadata["parity"]["samples"] >= 16


def test_facts_of_the_fp32_export(fp32_onnx):
    facts = inspect_onnx(fp32_onnx)
    assert facts.precision == "fp32" and facts.input_name == "input" and facts.output_name == "logits"
    assert facts.input_shape == (3, 32, 32) and facts.fixed_batch is None
    assert graph_precision(onnx.load(str(fp32_onnx))) == "fp32"


def test_foreign_files_are_inspected_by_graph(fp32_onnx, int8_onnx, tmp_path):
    """Without vgg-deploy's `precision` metadata (another tool's file) the graph decides."""
    from vgg_deploy.precision import convert_fp16

    fp16, _ = convert_fp16(onnx.load(str(fp32_onnx)))
    for model, expected in ((fp16, "fp16"), (onnx.load(str(int8_onnx)), "int8")):
        del model.metadata_props[:]
        onnx.save_model(model, str(tmp_path / f"{expected}.onnx"))
        facts = inspect_onnx(tmp_path / f"{expected}.onnx")
        assert (facts.precision, facts.precision_source) == (expected, "graph")


def test_precision_decisions(fp32_onnx, int8_onnx):
    fp32, int8 = inspect_onnx(fp32_onnx), inspect_onnx(int8_onnx)
    assert engine_precision(None, fp32) == ("fp32", False)
    assert engine_precision("fp16", fp32) == ("fp16", True)
    assert engine_precision("int8", fp32) == ("int8", True)
    assert engine_precision(None, int8) == ("int8", False)
    assert engine_precision("int8", int8) == ("int8", False)
    with pytest.raises(OptionError, match="is already int8 .* --precision fp16 contradicts it") as info:
        engine_precision("fp16", int8)
    assert info.value.option == "--precision"
    with pytest.raises(OptionError, match="contradicts"):
        engine_precision("fp32", int8)


def test_cpu_scheme_qdq_is_refused_before_tensorrt(int8_onnx, tmp_path):
    model = onnx.load(str(int8_onnx))
    set_metadata(model, {"int8_target": '"cpu"'})
    onnx.save_model(model, str(tmp_path / "cpu.onnx"))
    with pytest.raises(OptionError, match=r"--target cpu .*\"TensorRT only supports symmetric quantization\""):
        engine_precision(None, inspect_onnx(tmp_path / "cpu.onnx"))


def test_converted_onnx_is_kept_next_to_the_engine(tmp_path):
    src = tmp_path / "src" / "vgg16.onnx"
    assert converted_onnx_path(tmp_path / "out" / "model.plan", "int8", source=src) == tmp_path / "out" / "model.int8.onnx"
    assert converted_onnx_path(tmp_path / "vgg16.fp16.plan", "fp16", source=src) == tmp_path / "vgg16.fp16.onnx"
    clash = tmp_path / "m.int8.onnx"  # an fp32 source that happens to have that name is never overwritten
    assert converted_onnx_path(tmp_path / "m.int8.plan", "int8", source=clash) == tmp_path / "m.int8.converted.onnx"


def test_plan_build_usage_errors_before_tensorrt(fp32_onnx, int8_onnx, tmp_path):
    with pytest.raises(OptionError, match="needs calibration images") as info:
        plan_build(fp32_onnx, tmp_path / "m.plan", precision="int8")
    assert info.value.option == "--calib-data"
    with pytest.raises(OptionError, match=r"\.plan or \.engine suffix"):
        plan_build(fp32_onnx, tmp_path / "m.trt")
    with pytest.raises(OptionError, match="contradicts"):
        plan_build(int8_onnx, tmp_path / "m.plan", precision="fp16")
    fp16_build = plan_build(fp32_onnx, tmp_path / "m.engine", precision="fp16", profile=Profile(2, 4, 8))
    assert fp16_build.convert and fp16_build.options.profile == Profile(2, 4, 8)


def test_fixed_batch_onnx_conflicting_profile(tmp_path):
    torch.manual_seed(0)
    fixed = export_onnx(create_model("vgg_tiny"), tmp_path / "b4.onnx", batch=4, verify=False).path
    assert plan_build(fixed, tmp_path / "b4.plan").options.profile == Profile(4, 4, 4)
    with pytest.raises(OptionError, match="fixed batch of 4"):
        plan_build(fixed, tmp_path / "b4.plan", profile=Profile(1, 8, 32))


def test_unreadable_onnx_is_a_user_error(tmp_path):
    (tmp_path / "x.onnx").write_bytes(b"garbage")
    with pytest.raises(VGGDeployError, match="not a readable ONNX file"):
        inspect_onnx(tmp_path / "x.onnx")


def test_calibration_data_fingerprints(tmp_path):
    assert data_fingerprint(None) is None and data_fingerprint("digits") == "digits"
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"1")
    before = data_fingerprint(str(folder))
    (folder / "b.png").write_bytes(b"22")
    assert data_fingerprint(str(folder)) != before and before.startswith("listing:")
    (tmp_path / "x.npy").write_bytes(b"abc")
    assert data_fingerprint(str(tmp_path / "x.npy")).startswith("sha256:")
    fp16 = ConversionSettings(calib_data="digits", calib_method="minmax").cache_facts("fp16")
    assert fp16 == ConversionSettings(calib_data="digits", calib_method="entropy").cache_facts("fp16")
    assert FAST_INT8.cache_facts("int8") != ConversionSettings(calib_data="synthetic").cache_facts("int8")


def test_settings_and_request_objects_carry_the_same_options():
    from vgg_deploy.precision import CalibrationRequest, FallbackPolicy, ParityGates

    settings = ConversionSettings(calib_data="digits", calib_method="minmax", quantizer="ort", calib_samples=32,
                                  calib_batch=8, seed=2, min_top1=0.9, min_cosine=None, fallback="auto",
                                  max_fallback_layers=3)
    request = settings.request("int8")
    assert (request.precision, request.target) == ("int8", "tensorrt")
    assert request.calibration == CalibrationRequest(data="digits", method="minmax", samples=32, batch=8, seed=2)
    assert request.gates == ParityGates(min_top1=0.9) and request.fallback == FallbackPolicy("auto", 3)
    assert ConversionSettings.of(calibration=request.calibration, gates=request.gates,
                                 fallback=request.fallback) == settings
