"""The call that is timed, per backend: host arrays in and out, or (on a GPU, without --include-copies) inputs
already on the device, so the figure is the model's time and not PCIe's. Every GPU call synchronizes before it
returns, so the wall-clock time covers the work and not just its launch.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .backends import Backend

__all__ = ["timed_call"]

Call = Callable[[], Any]


def timed_call(runner: Any, backend: Backend, batch: np.ndarray,
               spec: dict[str, Any]) -> tuple[Call, bool | None, list[str]]:
    """(call, host<->device copies included? (None on the CPU), notes) for one active runner and batch."""
    device = str(spec["device"])
    on_cuda = backend.runs_on(device).startswith("cuda")
    include = bool(spec.get("include_copies"))
    graphs = bool(spec.get("cuda_graphs"))
    notes: list[str] = []
    if not on_cuda:
        if graphs:
            notes.append("--cuda-graphs does not apply on the CPU")
        return (lambda: runner.infer(batch)), None, notes
    if backend.family == "torch":
        return _torch_cuda_call(runner, batch, include=include, graphs=graphs, notes=notes)
    if backend.family == "ort" and not include:
        return _ort_bound_call(runner, batch, device), False, notes
    if graphs and backend.family != "trt":
        notes.append(f"--cuda-graphs is not supported by {backend.name}")
    if not include:
        notes.append(f"{backend.name}: its runner copies host<->device on every call; copies are included")
    return (lambda: runner.infer(batch)), True, notes


def _torch_cuda_call(runner: Any, batch: np.ndarray, *, include: bool, graphs: bool,
                     notes: list[str]) -> tuple[Call, bool, list[str]]:
    import torch

    # TorchRunner keeps its module, device and dtype in attributes the harness reads here: the timed call
    # must skip infer()'s numpy round trip when copies are excluded.
    device, dtype = runner._device, runner._torch_dtype
    host = torch.from_numpy(batch)
    if include:
        host = host.pin_memory()
    static_in = host.to(device=device, dtype=dtype)
    if runner._channels_last:  # converted once here, so _run's contiguous() is a no-op in the timed call
        static_in = static_in.contiguous(memory_format=torch.channels_last)
    if not graphs:
        if include:
            def call() -> Any:
                x = host.to(device=device, dtype=dtype, non_blocking=True)
                return runner._run(x).float().cpu()  # _run synchronizes
            return call, True, notes
        return (lambda: runner._run(static_in)), False, notes
    graph, static_out = _capture(torch, runner, static_in)
    notes.append("CUDA graph replay")

    def replay() -> Any:
        if include:
            static_in.copy_(host.to(dtype=dtype), non_blocking=True)
        graph.replay()
        out = static_out.float().cpu() if include else static_out
        torch.cuda.synchronize(device)
        return out
    return replay, include, notes


def _capture(torch: Any, runner: Any, static_in: Any) -> tuple[Any, Any]:
    """Capture the module's forward on a static input (warm-up on a side stream first, as torch's docs do)."""
    model = runner._model
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


def _ort_bound_call(runner: Any, batch: np.ndarray, device: str) -> Call:
    """ONNX Runtime with the input bound on the GPU and the output left there (IOBinding): no copies timed."""
    import onnxruntime as ort

    index = int(device.split(":")[1]) if ":" in device else 0
    session = runner._session  # OnnxRuntimeRunner's session: IOBinding needs it
    input_name, output_name, half = runner._io
    feed = batch.astype(np.float16) if half else batch
    on_device = ort.OrtValue.ortvalue_from_numpy(feed, "cuda", index)
    binding = session.io_binding()
    binding.bind_ortvalue_input(input_name, on_device)
    binding.bind_output(output_name, "cuda", index)

    def call() -> None:
        session.run_with_iobinding(binding)
        binding.synchronize_outputs()
    return call
