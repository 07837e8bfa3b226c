"""Runner classes for custom bench backends in the tests, named by "bench_custom_backends:Class" so a fresh worker
process imports them (the tests put this folder on the workers' PYTHONPATH)."""

from __future__ import annotations

import numpy as np

from vgg_deploy.runtime import BaseRunner, OnnxRuntimeRunner


class NaNRunner(BaseRunner):
    """A backend whose outputs are NaN (a broken kernel, an fp16 overflow): it must be failed, not fast."""

    def __init__(self, spec: dict) -> None:
        super().__init__("nan")

    def _activate_impl(self) -> None:
        self._input_shape, self._batch_range = (3, 32, 32), (1, None)

    def _infer_impl(self, batch: np.ndarray) -> np.ndarray:
        return np.full((len(batch), 10), np.nan, dtype=np.float32)

    def _deactivate_impl(self) -> None:
        pass


class OrtWithOneThread(OnnxRuntimeRunner):
    """ONNX Runtime on the spec's fp32 ONNX, one thread: a user's own backend, computing real logits."""

    def __init__(self, spec: dict) -> None:
        super().__init__(spec["artifact"], threads=1)
