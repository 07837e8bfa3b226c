"""What the TensorRT flows (tests/test_trt_flows.py) cannot show: error paths TensorRT reaches only on a bad day
(parser errors, a failed build, a bad engine), bookkeeping whose counts matter (timing cache, buffer growth, CUDA
graph captures, frees), and the stand-in's own refusals. Run on tests/fake_tensorrt.py; none of this proves
anything about TensorRT itself (tests/test_trt_gpu.py and `pytest -m trt` on a GPU do).
"""

from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pytest
import torch

import vgg_deploy
from fake_tensorrt import (
    SAYS, FakeGpu, FakeTensorRTConfig, install_fakes, make_fake_cudart, make_fake_tensorrt, unpack_engine,
)
from vgg_deploy.export import export_onnx
from vgg_deploy.models import create_model
from vgg_deploy.precision import onnx_logits
from vgg_deploy.runtime import RunnerError
from vgg_deploy.trt import (
    EngineBuildError, EngineCompatibilityError, ManifestError, OptionError, TensorRTRunner, TensorRTUnavailableError,
    current_platform, manifest_path, plan_build, read_manifest, run_build,
)
from vgg_deploy.trt.handoff import ConversionSettings
from vgg_deploy.trt.manifest import write_manifest
from vgg_deploy.trt.options import Profile

PARSE_ERROR = ("DequantizeLinear_12", "Assertion failed: TensorRT only supports symmetric quantization. The zero "
               "point for the QuantizeLinear/DequantizeLinear operator must be all zeros.", "UNSUPPORTED_NODE")


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory):
    torch.manual_seed(0)
    return export_onnx(create_model("vgg_tiny"), tmp_path_factory.mktemp("onnx") / "tiny.onnx", verify=False).path


def _build(onnx_path, plan, *, force=False, cache=None, **options):
    settings = options.pop("settings", ConversionSettings())
    build = plan_build(onnx_path, plan, settings=settings, **options)
    return run_build(build, platform=current_platform(), force=force, timing_cache=cache or plan.parent / "t.cache")


def _flag_calls(gpu, call):
    return [c[1] for c in gpu.calls if c[0] == call]


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 32, 32), dtype=np.float32)


# -- build -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["10.13.0.35", "11.0.0.114"])
def test_fp32_engine_is_ieee_strongly_typed_on_10x_and_11x(fp32_onnx, tmp_path, monkeypatch, caplog, version):
    """11.x's stand-in lacks every removed API, so touching one would fail here; the engine records TF32 off."""
    gpu = install_fakes(monkeypatch, config=FakeTensorRTConfig(version=version))
    plan = tmp_path / "tiny.plan"
    logger = logging.getLogger("vgg_deploy")
    logger.addHandler(caplog.handler)  # directly: after a CLI test the logger no longer propagates to the root
    try:
        with caplog.at_level(logging.INFO, logger="vgg_deploy"):
            _build(fp32_onnx, plan)
    finally:
        logger.removeHandler(caplog.handler)
    lines = [record.getMessage() for record in caplog.records]
    assert ("Builder.create_network", 1 << 1) in gpu.calls  # 1 << int(STRONGLY_TYPED), nothing else
    header, _ = unpack_engine(plan.read_bytes())
    assert "TF32" not in header["flags"] and header["profile"] == [[1, 3, 32, 32], [8, 3, 32, 32], [32, 3, 32, 32]]
    manifest = read_manifest(plan)
    assert (manifest.tensorrt_version, manifest.gpu_name, manifest.compute_capability) == \
        (version, "NVIDIA Stand-in GPU", "8.9")
    assert manifest.build_options["tf32"] is False and manifest.cuda_version == "12.8"
    assert any("TensorRT: Building engine (2 steps)" in line for line in lines)
    assert any("  TensorRT: Tactic selection" in line for line in lines)


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
    with pytest.raises(EngineBuildError, match=r"could not build the engine: \[tensorrt stand-in\] out of memory"):
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


def test_engine_changed_behind_the_manifest_is_rebuilt(fp32_onnx, tmp_path, monkeypatch):
    gpu = install_fakes(monkeypatch)
    plan = tmp_path / "m.plan"
    _build(fp32_onnx, plan)
    builds = lambda: gpu.names().count("Builder.build_serialized_network")  # noqa: E731
    assert not _build(fp32_onnx, plan, profile=Profile(1, 4, 16)).reused and builds() == 2  # another profile
    plan.write_bytes(plan.read_bytes()[:-1] + b"X")
    assert not _build(fp32_onnx, plan, profile=Profile(1, 4, 16)).reused and builds() == 3


def test_compatibility_options(fp32_onnx, tmp_path, monkeypatch):
    gpu = install_fakes(monkeypatch)
    _build(fp32_onnx, tmp_path / "a.plan", hardware_compat="same-cc", version_compatible=True)
    assert _flag_calls(gpu, "IBuilderConfig.set_flag") == ["VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME"]
    header, _ = unpack_engine((tmp_path / "a.plan").read_bytes())
    assert header["hardware_compatibility_level"] == "SAME_COMPUTE_CAPABILITY"
    manifest = read_manifest(tmp_path / "a.plan")
    assert manifest.hardware_compat == "same-cc" and manifest.version_compatible and not manifest.lean_runtime_embedded
    gpu.calls.clear()
    _build(fp32_onnx, tmp_path / "b.plan", version_compatible=True, embed_lean_runtime=True)
    assert _flag_calls(gpu, "IBuilderConfig.set_flag") == ["VERSION_COMPATIBLE"]
    # the build's own load-back allows the embedded lean runtime's host code (the stand-in refuses it otherwise)
    assert [c[2] for c in gpu.calls if c[0] == "Runtime.deserialize_cuda_engine"] == [True]


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
    """A stand-in engine (profile 1:4:16) and the stand-in's state it runs on."""
    gpu = install_fakes(monkeypatch)
    plan = tmp_path / "tiny.plan"
    _build(fp32_onnx, plan, profile=Profile(1, 4, 16))
    gpu.calls.clear()
    return plan, gpu


def test_buffers_grow_only_when_needed_and_everything_is_freed(engine, fp32_onnx):
    plan, gpu = engine
    with vgg_deploy.load(plan) as runner:
        for n in (1, 5, 16, 3):
            batch = _images(n, seed=n)
            np.testing.assert_array_equal(runner.infer(batch), onnx_logits(fp32_onnx, batch))
        with pytest.raises(RunnerError, match="outside the model's batch range"):
            runner.infer(_images(17))
    assert gpu.device_memory == {} and gpu.host_memory == {} and gpu.streams == {}
    assert gpu.names().count("cudaMalloc") == 6  # in+out, grown twice (batch 1 -> 5 -> 16), not for 3


def test_cuda_graphs_capture_once_per_batch_size_and_replay(engine, fp32_onnx):
    plan, gpu = engine
    with TensorRTRunner(plan, cuda_graphs=True) as runner:
        assert runner.name == "trt-graphs-fp32"
        for seed in range(3):
            batch = _images(4, seed)  # the graph reads the pinned buffer at replay: new data, new logits
            np.testing.assert_array_equal(runner.infer(batch), onnx_logits(fp32_onnx, batch))
        assert gpu.names().count("cudaStreamBeginCapture") == 1 and gpu.graph_launches == 3
        small, big = _images(2, 9), _images(8, 7)
        np.testing.assert_array_equal(runner.infer(small), onnx_logits(fp32_onnx, small))
        assert gpu.names().count("cudaStreamBeginCapture") == 2
        runner.infer(big)  # larger buffers: graphs captured the old addresses and are dropped
        np.testing.assert_array_equal(runner.infer(small), onnx_logits(fp32_onnx, small))
        assert gpu.names().count("cudaStreamBeginCapture") == 4
    assert gpu.device_memory == {} and gpu.host_memory == {}


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


def test_engines_the_stand_in_refuses_reach_the_user_as_one_clear_error(engine, monkeypatch):
    """Without a manifest nothing is checked first: TensorRT's (here the stand-in's) refusal is the reason."""
    plan, gpu = engine
    data = plan.read_bytes()
    manifest_path(plan).unlink()
    with pytest.raises(ManifestError, match="no manifest tiny.plan.json"):
        vgg_deploy.load(plan)
    for bad, says in ((b"not an engine", "foreign bytes"), (data[:-3], "truncated or altered")):
        plan.write_bytes(bad)
        with pytest.raises(RunnerError, match=rf"TensorRT could not load the engine \(\[tensorrt stand-in\] .*{says}"):
            vgg_deploy.load(plan, require_manifest=False)
    plan.write_bytes(data)
    install_fakes(monkeypatch, gpu=FakeGpu(compute_capability=(9, 0)))
    with pytest.raises(RunnerError, match=r"\[tensorrt stand-in\] engine of compute capability \[8, 9\]"):
        vgg_deploy.load(plan, require_manifest=False)
    install_fakes(monkeypatch, config=FakeTensorRTConfig(version="10.14.1.48"))
    with pytest.raises(RunnerError, match=r"\[tensorrt stand-in\] engine of TensorRT 10.13.0.35"):
        vgg_deploy.load(plan, require_manifest=False)
    assert gpu.device_memory == {} and gpu.streams == {}


def test_stand_in_refuses_shapes_outside_the_profile_and_work_on_another_device(engine):
    plan, _ = engine
    gpu = FakeGpu(device_count=2)
    trt = make_fake_tensorrt(gpu)
    said: list[str] = []
    logger = trt.ILogger()
    logger.log = lambda severity, msg: said.append(msg)
    engine = trt.Runtime(logger).deserialize_cuda_engine(plan.read_bytes())
    context = engine.create_execution_context()
    assert not context.set_input_shape("input", (17, 3, 32, 32)) and said[-1].startswith(SAYS)
    assert context.set_input_shape("input", (2, 3, 32, 32))
    _, stream = make_fake_cudart(gpu).cudaStreamCreate()  # on device 0, as the engine
    gpu.set_current(1)
    assert not context.execute_async_v3(int(stream)) and "device 1 current" in said[-1]


def test_version_compatible_engine_from_an_older_tensorrt(fp32_onnx, tmp_path, monkeypatch):
    gpu = install_fakes(monkeypatch)
    plan = tmp_path / "vc.plan"
    _build(fp32_onnx, plan, version_compatible=True)
    install_fakes(monkeypatch, gpu=gpu, config=FakeTensorRTConfig(version="10.14.1.48"))
    with pytest.raises(EngineCompatibilityError, match="built without its lean runtime: pass lean_runtime="):
        vgg_deploy.load(plan)
    with vgg_deploy.load(plan, lean_runtime=tmp_path / "libnvinfer_lean.so.10") as runner:
        assert runner.compatibility.other_version and "lean runtime" in runner.compatibility.warnings[-1]
        batch = _images(2)
        np.testing.assert_array_equal(runner.infer(batch), onnx_logits(fp32_onnx, batch))
    assert ("Runtime.load_runtime", str(tmp_path / "libnvinfer_lean.so.10")) in gpu.calls
    write_manifest(dataclasses.replace(read_manifest(plan), tensorrt_version="10.15.0.1"), plan)
    with pytest.raises(EngineCompatibilityError, match="never an older one"):
        vgg_deploy.load(plan)
    assert json.loads(manifest_path(plan).read_text())["tensorrt_version"] == "10.15.0.1"
