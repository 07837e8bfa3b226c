"""PyTorch eager (or torch.compile) inference: the reference every other backend is measured against."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import VGGDeployError, first_line
from .base import BaseRunner, RunnerError, TimedCall

if TYPE_CHECKING:
    from torch import nn

__all__ = ["TorchRunner", "TORCH_DTYPES"]

TORCH_DTYPES = ("fp32", "bf16", "fp16")


class TorchRunner(BaseRunner):
    """Runs a VGG module, or a checkpoint built into one, in fp32/bf16/fp16 on CPU or CUDA.

    The weights are converted once at activation (on a copy: the caller's module is never changed); each
    batch is converted to the runner's dtype and the logits come back as float32 numpy. fp16 is allowed on
    CPU too: torch runs it there (slowly), which is still useful as a numerics reference.
    A checkpoint does not record the input size: pass `input_size` when it is not the model's default.
    On CUDA, fp32 is IEEE fp32 (TF32 off for matmuls and convolutions) unless `tf32=True`.
    """

    def __init__(
        self,
        model_or_checkpoint: nn.Module | str | os.PathLike[str],
        *,
        model_name: str | None = None,
        input_size: tuple[int, int] | None = None,
        device: str = "cpu",
        dtype: str = "fp32",
        channels_last: bool = False,
        compile: bool = False,
        threads: int | None = None,
        tf32: bool = False,
    ) -> None:
        if dtype not in TORCH_DTYPES:
            raise RunnerError(f"dtype must be one of {', '.join(TORCH_DTYPES)}, got {dtype!r}")
        if threads is not None and threads < 1:
            raise RunnerError(f"threads must be >= 1, got {threads}")
        self._source = model_or_checkpoint
        self._is_path = isinstance(model_or_checkpoint, (str, os.PathLike))
        if not self._is_path and (model_name is not None or input_size is not None):
            raise RunnerError("model_name and input_size apply to a checkpoint path, not to a built model")
        self._model_name = model_name
        self._model_input_size = input_size
        self._device_name = device
        self._dtype_name = dtype
        self._channels_last = channels_last
        self._compile = compile
        self._threads = threads
        if tf32 and (dtype != "fp32" or not device.startswith("cuda")):
            raise RunnerError(f"tf32 applies to fp32 on CUDA only, not to {dtype} on {device}")
        self._tf32 = tf32
        self._model: Any = None
        self._torch_dtype: Any = None
        self._device: Any = None
        self._saved_threads: int | None = None
        device_tag = "" if device == "cpu" else f"-{device.replace(':', '')}"
        dtype_tag = "-tf32" if tf32 else "" if dtype == "fp32" else f"-{dtype}"
        super().__init__(
            f"torch{device_tag}{dtype_tag}{'-cl' if channels_last else ''}{'-compile' if compile else ''}"
        )

    def _activate_impl(self) -> None:
        import copy

        import torch

        device = self._resolve_device(torch)
        model: Any = self._build_model() if self._is_path else self._source
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
            raise RunnerError(
                f"{self.name}: expected a vgg_deploy model (create_model) or a checkpoint path, got {type(model).__name__}"
            )
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self._dtype_name]
        first = next(model.parameters())
        if not self._is_path and (model.training or first.dtype != dtype or first.device != device
                                      or self._channels_last):
            model = copy.deepcopy(model)  # eval(), .to() and channels_last act in place: keep the caller's model
        model = model.eval().to(device=device, dtype=dtype)
        if self._channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self._threads is not None:
            self._saved_threads = torch.get_num_threads()
            torch.set_num_threads(self._threads)
        config = model.config
        self._config = config
        self._input_shape = (config.in_channels, *config.input_size)
        self._batch_range = (1, None)
        self._device, self._torch_dtype = device, dtype
        self._model = torch.compile(model) if self._compile else model
        if self._compile:
            self._warm_up_compiled(torch)

    def _resolve_device(self, torch: Any) -> Any:
        try:
            device = torch.device(self._device_name)
        except RuntimeError:
            raise RunnerError(f"{self.name}: unknown device {self._device_name!r}; use cpu, cuda or cuda:N") from None
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise RunnerError(
                    f"{self.name}: device {self._device_name!r} asked for, but CUDA is not available to torch "
                    f"{torch.__version__} on this machine; use device='cpu'"
                )
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise RunnerError(
                    f"{self.name}: no {device}; this machine has {torch.cuda.device_count()} CUDA device(s)"
                )
        return device

    def _build_model(self) -> nn.Module:
        from ..models import create_model, list_models
        from ..models.checkpoint import read_state_dict
        from ..models.registry import describe_checkpoint, recognise_checkpoint
        from ..models.saved import checkpoint_config

        path = Path(self._source)
        name = self._model_name
        saved = checkpoint_config(path)
        if name is None and saved is not None:
            name = saved.name  # a vgg-deploy .safetensors checkpoint says what it is
        if name is None:
            state = read_state_dict(path)
            name = recognise_checkpoint(state)
            if name is None:
                found = describe_checkpoint(state) or "not a VGG in torchvision's layout, nor another registered family's"
                raise RunnerError(
                    f"{path}: cannot tell which model this checkpoint is ({found}); pass --model NAME "
                    f"(model_name= in Python; one of: {', '.join(list_models())})"
                )
            try:
                return create_model(name, input_size=self._model_input_size, weights=str(path))
            except VGGDeployError as exc:
                raise RunnerError(
                    f"{exc} (the model was recognised as {name} from its layers; pass --model NAME if it is another)"
                ) from None
        return create_model(name, input_size=self._model_input_size, weights=str(path))

    def _warm_up_compiled(self, torch: Any) -> None:
        # Compile now, so a missing compiler fails activation with the reason, not the first measured call.
        example = torch.zeros((1, *self._input_shape), device=self._device, dtype=self._torch_dtype)  # type: ignore[misc]
        try:
            self._run(example)
        except Exception as exc:
            self._deactivate_impl()
            reason = first_line(exc, default='')
            raise RunnerError(
                f"{self.name}: torch.compile failed ({type(exc).__name__}: {reason}); run without compile=True"
            ) from None

    def _infer_impl(self, batch: np.ndarray) -> np.ndarray:
        import torch

        # from_numpy shares memory and warns on read-only arrays (e.g. np.broadcast_to): copy only those.
        x = torch.from_numpy(batch if batch.flags.writeable else batch.copy()).to(device=self._device, dtype=self._torch_dtype)
        return self._run(x).float().cpu().numpy()

    def _run(self, x: Any) -> Any:
        import torch

        if self._channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self._device.type != "cuda":
            with torch.inference_mode():
                return self._model(x)
        from .cuda_math import fp32_math

        # IEEE fp32 unless tf32 was asked for: cuDNN's convolutions would otherwise default to TF32.
        with fp32_math(torch, tf32=self._tf32), torch.inference_mode():
            out = self._model(x)
        torch.cuda.synchronize(self._device)
        return out

    def timed_call(self, batch: np.ndarray, *, include_copies: bool = True, cuda_graphs: bool = False) -> TimedCall:
        """On CUDA: the batch converted to the runner's dtype (and channels_last) once, so the timed call skips
        infer()'s numpy round trip; with include_copies each call copies it from pinned memory and the logits
        back. cuda_graphs captures the forward once and replays it. On the CPU: infer() itself."""
        if self._device is None or self._device.type != "cuda":
            return super().timed_call(batch)
        import torch

        self._check_batch(batch)
        device, dtype = self._device, self._torch_dtype
        host = torch.from_numpy(batch)
        if include_copies:
            host = host.pin_memory()
        static_in = host.to(device=device, dtype=dtype)
        if self._channels_last:  # converted once here, so _run's contiguous() is a no-op in the timed call
            static_in = static_in.contiguous(memory_format=torch.channels_last)
        if not cuda_graphs:
            if include_copies:
                def call() -> Any:
                    x = host.to(device=device, dtype=dtype, non_blocking=True)
                    return self._run(x).float().cpu()  # _run synchronizes
                return TimedCall(call=call, copies_included=True)
            return TimedCall(call=lambda: self._run(static_in), copies_included=False)
        graph, static_out = self._capture(torch, static_in)

        def replay() -> Any:
            if include_copies:
                static_in.copy_(host.to(dtype=dtype), non_blocking=True)
            graph.replay()
            out = static_out.float().cpu() if include_copies else static_out
            torch.cuda.synchronize(device)
            return out
        return TimedCall(call=replay, copies_included=include_copies, cuda_graphs=True, notes=("CUDA graph replay",))

    def _capture(self, torch: Any, static_in: Any) -> tuple[Any, Any]:
        """Capture the module's forward on a static input (warm-up on a side stream first, as torch's docs do)."""
        model = self._model
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode():
            with torch.cuda.stream(stream):
                for _ in range(3):
                    model(static_in)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = model(static_in)
        torch.cuda.synchronize()
        return graph, static_out

    def _deactivate_impl(self) -> None:
        import torch

        on_cuda = self._device is not None and self._device.type == "cuda"
        self._model, self._device, self._torch_dtype = None, None, None
        if self._saved_threads is not None:
            torch.set_num_threads(self._saved_threads)
            self._saved_threads = None
        if on_cuda:
            torch.cuda.empty_cache()
