"""The PyTorch CUDA paths against the CPU fp32 reference; each test skips with the reason without a CUDA GPU.

Run on a GPU machine with `python -m pytest -m gpu` (scripts/gpu_check.sh does).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vgg_deploy.export import compare_logits
from vgg_deploy.models import create_model
from vgg_deploy.runtime import TorchRunner

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"),
]


@pytest.fixture(scope="module")
def model_and_reference():
    torch.manual_seed(0)
    # Wide enough (64..256 channels, K up to 2304) that TF32's 10-bit mantissa shows against IEEE fp32.
    model = create_model("vgg11", width_divisor=2, classifier_width=256, num_classes=10, input_size=(64, 64))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                module.bias.uniform_(-0.1, 0.1)
    batch = np.random.default_rng(0).standard_normal((4, 3, 64, 64), dtype=np.float32)
    with TorchRunner(model) as cpu:
        reference = cpu.infer(batch)
    return model, batch, reference


@pytest.mark.parametrize("channels_last", [False, True])
def test_fp32_on_cuda_is_ieee(model_and_reference, channels_last):
    model, batch, reference = model_and_reference
    with TorchRunner(model, device="cuda", channels_last=channels_last) as runner:
        parity = compare_logits(reference, runner.infer(batch))  # fp32 tolerance: fails if TF32 were on
    assert parity.passed, parity.summary()


@pytest.mark.parametrize("channels_last", [False, True])
def test_tf32_is_close_but_its_own_mode(model_and_reference, channels_last):
    model, batch, reference = model_and_reference
    with TorchRunner(model, device="cuda", tf32=True, channels_last=channels_last) as runner:
        assert runner.name.startswith("torch-cuda-tf32")
        parity = compare_logits(reference, runner.infer(batch), max_rel_diff=None, min_cosine=0.999)
    assert parity.passed, parity.summary()


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_half_precisions(model_and_reference, dtype, channels_last):
    model, batch, reference = model_and_reference
    with TorchRunner(model, device="cuda", dtype=dtype, channels_last=channels_last) as runner:
        parity = compare_logits(reference, runner.infer(batch), max_rel_diff=None, min_cosine=0.99)
    assert parity.passed and parity.nonfinite == 0, parity.summary()


def test_compiled_on_cuda(model_and_reference):
    model, batch, reference = model_and_reference
    with TorchRunner(model, device="cuda", compile=True) as runner:
        parity = compare_logits(reference, runner.infer(batch))
    assert parity.passed, parity.summary()


def test_cuda_graph_replay_matches(model_and_reference):
    from vgg_deploy.runtime.cuda_math import fp32_math

    model, batch, reference = model_and_reference
    with TorchRunner(model, device="cuda") as runner, fp32_math(torch, tf32=False):
        timed = runner.timed_call(batch, include_copies=True, cuda_graphs=True)
        first, second = timed.call().numpy(), timed.call().numpy()
    assert timed.copies_included is True and timed.cuda_graphs and "CUDA graph replay" in timed.notes
    assert np.array_equal(first, second)
    assert compare_logits(reference, first).passed
