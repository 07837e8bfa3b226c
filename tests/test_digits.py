"""Real data, no download: a small VGG trained on scikit-learn's digits keeps its accuracy through FP16 and INT8."""

from __future__ import annotations

import numpy as np
import pytest

from vgg_deploy.precision import CalibrationRequest, ConversionInputs, ConversionRequest, convert, onnx_logits
from vgg_deploy.train import accuracy

pytest.importorskip("sklearn", reason="the digits data set comes with scikit-learn (extra: demo)")


@pytest.fixture(scope="module")
def digits_fp32(trained_digits):
    return trained_digits.onnx, trained_digits.train, trained_digits.test


@pytest.mark.parametrize("precision, target", [("int8", "tensorrt"), ("int8", "cpu"), ("fp16", None)])
def test_accuracy_holds_through_conversion(digits_fp32, tmp_path, precision, target):
    path, train, test = digits_fp32
    fp32_accuracy = accuracy(onnx_logits(path, test.images), test.labels)
    assert fp32_accuracy > 0.9  # the model really learned (chance is 0.1)
    calib = train.subset(np.arange(128))  # calibration from the training split: never the test images
    request = ConversionRequest(precision=precision, target=target or "tensorrt",
                                calibration=CalibrationRequest(data="digits train split", method="percentile"))
    result = convert(path, tmp_path / f"digits.{precision}.onnx", request, ConversionInputs(
        holdout=test.images, holdout_note="the 360 test images",
        calibration=calib.images if precision == "int8" else None))
    converted_accuracy = accuracy(onnx_logits(result.path, test.images), test.labels)
    assert abs(converted_accuracy - fp32_accuracy) <= 0.01, (precision, target, fp32_accuracy, converted_accuracy)
    assert result.parity.top1_agreement >= 0.98 and result.parity.samples == 360
