"""Is TensorRT usable here, on which GPU, and a logger that keeps TensorRT's messages for our error lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import first_line
from ..formats import TENSORRT_INSTALL_HINT
from .compat import Platform
from .cuda_memory import require_gpu
from .errors import OptionError, TensorRTUnavailableError
from .options import check_tensorrt_version

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = ["ensure_tensorrt", "current_platform", "make_logger"]


def ensure_tensorrt() -> str:
    """TensorRT's version, or TensorRTUnavailableError (one line: what is missing and how to install it).

    Callers then `import tensorrt as trt` themselves, so the module they use is typed for mypy.
    """
    try:
        import tensorrt as trt
    except ImportError:
        raise TensorRTUnavailableError(f"TensorRT is not installed: {TENSORRT_INSTALL_HINT}") from None
    except Exception as exc:  # the wheel is there but its libraries (libnvinfer, CUDA) fail to load
        reason = first_line(exc, limit=200, default='')
        raise TensorRTUnavailableError(
            f"TensorRT is installed but cannot be loaded ({type(exc).__name__}: {reason}): {TENSORRT_INSTALL_HINT}"
        ) from None
    version = getattr(trt, "__version__", None)
    if not isinstance(version, str) or not hasattr(trt, "Builder"):
        # e.g. only `tensorrt-stubs` is installed: its stub-only `tensorrt` folder imports as an empty namespace
        raise TensorRTUnavailableError(f"TensorRT is not installed (an empty 'tensorrt' package was found, e.g. "
                                       f"type stubs): {TENSORRT_INSTALL_HINT}")
    try:
        check_tensorrt_version(version)
    except OptionError as exc:
        raise TensorRTUnavailableError(str(exc)) from None
    return version


def current_platform(device: int = 0) -> Platform:
    """This machine's TensorRT version and GPU; TensorRTUnavailableError when either is missing."""
    version = ensure_tensorrt()
    gpu = require_gpu(device)
    return Platform(tensorrt_version=version, gpu_name=gpu.name, compute_capability=gpu.compute_capability,
                    cuda_version=gpu.cuda_version, driver_version=gpu.driver_version)


def make_logger(sink: list[tuple[str, str]], *, echo_errors: bool = False) -> trt.ILogger:
    """A TensorRT logger that appends (severity, message) of warnings and errors to `sink`."""
    import tensorrt as trt

    keep = {trt.ILogger.Severity.INTERNAL_ERROR: "internal error", trt.ILogger.Severity.ERROR: "error",
            trt.ILogger.Severity.WARNING: "warning"}

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)  # TensorRT's docs: subclasses must call the base __init__ explicitly

        def log(self, severity: trt.ILogger.Severity, msg: str) -> None:
            label = keep.get(severity)
            if label is not None:
                sink.append((label, msg))
                if echo_errors and label != "warning":
                    import sys

                    print(f"[TensorRT] {msg}", file=sys.stderr)

    return _Logger()
