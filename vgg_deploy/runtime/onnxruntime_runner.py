"""ONNX Runtime inference on any of its execution providers (CPU by default)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence, Union

import numpy as np

from ..errors import first_line
from .base import BaseRunner, RunnerError, TimedCall

__all__ = ["OnnxRuntimeRunner"]

Provider = Union[str, tuple[str, dict[str, Any]]]


class OnnxRuntimeRunner(BaseRunner):
    """An ONNX file in an onnxruntime.InferenceSession.

    Config, precision and batch range come from the file: its vgg-deploy metadata and its input's first
    dimension (symbolic = any batch, a number = that batch only). A file without vgg-deploy metadata still
    runs infer(); its `config` and `precision` are None and predict() refuses. The name ("ort-fp32",
    "ort-cuda-fp16") gets its precision at activation.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        providers: Sequence[Provider] | None = None,
        threads: int | None = None,
        options: Any = None,  # an onnxruntime.SessionOptions; `threads` is set on it when given
    ) -> None:
        if threads is not None and threads < 1:
            raise RunnerError(f"threads must be >= 1, got {threads}")
        self.path = Path(path)
        self.providers = list(providers) if providers is not None else ["CPUExecutionProvider"]
        if not self.providers:
            raise RunnerError("providers must name at least one ONNX Runtime execution provider")
        self.threads = threads
        self.options = options
        self.precision: str | None = None
        self._session: Any = None
        self._io: tuple[str, str, bool] | None = None  # input name, output name, input is float16
        first = _provider_name(self.providers[0])
        self._prefix = "ort" if first == "CPUExecutionProvider" else f"ort-{_short(first)}"
        super().__init__(self._prefix)

    def _activate_impl(self) -> None:
        import onnxruntime as ort

        available = ort.get_available_providers()
        missing = [name for name in map(_provider_name, self.providers) if name not in available]
        if missing:
            raise RunnerError(
                f"{self.name}: execution provider {', '.join(missing)} not available in onnxruntime {ort.__version__}; "
                f"available: {', '.join(available)}"
            )
        if not self.path.is_file():
            raise RunnerError(f"{self.path}: no such ONNX file")
        options = self.options if self.options is not None else ort.SessionOptions()
        if self.options is None:
            options.log_severity_level = 3  # errors only: ORT's warnings would fill the CLI's output
        if self.threads is not None:
            options.intra_op_num_threads = self.threads
        try:
            session = ort.InferenceSession(str(self.path), options, providers=self.providers)
        except Exception as exc:  # a corrupt file, an unsupported op or opset: the user's artifact
            reason = first_line(exc, default='')
            raise RunnerError(f"{self.path}: ONNX Runtime cannot load it as a model ({type(exc).__name__}: {reason})") from None
        wanted = _provider_name(self.providers[0])
        if wanted not in session.get_providers():  # ORT falls back to CPU silently, e.g. when CUDA libraries are missing
            raise RunnerError(f"{self.name}: {wanted} did not start (session runs on {', '.join(session.get_providers())})")
        self._read_facts(session)
        self._session = session

    def _read_facts(self, session: Any) -> None:
        from ..export.metadata import config_from_metadata, read_metadata

        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1 or len(inputs[0].shape) != 4:
            raise RunnerError(f"{self.path}: expected one (N, C, H, W) input, got {[(i.name, i.shape) for i in inputs]}")
        # The session already holds the metadata: reading it with onnx would parse the weights a second time.
        facts = read_metadata(session.get_modelmeta().custom_metadata_map)
        self._config = config_from_metadata(facts, source=str(self.path)) if "architecture" in facts else None
        self.precision = facts.get("precision") if self._config is not None else None
        batch, *chw = inputs[0].shape
        if all(isinstance(d, int) for d in chw):
            self._input_shape = tuple(chw)
        elif self._config is not None:
            self._input_shape = (self._config.in_channels, *self._config.input_size)
        else:
            raise RunnerError(f"{self.path}: input shape {inputs[0].shape} has no fixed (C, H, W) and no vgg-deploy metadata")
        self._batch_range = (batch, batch) if isinstance(batch, int) and batch > 0 else (1, None)
        self._io = (inputs[0].name, outputs[0].name, inputs[0].type == "tensor(float16)")
        self._name = f"{self._prefix}-{self.precision}" if self.precision else self._prefix

    @property
    def session(self) -> Any:
        """The ONNX Runtime InferenceSession while active (None before), for callers that inspect or time it
        directly (benchmarks/harness_overhead.py compares the harness with a bare session loop)."""
        return self._session

    def _infer_impl(self, batch: np.ndarray) -> np.ndarray:
        input_name, output_name, half = self._io  # type: ignore[misc]
        feed = batch.astype(np.float16) if half else np.ascontiguousarray(batch)
        (logits,) = self._session.run([output_name], {input_name: feed})
        return logits if logits.dtype == np.float32 else logits.astype(np.float32)

    def timed_call(self, batch: np.ndarray, *, include_copies: bool = True, cuda_graphs: bool = False) -> TimedCall:
        """On the CUDA provider without include_copies: the input bound on the GPU and the output left there
        (IOBinding), so no copies are timed. Otherwise infer() itself (copies included on a GPU provider)."""
        first = _provider_name(self.providers[0])
        on_cuda = first == "CUDAExecutionProvider" or first == "TensorrtExecutionProvider"
        if not on_cuda:
            return super().timed_call(batch)
        if include_copies:
            return TimedCall(call=super().timed_call(batch).call, copies_included=True)
        return TimedCall(call=self._bound_call(batch), copies_included=False)

    def _bound_call(self, batch: np.ndarray) -> Callable[[], None]:
        import onnxruntime as ort

        self._require_active("timed_call()")
        self._check_batch(batch)
        options = self.providers[0][1] if not isinstance(self.providers[0], str) else {}
        index = int(options.get("device_id", 0))
        input_name, output_name, half = self._io  # type: ignore[misc]
        feed = batch.astype(np.float16) if half else batch
        on_device = ort.OrtValue.ortvalue_from_numpy(feed, "cuda", index)
        session = self._session
        binding = session.io_binding()
        binding.bind_ortvalue_input(input_name, on_device)
        binding.bind_output(output_name, "cuda", index)

        def call() -> None:
            session.run_with_iobinding(binding)
            binding.synchronize_outputs()
        return call

    def _deactivate_impl(self) -> None:
        self._session, self._io, self.precision = None, None, None
        self._name = self._prefix


def _provider_name(provider: Provider) -> str:
    return provider if isinstance(provider, str) else provider[0]


def _short(provider: str) -> str:
    return provider.removesuffix("ExecutionProvider").lower()
