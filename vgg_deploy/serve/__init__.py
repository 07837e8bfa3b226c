"""Scale-out: Triton Inference Server model repositories, a local Triton through PyTriton, and a load test.

Importing this package imports none of tritonclient, pytriton or onnxruntime; each function imports what it needs.
"""

from .facts import ServedModel, served_model
from .repository import RepositoryModel, write_repository
from .triton_config import TritonModelConfig, parse_config, render_config

__all__ = [
    "ServedModel", "served_model", "TritonModelConfig", "render_config", "parse_config",
    "RepositoryModel", "write_repository",
]
