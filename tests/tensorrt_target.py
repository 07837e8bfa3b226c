"""Which TensorRT the flow tests run on: the real one with a GPU when it imports, else the stand-in.

`pytest -m trt` on a machine with TensorRT, cuda-python and an NVIDIA GPU runs the same flows on the real thing (an
acceptance test from a clone); everywhere else they run on tests/fake_tensorrt.py, installed in this process
(sys.modules) and, through tests/standin/sitecustomize.py, in every subprocess the flows start (bench workers, the
CLI, serve). vgg_deploy itself never knows which one it got.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_tensorrt import ENV, FakeGpu, environment_value, install_fakes

STANDIN_PATH = Path(__file__).resolve().parent / "standin"


def real_tensorrt_reason() -> str | None:
    """None when real TensorRT, cuda-python and a GPU are usable here; else why not."""
    try:
        import tensorrt

        from vgg_deploy.trt.cuda_memory import require_gpu
    except Exception as exc:  # ImportError, or a wheel whose libraries do not load
        return f"TensorRT not importable ({type(exc).__name__})"
    if getattr(tensorrt, "__stand_in__", False):
        return "the stand-in is installed"
    if not hasattr(tensorrt, "Builder"):
        return "only an empty 'tensorrt' package (type stubs)"
    try:
        require_gpu(0)
    except Exception as exc:
        return f"no usable GPU ({exc})"
    return None


@dataclass
class Target:
    """The TensorRT a flow runs on. `gpu` is the stand-in's state in this process (None on real TensorRT)."""

    real: bool
    gpu: FakeGpu | None
    device_count: int

    @property
    def name(self) -> str:
        return "real TensorRT" if self.real else "stand-in"


def use_target(monkeypatch: Any, tmp_path: Path, *, device_count: int = 1) -> Target:
    """Real TensorRT when usable, else the stand-in here and in subprocesses; timing caches under `tmp_path`."""
    from vgg_deploy.bench import availability

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # the default timing cache goes there
    availability.trt_status.cache_clear()  # the bench caches whether TensorRT imports: ask again (forget_target after)
    if real_tensorrt_reason() is None:
        from cuda.bindings import runtime

        return Target(real=True, gpu=None, device_count=int(runtime.cudaGetDeviceCount()[1]))
    gpu = install_fakes(monkeypatch, gpu=FakeGpu(device_count=device_count))
    monkeypatch.setenv(ENV, environment_value(gpu))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(STANDIN_PATH), os.environ.get("PYTHONPATH"))
                                                     if p))
    return Target(real=False, gpu=gpu, device_count=device_count)


def forget_target() -> None:
    """After a test on the stand-in: the bench must not remember that TensorRT imported."""
    from vgg_deploy.bench import availability

    availability.trt_status.cache_clear()
