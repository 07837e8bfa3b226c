"""Real data, no download: a small VGG trained on scikit-learn's digits keeps its accuracy through FP16 and INT8."""

from __future__ import annotations

import numpy as np
import pytest

from vgg_deploy.data import load_samples
from vgg_deploy.export import export_onnx
from vgg_deploy.models import create_model
from vgg_deploy.precision import convert_precision, onnx_logits
from vgg_deploy.train import accuracy, train_classifier

pytest.importorskip("sklearn", reason="the digits data set comes with scikit-learn (extra: demo)")


@pytest.fixture(scope="module")
def digits_fp32(tmp_path_factory):
    model = create_model("vgg_digits")
    samples = load_samples("digits", model.config, show_progress=False)
    order = np.random.default_rng(0).permutation(len(samples))
    train, test = samples.subset(order[:1437]), samples.subset(order[1437:])  # 80/20, seeded
    train_classifier(model, train.images, train.labels, seed=0)
    path = export_onnx(model, tmp_path_factory.mktemp("digits") / "digits.onnx", weights="trained on digits").path
    return path, train, test


@pytest.mark.parametrize("precision, target", [("int8", "tensorrt"), ("int8", "cpu"), ("fp16", None)])
def test_accuracy_holds_through_conversion(digits_fp32, tmp_path, precision, target):
    path, train, test = digits_fp32
    fp32_accuracy = accuracy(onnx_logits(path, test.images), test.labels)
    assert fp32_accuracy > 0.9  # the model really learned (chance is 0.1)
    calib = train.subset(np.arange(128))  # calibration from the training split: never the test images
    result = convert_precision(
        path, tmp_path / f"digits.{precision}.onnx", precision=precision, holdout=test.images,
        holdout_note="the 360 test images", calibration=calib.images if precision == "int8" else None,
        calibration_source="digits train split", target=target or "tensorrt", method="percentile",
    )
    converted_accuracy = accuracy(onnx_logits(result.path, test.images), test.labels)
    assert abs(converted_accuracy - fp32_accuracy) <= 0.01, (precision, target, fp32_accuracy, converted_accuracy)
    assert result.parity.top1_agreement >= 0.98 and result.parity.samples == 360
