"""vgg-deploy: VGG from PyTorch to ONNX, FP16/INT8 and TensorRT, with measured results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .models import create_model, list_models, model_config
from .version import __version__

__all__ = ["__version__", "list_models", "model_config", "create_model", "export_onnx", "load"]

if TYPE_CHECKING:
    from .export import export_onnx
    from .runtime import load


def __getattr__(name: str) -> Any:
    # The exporter imports torch and onnx: keep `import vgg_deploy` cheap until it is used.
    if name == "export_onnx":
        from .export import export_onnx

        return export_onnx
    if name == "load":  # the runners import their backends only when activated
        from .runtime import load

        return load
    raise AttributeError(f"module 'vgg_deploy' has no attribute {name!r}")
