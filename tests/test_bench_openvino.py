"""OpenVINORunner: our ONNX (fp32 and Q/DQ int8) read directly; "fp32" really computes in f32, "bf16" in bf16."""

from __future__ import annotations

import numpy as np
import pytest

from vgg_deploy.export import export_onnx
from vgg_deploy.models import create_model
from vgg_deploy.precision import CalibrationRequest, ConversionInputs, ConversionRequest, convert, onnx_logits
from vgg_deploy.runtime import OpenVINORunner, RunnerError

ov = pytest.importorskip("openvino", reason="OpenVINO not installed: pip install 'vgg-deploy[openvino]'")


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ov")
    fp32 = export_onnx(create_model("vgg_tiny"), folder / "tiny.onnx").path
    images = np.random.default_rng(0).standard_normal((48, 3, 32, 32), dtype=np.float32)
    request = ConversionRequest(precision="int8", target="cpu", calibration=CalibrationRequest(method="minmax"))
    int8 = convert(fp32, folder / "tiny.int8.onnx", request,
                   ConversionInputs(holdout=images[32:], holdout_note="16 synthetic", calibration=images[:32])).path
    return fp32, int8, images[32:]


def _has_bf16() -> bool:
    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def test_fp32_hint_really_runs_f32(tiny_onnx):
    fp32, _, images = tiny_onnx
    with OpenVINORunner(fp32, precision="fp32", threads=1) as runner:
        logits = runner.infer(images)
        ran = runner.runtime_precisions()
        assert runner.name == "ov-fp32" and runner.batch_range == (1, None) and runner.config.name == "vgg_tiny"
        assert runner.infer(images[:3]).shape == (3, 10)  # dynamic batch
    assert ran["fp32"] == 7 and set(ran) == {"fp32", "layers"}  # 4 convolutions + 3 fully connected, none in bf16
    reference = onnx_logits(fp32, images)
    assert np.abs(logits - reference).max() <= 1e-4 * max(1.0, np.abs(reference).max())


@pytest.mark.skipif(not _has_bf16(), reason="this CPU has no bf16 instructions")
def test_bf16_hint_runs_bf16_and_changes_the_numbers(tiny_onnx):
    fp32, _, images = tiny_onnx
    with OpenVINORunner(fp32, precision="bf16") as runner:
        logits = runner.infer(images)
        ran = runner.runtime_precisions()
        assert runner.name == "ov-fp32-bf16"
    assert ran["bf16"] == 7 and "fp32" not in ran
    reference = onnx_logits(fp32, images)
    assert 0 < np.abs(logits - reference).max() < 0.05 * max(1.0, np.abs(reference).max())


def test_qdq_int8_onnx_runs_in_int8(tiny_onnx):
    fp32, int8, images = tiny_onnx
    with OpenVINORunner(int8) as runner:
        logits = runner.infer(images)
        ran = runner.runtime_precisions()
        assert runner.name == "ov-int8"
    assert ran["int8"] >= 4 and any(key.startswith("Convolution u8") for key in ran["layers"])
    reference = onnx_logits(fp32, images)
    cosine = (logits * reference).sum(1) / np.linalg.norm(logits, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() > 0.99


def test_runner_contract(tiny_onnx, tmp_path):
    fp32, _, images = tiny_onnx
    runner = OpenVINORunner(fp32)
    with pytest.raises(RunnerError, match="not active"):
        runner.infer(images)
    with pytest.raises(RunnerError, match="precision must be one of fp32, bf16"):
        OpenVINORunner(fp32, precision="int4")
    with pytest.raises(RunnerError, match="no such ONNX file"):
        OpenVINORunner(tmp_path / "missing.onnx").activate()
    with runner:
        with pytest.raises(RunnerError, match="float32"):
            runner.infer(images.astype(np.float64))
    assert not runner.is_active and runner.name == "ov"
