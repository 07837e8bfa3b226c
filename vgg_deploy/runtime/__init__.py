"""Runners: one activate / infer / deactivate interface for every backend, chosen by `load(path)`.

Importing this package imports neither torch nor onnxruntime; a runner imports its backend when activated.
"""

from .base import BaseRunner, ClassScore, Prediction, RunnerError
from .load import load
from .onnxruntime_runner import OnnxRuntimeRunner
from .openvino_runner import OpenVINORunner
from .torch_runner import TorchRunner

__all__ = ["load", "BaseRunner", "OnnxRuntimeRunner", "OpenVINORunner", "TorchRunner", "Prediction", "ClassScore", "RunnerError"]
