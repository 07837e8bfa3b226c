"""Control flow and error handling of the TensorRT build and run paths, driven on the CPU by a recording fake.

These prove what vgg-deploy does around TensorRT (calls, order, arguments, error lines, cleanup), not that TensorRT
accepts it: see tests/fake_tensorrt.py, and tests/test_trt_gpu.py for the real thing.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from PIL import Image

import vgg_deploy
from fake_tensorrt import FakeGpu, FakeTensorRTConfig, fake_logits, install_fakes
from vgg_deploy.data import preprocess_image
from vgg_deploy.export import export_onnx
from vgg_deploy.models import create_model
from vgg_deploy.runtime import RunnerError
from vgg_deploy.trt import (
    EngineBuildError, EngineCompatibilityError, ManifestError, OptionError, TensorRTRunner, TensorRTUnavailableError,
    current_platform, manifest_path, plan_build, read_manifest, run_build,
)
from vgg_deploy.trt.handoff import ConversionSettings
from vgg_deploy.trt.manifest import layers_path, write_manifest
from vgg_deploy.trt.options import Profile

PARSE_ERROR = ("DequantizeLinear_12", "Assertion failed: TensorRT only supports symmetric quantization. The zero "
               "point for the QuantizeLinear/DequantizeLinear operator must be all zeros.", "UNSUPPORTED_NODE")


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory):
    torch.manual_seed(0)
    return export_onnx(create_model("vgg_tiny"), tmp_path_factory.mktemp("onnx") / "tiny.onnx", verify=False).path


def _build(onnx_path, plan, *, progress=None, force=False, cache=None, **options):
    settings = options.pop("settings", ConversionSettings())
    build = plan_build(onnx_path, plan, settings=settings, **options)
    return run_build(build, platform=current_platform(), force=force, timing_cache=cache or plan.parent / "t.cache",
                     progress=progress or (lambda message: None))


def _flag_calls(gpu, call):
    return [c[1] for c in gpu.calls if c[0] == call]


# -- build -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["10.13.0.35", "11.0.0.114"])
def test_fp32_build_on_10x_and_11x(fp32_onnx, tmp_path, monkeypatch, version):
    """The same calls on both majors; 11.x's fake lacks every removed API, so touching one would fail here."""
    gpu = install_fakes(monkeypatch, config=FakeTensorRTConfig(version=version))
    lines: list[str] = []
    plan = tmp_path / "tiny.plan"
    report = _build(fp32_onnx, plan, progress=lines.append)
    assert ("Builder.create_network", 1 << 1) in gpu.calls  # 1 << int(STRONGLY_TYPED), nothing else
    assert _flag_calls(gpu, "IBuilderConfig.clear_flag") == ["TF32"]  # trt-fp32 is IEEE fp32
    assert _flag_calls(gpu, "IBuilderConfig.set_flag") == []
    assert ("IOptimizationProfile.set_shape", "input", [1, 3, 32, 32], [8, 3, 32, 32], [32, 3, 32, 32]) in gpu.calls
    assert plan.read_bytes().startswith(b"FAKEPLAN")
    manifest = read_manifest(plan)
    assert (manifest.tensorrt_version, manifest.gpu_name, manifest.compute_capability) == \
        (version, "NVIDIA Fake GPU", "8.9")
    assert (manifest.precision, manifest.profile, manifest.cuda_version) == ("fp32", Profile(1, 8, 32), "12.8")
    assert manifest.model["architecture"] == "vgg_tiny" and manifest.input_shape == (3, 32, 32)
    assert manifest.build_options["tf32"] is False and manifest.build_options["device_memory_bytes"] == 1 << 20
    assert manifest.source_onnx == manifest.built_onnx and not report.reused
    assert layers_path(plan).is_file() and (tmp_path / "t.cache").read_bytes() == b"+timed"
    assert any("TensorRT: Building engine (2 steps)" in line for line in lines)
    assert any("  TensorRT: Tactic selection" in line for line in lines)


def test_int8_from_fp32_converts_then_builds_without_precision_flags(fp32_onnx, tmp_path, monkeypatch):
    gpu = install_fakes(monkeypatch, config=FakeTensorRTConfig(version="11.0.0.114"))
    plan = tmp_path / "tiny.int8.plan"
    settings = ConversionSettings(calib_data="synthetic", calib_method="minmax", calib_samples=16, calib_batch=8)
    report = _build(fp32_onnx, plan, precision="int8", settings=settings)
    assert report.converted_onnx == tmp_path / "tiny.int8.onnx" and report.converted_onnx.is_file()
    parsed = [c[1] for c in gpu.calls if c[0] == "OnnxParser.parse_from_file"]
    assert parsed == [str(report.converted_onnx)]  # TensorRT parses the Q/DQ ONNX, not the fp32 one
    assert _flag_calls(gpu, "IBuilderConfig.set_flag") == [] and _flag_calls(gpu, "IBuilderConfig.clear_flag") == []
    manifest = read_manifest(plan)
    assert manifest.precision == "int8" and manifest.built_onnx.path == str(report.converted_onnx)
    assert manifest.source_onnx.path == str(fp32_onnx) and manifest.model["precision"] == "int8"
    assert manifest.build_options["conversion"]["calib_data"] == "synthetic"


def test_parser_errors_name_the_nodes_and_the_fix(fp32_onnx, tmp_path, monkeypatch):
    install_fakes(monkeypatch, config=FakeTensorRTConfig(parse_errors=(PARSE_ERROR, ("Conv_3", "odd", "INVALID_NODE"))))
    plan = tmp_path / "m.plan"
    with pytest.raises(EngineBuildError) as info:
        _build(fp32_onnx, plan)
    message = str(info.value)
    assert "TensorRT's ONNX parser refused it (2 errors)" in message and "\n" not in message
    assert "node DequantizeLinear_12: Assertion failed" in message and "node Conv_3: odd [INVALID_NODE]" in message
    assert "fix: re-quantize the fp32 model with `vgg-deploy quantize --target tensorrt`" in message
    assert not plan.exists() and not manifest_path(plan).exists()


def test_build_returning_none_is_a_clear_error(fp32_onnx, tmp_path, monkeypatch):
    install_fakes(monkeypatch, config=FakeTensorRTConfig(build_returns_none=True))
    plan = tmp_path / "m.plan"
    with pytest.raises(EngineBuildError, match=r"could not build the engine: \[fake\] out of memory while building"):
        _build(fp32_onnx, plan)
    assert list(tmp_path.iterdir()) == []  # no plan, no manifest, no temporary file


def test_timing_cache_is_reused_and_a_foreign_one_replaced(fp32_onnx, tmp_path, monkeypatch):
    gpu = install_fakes(monkeypatch)
    cache = tmp_path / "timing.cache"
    first = _build(fp32_onnx, tmp_path / "a.plan", cache=cache)
    assert first.notes[0] == f"timing cache {cache}: new, saved"
    second = _build(fp32_onnx, tmp_path / "b.plan", cache=cache, opt_level=2)
    assert ("IBuilderConfig.set_timing_cache", b"+timed", False) in gpu.calls  # read back; no ignore_mismatch
    assert second.notes[0] == f"timing cache {cache}: reused (6 bytes), saved" and cache.read_bytes() == b"+timed+timed"
    cache.write_bytes(b"OTHER-GPU")
    third = _build(fp32_onnx, tmp_path / "c.plan", cache=cache)
    assert third.notes[0] == f"timing cache {cache}: from another GPU or TensorRT, started a new one, saved"


def test_engine_cache_reuses_same_key_and_force_rebuilds(fp32_onnx, tmp_path, monkeypatch):
    gpu = install_fakes(monkeypatch)
    plan = tmp_path / "m.plan"
    _build(fp32_onnx, plan)
    builds = lambda: gpu.names().count("Builder.build_serialized_network")  # noqa: E731
    lines: list[str] = []
    assert _build(fp32_onnx, plan, progress=lines.append).reused and builds() == 1
    assert "reusing it (--force rebuilds)" in lines[-1]
    assert not _build(fp32_onnx, plan, force=True).reused and builds() == 2
    assert not _build(fp32_onnx, plan, profile=Profile(1, 4, 16)).reused and builds() == 3
    plan.write_bytes(plan.read_bytes()[:-1] + b"X")  # the engine changed behind the manifest's back
    assert not _build(fp32_onnx, plan, profile=Profile(1, 4, 16)).reused and builds() == 4


def test_compatibility_options(fp32_onnx, tmp_path, monkeypatch):
    gpu = install_fakes(monkeypatch)
    _build(fp32_onnx, tmp_path / "a.plan", hardware_compat="same-cc", version_compatible=True)
    assert _flag_calls(gpu, "IBuilderConfig.set_flag") == ["VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME"]
    manifest = read_manifest(tmp_path / "a.plan")
    assert manifest.hardware_compat == "same-cc" and manifest.version_compatible and not manifest.lean_runtime_embedded
    gpu.calls.clear()
    _build(fp32_onnx, tmp_path / "b.plan", version_compatible=True, embed_lean_runtime=True)
    assert _flag_calls(gpu, "IBuilderConfig.set_flag") == ["VERSION_COMPATIBLE"]
    assert ("Runtime.deserialize_cuda_engine",) == tuple(c[0] for c in gpu.calls if c[0].startswith("Runtime.d"))
    assert [c[2] for c in gpu.calls if c[0] == "Runtime.deserialize_cuda_engine"] == [True]  # host code allowed


def test_same_cc_on_tensorrt_before_10_9_is_refused_before_building(fp32_onnx, tmp_path, monkeypatch):
    gpu = install_fakes(monkeypatch, config=FakeTensorRTConfig(version="10.8.0.43"))
    with pytest.raises(OptionError, match="needs TensorRT >= 10.9"):
        _build(fp32_onnx, tmp_path / "m.plan", hardware_compat="same-cc")
    assert "Builder.__init__" not in gpu.names()


def test_fp32_layers_in_an_int8_engine_are_reported(fp32_onnx, tmp_path, monkeypatch):
    listing = {"Layers": [
        {"Name": "conv1", "ParameterType": "Convolution", "Inputs": [{"Format/Datatype": "Channel major INT8 format"}]},
        {"Name": "fc", "ParameterType": "Convolution", "Inputs": [{"Format/Datatype": "Row major linear FP32"}]},
    ]}
    install_fakes(monkeypatch, config=FakeTensorRTConfig(listing=listing))
    settings = ConversionSettings(calib_data="synthetic", calib_method="minmax", calib_samples=16, calib_batch=8)
    report = _build(fp32_onnx, tmp_path / "m.plan", precision="int8", settings=settings)
    assert report.warnings == ("1 of 2 convolution/GEMM layers of this int8 engine run in fp32: fc",)
    assert read_manifest(tmp_path / "m.plan").layers["fp32_compute_layers"] == ["fc"]
    assert json.loads(layers_path(tmp_path / "m.plan").read_text()) == listing


def test_no_gpu_and_no_tensorrt_are_unavailable_errors(monkeypatch):
    install_fakes(monkeypatch, gpu=FakeGpu(device_error=35))
    with pytest.raises(TensorRTUnavailableError, match="no usable NVIDIA GPU or driver"):
        current_platform()
    install_fakes(monkeypatch, with_tensorrt=False)
    with pytest.raises(TensorRTUnavailableError, match=r'TensorRT is not installed: pip install "vgg-deploy\[trt\]"'):
        current_platform()


# -- run ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def engine(fp32_onnx, tmp_path, monkeypatch):
    """A fake-built engine and the fake GPU state it runs on."""
    gpu = install_fakes(monkeypatch)
    plan = tmp_path / "tiny.plan"
    _build(fp32_onnx, plan, profile=Profile(1, 4, 16))
    gpu.calls.clear()
    return plan, gpu


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 32, 32), dtype=np.float32)


def test_runner_runs_any_batch_in_the_profile_and_frees_everything(engine):
    plan, gpu = engine
    with vgg_deploy.load(plan) as runner:
        assert isinstance(runner, TensorRTRunner) and runner.name == "trt-fp32"
        assert runner.batch_range == (1, 16) and runner.input_shape == (3, 32, 32)
        for n in (1, 5, 16, 3):
            batch = _images(n, seed=n)
            np.testing.assert_allclose(runner.infer(batch), fake_logits(batch, 10), rtol=1e-6)
        with pytest.raises(RunnerError, match="outside the model's batch range"):
            runner.infer(_images(17))
        pictures = [Image.fromarray(np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8))
                    for i in range(2)]
        predictions = runner.predict(pictures, top_k=3)  # preprocessing from the manifest's model facts
        expected = fake_logits(np.stack([preprocess_image(p, runner.config) for p in pictures]), 10).argmax(axis=1)
        assert [p.best.index for p in predictions] == list(expected) and len(predictions[0].top_k) == 3
    assert gpu.device_memory == {} and gpu.host_memory == {} and gpu.streams == {}
    shapes = [c[2] for c in gpu.calls if c[0] == "IExecutionContext.set_input_shape"]
    assert shapes == [(1, 3, 32, 32), (5, 3, 32, 32), (16, 3, 32, 32), (3, 3, 32, 32), (2, 3, 32, 32)]
    assert gpu.names().count("cudaMalloc") == 6  # in+out, grown twice (batch 1 -> 5 -> 16), not for 3 or 2


def test_cuda_graphs_capture_once_per_batch_size_and_replay(engine):
    plan, gpu = engine
    with TensorRTRunner(plan, cuda_graphs=True) as runner:
        assert runner.name == "trt-graphs-fp32"
        for seed in range(3):
            batch = _images(4, seed)
            np.testing.assert_allclose(runner.infer(batch), fake_logits(batch, 10), rtol=1e-6)
        assert gpu.names().count("cudaStreamBeginCapture") == 1 and gpu.graph_launches == 3
        small = _images(2, 9)
        np.testing.assert_allclose(runner.infer(small), fake_logits(small, 10), rtol=1e-6)
        assert gpu.names().count("cudaStreamBeginCapture") == 2
        big = _images(8, 7)  # larger buffers: graphs captured the old addresses and are dropped
        np.testing.assert_allclose(runner.infer(big), fake_logits(big, 10), rtol=1e-6)
        np.testing.assert_allclose(runner.infer(small), fake_logits(small, 10), rtol=1e-6)
        assert gpu.names().count("cudaStreamBeginCapture") == 4
    assert gpu.device_memory == {} and gpu.host_memory == {}


def test_manifest_mismatch_is_refused_before_deserializing(engine):
    plan, gpu = engine
    manifest = read_manifest(plan)
    write_manifest(dataclasses.replace(manifest, gpu_name="NVIDIA H100", compute_capability="9.0"), plan)
    with pytest.raises(EngineCompatibilityError) as info:
        vgg_deploy.load(plan)
    assert "NVIDIA H100 (compute capability 9.0)" in str(info.value)
    assert "NVIDIA Fake GPU (compute capability 8.9)" in str(info.value) and "--force" in str(info.value)
    assert "Runtime.deserialize_cuda_engine" not in gpu.names()
    write_manifest(dataclasses.replace(manifest, tensorrt_version="10.12.0.36"), plan)
    with pytest.raises(EngineCompatibilityError, match="--version-compatible"):
        vgg_deploy.load(plan)


def test_truncated_or_replaced_engine_is_refused_before_deserializing(engine):
    plan, gpu = engine
    data = plan.read_bytes()
    plan.write_bytes(data[:-10])
    with pytest.raises(ManifestError, match="truncated or was replaced; rebuild it: vgg-deploy build-trt"):
        vgg_deploy.load(plan)
    plan.write_bytes(data[:-1] + b"?")
    with pytest.raises(ManifestError, match="sha256 differs"):
        vgg_deploy.load(plan)
    plan.write_bytes(b"")
    with pytest.raises(ManifestError, match="0 bytes, but its manifest records"):
        vgg_deploy.load(plan)
    manifest_path(plan).unlink()
    with pytest.raises(RunnerError, match="the engine file is empty"):
        vgg_deploy.load(plan, require_manifest=False)
    assert "Runtime.deserialize_cuda_engine" not in gpu.names()


def test_engine_that_does_not_deserialize_is_a_clear_error(engine):
    plan, gpu = engine
    manifest_path(plan).unlink()
    with pytest.raises(ManifestError, match="no manifest tiny.plan.json"):
        vgg_deploy.load(plan)
    plan.write_bytes(b"not an engine")
    with pytest.raises(RunnerError, match=r"TensorRT could not load the engine \(\[fake\] IRuntime::deserializeCudaEngine"):
        vgg_deploy.load(plan, require_manifest=False)
    assert gpu.device_memory == {} and gpu.streams == {}


def test_version_compatible_engine_from_an_older_tensorrt(fp32_onnx, tmp_path, monkeypatch):
    gpu = install_fakes(monkeypatch)
    plan = tmp_path / "vc.plan"
    _build(fp32_onnx, plan, version_compatible=True)
    write_manifest(dataclasses.replace(read_manifest(plan), tensorrt_version="10.12.0.36"), plan)
    with pytest.raises(EngineCompatibilityError, match="built without its lean runtime: pass lean_runtime="):
        vgg_deploy.load(plan)
    with vgg_deploy.load(plan, lean_runtime=tmp_path / "libnvinfer_lean.so.10") as runner:
        assert runner.compatibility.other_version and "lean runtime" in runner.compatibility.warnings[-1]
        batch = _images(2)
        np.testing.assert_allclose(runner.infer(batch), fake_logits(batch, 10), rtol=1e-6)
    assert ("Runtime.load_runtime", str(tmp_path / "libnvinfer_lean.so.10")) in gpu.calls
