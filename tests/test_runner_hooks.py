"""The runners' public timing hook (`timed_call`): what the bench times, without reaching into a runner."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vgg_deploy.bench.calls import timed_call
from vgg_deploy.export import export_onnx
from vgg_deploy.models import create_model
from vgg_deploy.runtime import BaseRunner, OnnxRuntimeRunner, RunnerError, TorchRunner
from vgg_deploy.runtime.base import TimedCall


@pytest.fixture(scope="module")
def tiny():
    return create_model("vgg_tiny")


@pytest.fixture(scope="module")
def batch(tiny):
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, tiny.config.in_channels, *tiny.config.input_size), dtype=np.float32)


def test_default_hook_times_infer_on_host_arrays(tiny, batch):
    with TorchRunner(tiny) as runner:
        timed = runner.timed_call(batch, include_copies=False, cuda_graphs=True)
        assert isinstance(timed, TimedCall)
        assert timed.copies_included is None and not timed.cuda_graphs and timed.notes == ()
        assert np.array_equal(timed.call(), runner.infer(batch))


def test_hook_needs_an_active_runner_and_a_valid_batch(tiny, batch):
    runner = TorchRunner(tiny)
    with pytest.raises(RunnerError, match="not active"):
        runner.timed_call(batch)
    with runner:
        with pytest.raises(RunnerError, match="float32"):
            runner.timed_call(batch.astype(np.float64))


def test_onnxruntime_cpu_hook_is_infer(tiny, batch, tmp_path):
    path = export_onnx(tiny, tmp_path / "tiny.onnx", verify=False).path
    with OnnxRuntimeRunner(path) as runner:
        timed = runner.timed_call(batch, include_copies=False)
        assert timed.copies_included is None
        assert np.allclose(timed.call(), runner.infer(batch))


class _GpuRunner(BaseRunner):
    """A runner that says nothing about copies: on a GPU the bench counts them as included."""

    def __init__(self) -> None:
        super().__init__("fake-gpu")

    def _activate_impl(self) -> None:
        self._input_shape, self._batch_range = (1, 4, 4), (1, None)

    def _infer_impl(self, batch: np.ndarray) -> np.ndarray:
        return np.zeros((len(batch), 3), np.float32)

    def _deactivate_impl(self) -> None:
        pass


def test_bench_words_for_a_runner_that_copies():
    batch = np.zeros((1, 1, 4, 4), np.float32)
    gpu = SimpleNamespace(name="custom-gpu", family="custom", runs_on=lambda device: "cuda:0")
    cpu = SimpleNamespace(name="custom", family="custom", runs_on=lambda device: "cpu")
    with _GpuRunner() as runner:
        call, copies, notes = timed_call(runner, gpu, batch, {"device": "cuda", "cuda_graphs": True})
        assert copies is True and call().shape == (1, 3)
        assert notes == ["--cuda-graphs is not supported by custom-gpu",
                         "custom-gpu: its runner copies host<->device on every call; copies are included"]
        _, copies, notes = timed_call(runner, cpu, batch, {"device": "cpu", "cuda_graphs": True})
        assert copies is None and notes == ["--cuda-graphs does not apply on the CPU"]
