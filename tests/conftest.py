from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vgg_deploy.models import create_model


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return create_model("vgg_tiny")


def small_standard(name: str, **options):
    """A standard variant at 1/8 width with a narrow classifier: same layout and key names, tiny files."""
    return create_model(name, width_divisor=8, classifier_width=32, num_classes=10, **options)


@dataclass(frozen=True)
class TrainedDigits:
    """vgg_digits trained on scikit-learn's digits (80/20 split, seeded): the module, its checkpoint and fp32 ONNX."""

    model: Any
    onnx: Path
    checkpoint: Path
    train: Any  # Samples
    test: Any


@pytest.fixture(scope="session")
def trained_digits(tmp_path_factory) -> TrainedDigits:
    """Trained once per session (a few seconds alone): the accuracy tests and the TensorRT flows share it.
    Tests copy the files before changing anything next to them."""
    pytest.importorskip("sklearn", reason="the digits data set comes with scikit-learn (extra: demo)")
    from vgg_deploy.data import load_samples
    from vgg_deploy.export import export_onnx
    from vgg_deploy.train import train_classifier

    model = create_model("vgg_digits")
    samples = load_samples("digits", model.config, show_progress=False)
    order = np.random.default_rng(0).permutation(len(samples))
    train, test = samples.subset(order[:1437]), samples.subset(order[1437:])
    train_classifier(model, train.images, train.labels, seed=0)
    folder = tmp_path_factory.mktemp("trained-digits")
    onnx = export_onnx(model, folder / "digits.onnx", weights="trained on digits").path
    checkpoint = folder / "vgg_digits.pth"
    torch.save(model.state_dict(), checkpoint)
    return TrainedDigits(model=model, onnx=onnx, checkpoint=checkpoint, train=train, test=test)


def tiny_with_biases(bound: float = 0.1):
    """vgg_tiny (seed 0) with uniform(-bound, bound) biases: the exporter drops all-zero ones (torchvision's init)."""
    torch.manual_seed(0)
    model = create_model("vgg_tiny")
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                module.bias.uniform_(-bound, bound)
    return model
