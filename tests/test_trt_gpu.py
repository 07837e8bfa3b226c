"""Tests that need an NVIDIA GPU (cuda-python) and, for engines, TensorRT; each skips with the reason elsewhere.

Nothing is imported from TensorRT or CUDA at module level, so this file is collected everywhere. On a GPU machine:
`pip install "vgg-deploy[trt]" && python -m pytest -q tests/test_trt_gpu.py` (about a minute: four tiny engines).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vgg_deploy.trt.errors import TensorRTUnavailableError

pytestmark = pytest.mark.gpu


def _cuda_gpu():
    """GpuFacts of device 0, or skip: cuda-python missing, or no GPU/driver."""
    pytest.importorskip("cuda.bindings", reason="cuda-python is not installed (pip install cuda-python)")
    from vgg_deploy.trt.cuda_memory import require_gpu

    try:
        return require_gpu(0)
    except TensorRTUnavailableError as exc:
        pytest.skip(str(exc))


def _tensorrt_gpu():
    trt = pytest.importorskip("tensorrt", reason="TensorRT is not installed (pip install \"vgg-deploy[trt]\")")
    if not hasattr(trt, "Builder"):
        pytest.skip("only an empty 'tensorrt' package (e.g. type stubs) is installed, not TensorRT")
    return _cuda_gpu()


def test_no_driver_is_reported_by_real_cuda_bindings():
    """Where cuda-python is installed but there is no driver, the error says so in one line."""
    pytest.importorskip("cuda.bindings", reason="cuda-python is not installed")
    from vgg_deploy.trt.cuda_memory import require_gpu

    try:
        facts = require_gpu(0)
    except TensorRTUnavailableError as exc:
        assert "NVIDIA GPU" in str(exc) and "\n" not in str(exc)
    else:
        pytest.skip(f"a GPU is present ({facts.name}): the no-driver path cannot be exercised here")


# -- CUDA alone (no TensorRT) ------------------------------------------------------------------------------------

def test_round_trip_copies_through_device_memory():
    _cuda_gpu()
    from vgg_deploy.trt.cuda_memory import DeviceBuffer, PinnedBuffer, Stream, copy_to_device, copy_to_host

    data = np.random.default_rng(0).standard_normal((3, 5, 7)).astype(np.float32)
    stream, host_in, host_out, device = Stream(), PinnedBuffer(data.nbytes), PinnedBuffer(data.nbytes), \
        DeviceBuffer(data.nbytes)
    try:
        host_in.array(np.float32, data.shape)[...] = data
        copy_to_device(device, host_in, data.nbytes, stream)
        copy_to_host(host_out, device, data.nbytes, stream)
        stream.synchronize()
        np.testing.assert_array_equal(host_out.array(np.float32, data.shape), data)
    finally:
        for resource in (device, host_out, host_in, stream):
            resource.free()


def test_captured_graph_of_copies_replays_with_new_data():
    _cuda_gpu()
    from vgg_deploy.trt.cuda_memory import CudaGraph, DeviceBuffer, PinnedBuffer, Stream, copy_to_device, copy_to_host

    n = 1024
    stream, host_in, host_out, device = Stream(), PinnedBuffer(4 * n), PinnedBuffer(4 * n), DeviceBuffer(4 * n)
    graph = CudaGraph(stream)
    try:
        graph.begin()
        copy_to_device(device, host_in, 4 * n, stream)
        copy_to_host(host_out, device, 4 * n, stream)
        graph.end()
        for value in (1.5, -2.0, 7.25):  # the graph reads the pinned buffer at replay time
            host_in.array(np.float32, (n,))[...] = value
            graph.launch()
            stream.synchronize()
            assert np.all(host_out.array(np.float32, (n,)) == value)
    finally:
        graph.free()
        for resource in (device, host_out, host_in, stream):
            resource.free()


# -- TensorRT engines --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trt_gpu():
    """Skips before anything is exported when TensorRT or a GPU is missing."""
    return _tensorrt_gpu()


@pytest.fixture(scope="module")
def tiny_onnx(trt_gpu, tmp_path_factory):
    from vgg_deploy.export import export_onnx
    from vgg_deploy.models import create_model

    torch.manual_seed(0)
    model = create_model("vgg_tiny")
    with torch.no_grad():  # non-zero biases, so a lost bias would show
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                module.bias.uniform_(-0.1, 0.1)
    return export_onnx(model, tmp_path_factory.mktemp("gpu") / "tiny.onnx").path


def _build(onnx_path, plan, **options):
    from vgg_deploy.trt import current_platform, plan_build, run_build
    from vgg_deploy.trt.handoff import ConversionSettings

    settings = ConversionSettings(calib_data="synthetic", calib_method="minmax", calib_samples=64, calib_batch=16)
    build = plan_build(onnx_path, plan, settings=settings, **options)
    return run_build(build, platform=current_platform(), timing_cache=plan.parent / "timing.cache")


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.min(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))


@pytest.mark.parametrize("precision, min_cosine", [("fp32", 0.99999), ("fp16", 0.999), ("int8", 0.99)])
def test_engine_matches_onnx_runtime(tiny_onnx, tmp_path, precision, min_cosine):
    import vgg_deploy
    from vgg_deploy.precision import onnx_logits

    plan = tmp_path / f"tiny.{precision}.plan"
    report = _build(tiny_onnx, plan, precision=precision)
    # The reference is the graph TensorRT built: the fp32 export, or the FP16 / Q/DQ ONNX made from it.
    reference_onnx = report.converted_onnx or tiny_onnx
    images = np.random.default_rng(1).standard_normal((13, 3, 32, 32), dtype=np.float32)
    reference = onnx_logits(reference_onnx, images)
    with vgg_deploy.load(plan) as runner:
        assert runner.name == f"trt-{precision}" and runner.batch_range == (1, 32)
        logits = runner.infer_all(images, batch_size=5)  # batches of 5, 5 and 3: dynamic shapes
    assert np.isfinite(logits).all() and _cosine(logits, reference) >= min_cosine
    if precision == "fp32":  # TF32 is off: IEEE fp32 agrees closely
        np.testing.assert_allclose(logits, reference, atol=1e-4 * max(1.0, float(np.abs(reference).max())))
    if precision == "int8":
        assert report.manifest.layers["compute"].get("int8", 0) >= 1


def test_cuda_graphs_give_the_same_logits(tiny_onnx, tmp_path):
    from vgg_deploy.trt import TensorRTRunner

    plan = tmp_path / "tiny.plan"
    _build(tiny_onnx, plan)
    images = np.random.default_rng(2).standard_normal((4, 3, 32, 32), dtype=np.float32)
    with TensorRTRunner(plan) as plain, TensorRTRunner(plan, cuda_graphs=True) as graphed:
        expected = plain.infer(images)
        for _ in range(3):  # capture once, then replay
            np.testing.assert_array_equal(graphed.infer(images), expected)


def test_manifest_mismatch_is_refused_on_a_real_gpu(trt_gpu, tiny_onnx, tmp_path):
    gpu = trt_gpu
    import vgg_deploy
    from vgg_deploy.trt import EngineCompatibilityError, read_manifest, write_manifest

    plan = tmp_path / "tiny.plan"
    _build(tiny_onnx, plan)
    other = "7.5" if gpu.compute_capability != "7.5" else "8.0"
    write_manifest(dataclasses.replace(read_manifest(plan), compute_capability=other, gpu_name="Another GPU"), plan)
    with pytest.raises(EngineCompatibilityError, match=f"compute capability {gpu.compute_capability}"):
        vgg_deploy.load(plan)
