"""Engine manifest, source fingerprints, cache keys, compatibility decisions and the layer-listing summary."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from vgg_deploy.errors import VGGDeployError
from vgg_deploy.trt.compat import Platform, check_compatibility, require_compatible
from vgg_deploy.trt.errors import EngineCompatibilityError, ManifestError
from vgg_deploy.trt.inspector import summarize_layers, tensor_precision
from vgg_deploy.trt.manifest import (
    EngineManifest, OnnxFingerprint, cache_key, manifest_path, onnx_fingerprint, read_manifest, write_manifest,
)
from vgg_deploy.trt.options import DEFAULT_PROFILE, BuildOptions, Profile

A100 = Platform("10.13.0.35", "NVIDIA A100-SXM4-80GB", "8.0", "12.8", "12.9")


def _manifest(**changes) -> EngineManifest:
    base = EngineManifest(
        engine_sha256="ab" * 32, engine_size_bytes=1234, tensorrt_version=A100.tensorrt_version,
        gpu_name=A100.gpu_name, compute_capability=A100.compute_capability, cuda_version="12.8",
        driver_version="12.9", precision="int8", profile=Profile(1, 8, 32), hardware_compat="none",
        version_compatible=False, lean_runtime_embedded=False,
        source_onnx=OnnxFingerprint("models/vgg16.onnx", "cd" * 32),
        built_onnx=OnnxFingerprint("models/vgg16.int8.onnx", "ef" * 32), input_name="input", output_name="logits",
        input_shape=(3, 224, 224), cache_key="00" * 32, built_at="2026-01-01T00:00:00+00:00", build_seconds=12.5,
        vgg_deploy_version="0.1.0", build_options={"opt_level": 3}, model={"architecture": "vgg16"},
        layers={"layers": 3},
    )
    return dataclasses.replace(base, **changes)


# -- manifest ----------------------------------------------------------------------------------------------------

def test_manifest_round_trip(tmp_path):
    plan = tmp_path / "vgg16.int8.plan"
    manifest = _manifest()
    path = write_manifest(manifest, plan)
    assert path == manifest_path(plan) == tmp_path / "vgg16.int8.plan.json"
    assert read_manifest(plan) == manifest
    assert json.loads(path.read_text())["profile"] == {"min": 1, "opt": 8, "max": 32}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # written atomically: no temporary left behind


@pytest.mark.parametrize("content, needle", [
    (None, "no manifest vgg16.plan.json next to it"),
    ("{not json", "not readable JSON"),
    ("[1, 2]", "a JSON object was expected"),
    (json.dumps({"format": 99}), "manifest format 99"),
    (json.dumps({"format": 1, "precision": "fp32"}), "engine_sha256"),
])
def test_unusable_manifests_say_how_to_fix(tmp_path, content, needle):
    plan = tmp_path / "vgg16.plan"
    if content is not None:
        manifest_path(plan).write_text(content)
    with pytest.raises(ManifestError, match=needle) as info:
        read_manifest(plan)
    assert "build-trt" in str(info.value) and "\n" not in str(info.value)


def test_malformed_field_is_one_clear_error(tmp_path):
    plan = tmp_path / "m.plan"
    data = _manifest().to_dict()
    data["profile"] = {"min": 8, "opt": 1, "max": 4}
    manifest_path(plan).write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="malformed engine manifest"):
        read_manifest(plan)
    data = _manifest().to_dict()
    data["engine_size_bytes"] = "big"
    manifest_path(plan).write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="engine_size_bytes"):
        read_manifest(plan)


# -- source fingerprint ------------------------------------------------------------------------------------------

def _onnx_with_weights(path, weights: np.ndarray, *, external: bool) -> None:
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["logits"], name="conv")], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 4, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2, 4, 4])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(path), save_as_external_data=external, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)


def test_fingerprint_covers_external_data(tmp_path):
    weights = np.ones((2, 1, 1, 1), np.float32)
    _onnx_with_weights(tmp_path / "m.onnx", weights, external=True)
    first = onnx_fingerprint(tmp_path / "m.onnx")
    assert first.external_data == ("weights.bin",)
    assert len(first.sha256) == 64
    # Same graph file, other weights: only the external-data file changes, and so must the hash.
    data = tmp_path / "weights.bin"
    data.write_bytes(np.full((2, 1, 1, 1), 2, np.float32).tobytes())
    assert onnx_fingerprint(tmp_path / "m.onnx").sha256 != first.sha256
    data.unlink()
    with pytest.raises(VGGDeployError, match="references external data 'weights.bin', which is not next to it"):
        onnx_fingerprint(tmp_path / "m.onnx")


def test_fingerprint_of_a_self_contained_file_is_stable(tmp_path):
    _onnx_with_weights(tmp_path / "a.onnx", np.ones((2, 1, 1, 1), np.float32), external=False)
    one, two = onnx_fingerprint(tmp_path / "a.onnx"), onnx_fingerprint(tmp_path / "a.onnx")
    assert one == two and one.external_data == ()
    (tmp_path / "bad.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(VGGDeployError, match="not a readable ONNX file"):
        onnx_fingerprint(tmp_path / "bad.onnx")


def test_external_data_outside_the_model_folder_is_refused(tmp_path):
    _onnx_with_weights(tmp_path / "m.onnx", np.ones((2, 1, 1, 1), np.float32), external=True)
    model = onnx.load(str(tmp_path / "m.onnx"), load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../elsewhere.bin"
    onnx.save_model(model, str(tmp_path / "m.onnx"))
    with pytest.raises(VGGDeployError, match="outside the model's folder"):
        onnx_fingerprint(tmp_path / "m.onnx")


# -- cache key ---------------------------------------------------------------------------------------------------

def test_cache_key_changes_with_each_input():
    base = dict(source_sha256="a" * 64, conversion={"precision": "int8", "calib_data": "digits"},
                options=BuildOptions(precision="int8", profile=DEFAULT_PROFILE), tensorrt_version="10.13.0.35",
                gpu_name="NVIDIA L4", compute_capability="8.9")
    key = cache_key(**base)
    assert key == cache_key(**base)
    variants = [
        {"source_sha256": "b" * 64}, {"conversion": {"precision": "int8", "calib_data": "synthetic"}},
        {"options": BuildOptions(precision="int8", profile=Profile(1, 8, 64))},
        {"options": BuildOptions(precision="int8", profile=DEFAULT_PROFILE, opt_level=5)},
        {"options": BuildOptions(precision="int8", profile=DEFAULT_PROFILE, workspace_bytes=1 << 30)},
        {"options": BuildOptions(precision="int8", profile=DEFAULT_PROFILE, hardware_compat="ampere+")},
        {"options": BuildOptions(precision="int8", profile=DEFAULT_PROFILE, version_compatible=True)},
        {"tensorrt_version": "10.13.2.6"}, {"gpu_name": "NVIDIA L40S"}, {"compute_capability": "9.0"},
    ]
    keys = {cache_key(**{**base, **change}) for change in variants}
    assert len(keys) == len(variants) and key not in keys


# -- compatibility -----------------------------------------------------------------------------------------------

def test_same_gpu_and_version_runs():
    decision = check_compatibility(_manifest(), A100, plan="m.plan")
    assert decision.ok and not decision.warnings and not decision.other_version


def test_other_model_same_compute_capability_runs_with_a_warning():
    decision = check_compatibility(_manifest(), dataclasses.replace(A100, gpu_name="NVIDIA A30"), plan="m.plan")
    assert decision.ok and "tuned it for the other GPU" in decision.warnings[0]


def test_other_compute_capability_is_refused_naming_both_and_the_fix():
    here = Platform("10.13.0.35", "NVIDIA L4", "8.9")
    decision = check_compatibility(_manifest(), here, plan="m.plan")
    assert not decision.ok
    reason = decision.reason
    assert "NVIDIA A100-SXM4-80GB (compute capability 8.0)" in reason and "NVIDIA L4 (compute capability 8.9)" in reason
    assert "vgg-deploy build-trt models/vgg16.onnx --precision int8 --profile 1:8:32 -o m.plan --force" in reason
    assert "--hardware-compat ampere+" in reason
    with pytest.raises(EngineCompatibilityError, match="cannot run on NVIDIA L4"):
        require_compatible(_manifest(), here, plan="m.plan")


def test_ampere_plus_runs_on_newer_gpus_only():
    portable = _manifest(hardware_compat="ampere+")
    assert check_compatibility(portable, Platform("10.13.0.35", "NVIDIA H100", "9.0"), plan="m.plan").ok
    turing = check_compatibility(portable, Platform("10.13.0.35", "Tesla T4", "7.5"), plan="m.plan")
    assert not turing.ok and "compute capability >= 8.0" in turing.reason


def test_same_cc_engine_needs_the_same_compute_capability():
    same_cc = _manifest(hardware_compat="same-cc")
    assert check_compatibility(same_cc, Platform("10.13.0.35", "NVIDIA A800", "8.0"), plan="m.plan").ok
    other = check_compatibility(same_cc, Platform("10.13.0.35", "NVIDIA L4", "8.9"), plan="m.plan")
    assert not other.ok and "same compute capability only" in other.reason


@pytest.mark.parametrize("runtime", ["10.14.1.48", "10.13.2.6", "11.0.0.114"])
def test_other_tensorrt_is_refused_unless_version_compatible(runtime):
    here = dataclasses.replace(A100, tensorrt_version=runtime)
    decision = check_compatibility(_manifest(), here, plan="m.plan")
    assert not decision.ok
    assert "built with TensorRT 10.13.0.35" in decision.reason and f"this is TensorRT {runtime}" in decision.reason
    assert "--version-compatible" in decision.reason and "--force" in decision.reason


@pytest.mark.parametrize("runtime, ok", [("10.14.1.48", True), ("11.0.0.114", True), ("10.9.0.34", False),
                                         ("12.0.0", False)])
def test_version_compatible_engine_runs_forward_only(runtime, ok):
    here = dataclasses.replace(A100, tensorrt_version=runtime)
    decision = check_compatibility(_manifest(version_compatible=True), here, plan="m.plan")
    assert decision.ok is ok
    if ok:
        assert decision.other_version and "lean runtime" in decision.warnings[-1]
    else:
        assert "rebuild it here" in decision.reason


# -- layer listing -----------------------------------------------------------------------------------------------

# Hand-written after TensorRT 10.x's documented DETAILED listing (one entry per layer, tensors described by
# "Format/Datatype"); an int8 engine whose classifier GEMM stayed in fp32.
LISTING_10 = {
    "Layers": [
        {"Name": "input_quantize", "LayerType": "Reformat", "Inputs": [
            {"Name": "input", "Location": "Device", "Dimensions": [8, 3, 32, 32], "Format/Datatype": "Row major linear FP32"}],
         "Outputs": [{"Name": "q", "Location": "Device", "Dimensions": [8, 3, 32, 32],
                      "Format/Datatype": "Channel major INT8 format where channel % 4 == 0"}]},
        {"Name": "conv1 + relu1", "LayerType": "CaskConvolution", "ParameterType": "Convolution", "Inputs": [
            {"Name": "q", "Format/Datatype": "Channel major INT8 format where channel % 4 == 0"}],
         "Outputs": [{"Name": "c1", "Format/Datatype": "Channel major INT8 format where channel % 32 == 0"}]},
        {"Name": "conv2 + relu2", "LayerType": "CaskConvolution", "ParameterType": "Convolution", "Inputs": [
            {"Name": "c1", "Format/Datatype": "Channel major INT8 format where channel % 32 == 0"}], "Outputs": []},
        {"Name": "pool1", "LayerType": "CaskPooling", "ParameterType": "Pooling", "Inputs": [
            {"Name": "c2", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}], "Outputs": []},
        {"Name": "fc8", "LayerType": "CaskGemmConvolution", "ParameterType": "Convolution", "Inputs": [
            {"Name": "p", "Format/Datatype": "Row major linear FP32"}], "Outputs": []},
        {"Name": "sync", "LayerType": "signal", "Inputs": [], "Outputs": []},
    ],
    "Bindings": ["input", "logits"],
}

# TensorRT 11.x: "Format/Datatype" split into "Format" and "DataType", "Bindings" replaced by "I/O Tensors"
# (migration guide, "Migrating IEngineInspector Usage from TensorRT 10.x to 11.x").
LISTING_11 = {
    "Layers": [
        {"Name": "conv1", "LayerType": "CaskConvolution", "ParameterType": "Convolution",
         "Inputs": [{"Name": "x", "DataType": "Half", "Format": "Channel major FP16 format where channel % 8 == 0"}]},
        {"Name": "fc", "LayerType": "CaskGemm", "ParameterType": "MatrixMultiply",
         "Inputs": [{"Name": "y", "DataType": "BFloat16", "Format": "Row major linear BFloat16 format"}]},
        {"Name": "softmax", "LayerType": "Softmax", "Inputs": [], "Outputs": [{"Name": "z", "DataType": "Float"}]},
    ],
    "I/O Tensors": [{"Name": "input", "IOMode": "Input", "DataType": "Float", "Dimensions": [1, 3, 224, 224]}],
}


def test_summary_of_a_10x_listing_shows_fp32_compute_in_an_int8_engine():
    summary = summarize_layers(json.dumps(LISTING_10))
    assert summary.layers == 5  # the stream-synchronization "signal" layer is not counted
    assert summary.precisions == {"fp32": 2, "int8": 2, "fp16": 1}
    assert summary.compute == {"int8": 2, "fp32": 1}
    assert summary.fp32_compute_layers == ("fc8",)
    assert summary.describe() == "5 layers: fp32 2, int8 2, fp16 1; convolution/GEMM layers: int8 2, fp32 1"
    assert summary.warning("int8") == "1 of 3 convolution/GEMM layers of this int8 engine run in fp32: fc8"
    assert summary.warning("fp32") is None


def test_summary_of_an_11x_listing():
    summary = summarize_layers(LISTING_11)
    assert summary.precisions == {"fp16": 1, "bf16": 1, "fp32": 1}
    assert summary.compute == {"fp16": 1, "bf16": 1} and summary.warning("fp16") is None


def test_listing_without_details_and_garbage():
    names_only = summarize_layers({"Layers": ["conv1", "fc"], "Bindings": ["input", "logits"]})
    assert not names_only.detailed and names_only.layers == 2 and "no precision details" in names_only.describe()
    with pytest.raises(ValueError, match="no \"Layers\" list"):
        summarize_layers({"Bindings": []})
    assert tensor_precision({"Format/Datatype": "Row major linear FP32"}) == "fp32"
    assert tensor_precision({"Format/Datatype": "Unknown format"}) == "unknown"
