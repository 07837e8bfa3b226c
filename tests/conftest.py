from __future__ import annotations

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
