"""config.pbtxt: written as text, then parsed with Triton's own model-config protobuf and checked against the
model file, so a repository we write is one Triton accepts and whose tensors match the model."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from ..formats import FORMATS, formats_named
from .facts import ServedModel, ServeError

__all__ = ["TritonModelConfig", "render_config", "parse_config", "check_config", "model_config_pb2", "LABELS_FILE",
           "PLATFORM_BY_FORMAT", "MODEL_FILE_BY_FORMAT"]

LABELS_FILE = "labels.txt"
# From the table of formats, by file type: Triton's platform and the model's file name in a version folder.
PLATFORM_BY_FORMAT = {row.name: row.triton_platform for row in FORMATS if row.triton_platform is not None}
MODEL_FILE_BY_FORMAT = {row.name: row.repository_file for row in FORMATS if row.triton_platform is not None}
ACCELERATOR_PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class TritonModelConfig:
    """The choices behind one config.pbtxt (the model's own facts come from its ServedModel)."""

    name: str
    max_batch: int = 32
    preferred_batch: tuple[int, ...] = (8, 16)
    max_queue_delay_us: int = 2000
    instances: int = 1
    kind: str = "gpu"  # "gpu" or "cpu"
    labels: bool = False  # write label_filename (labels.txt next to config.pbtxt)
    tensorrt_accelerator: str | None = None  # ONNX only: TensorRT execution accelerator precision


def render_config(model: ServedModel, config: TritonModelConfig) -> str:
    """The config.pbtxt text for `model`; ServeError when the choices do not fit the model."""
    check_choices(model, config)
    label = f'\n    label_filename: "{LABELS_FILE}"' if config.labels else ""
    lines = [
        f'name: "{config.name}"',
        f'platform: "{PLATFORM_BY_FORMAT[model.format]}"',
        f"max_batch_size: {config.max_batch}",
        "input [",
        "  {",
        f'    name: "{model.input_name}"',
        f"    data_type: {model.input_dtype}",
        f"    dims: [ {', '.join(map(str, model.input_dims))} ]",
        "  }",
        "]",
        "output [",
        "  {",
        f'    name: "{model.output_name}"',
        f"    data_type: {model.output_dtype}",
        f"    dims: [ {', '.join(map(str, model.output_dims))} ]{label}",
        "  }",
        "]",
        "dynamic_batching {",
    ]
    if config.preferred_batch:
        lines.append(f"  preferred_batch_size: [ {', '.join(map(str, config.preferred_batch))} ]")
    lines += [f"  max_queue_delay_microseconds: {config.max_queue_delay_us}", "}",
              "instance_group [", "  {", f"    count: {config.instances}",
              f"    kind: KIND_{config.kind.upper()}", "  }", "]"]
    if config.tensorrt_accelerator:
        lines += [
            "optimization {", "  execution_accelerators {", "    gpu_execution_accelerator : [ {",
            '      name : "tensorrt"',
            f'      parameters {{ key: "precision_mode" value: "{config.tensorrt_accelerator.upper()}" }}',
            '      parameters { key: "max_workspace_size_bytes" value: "1073741824" }',
            "    } ]", "  }", "}",
        ]
    return "\n".join(lines) + "\n"


def check_choices(model: ServedModel, config: TritonModelConfig) -> None:
    """Refuse, with the reason, a configuration the model cannot serve."""
    where = f"{model.path}"
    if not config.name or any(c in config.name for c in '/\\"') or config.name.startswith("."):
        raise ServeError(f"{config.name!r} is not a usable model name (no slashes, quotes or leading dot)")
    if config.max_batch < 1:
        raise ServeError(f"--max-batch must be >= 1 for Triton's dynamic batcher, got {config.max_batch}")
    low, high = model.batch_range
    if model.format == "plan":
        if low > 1:
            raise ServeError(f"{where}: the engine's optimization profile starts at batch {low} "
                             f"(profile {low}..{high}), but Triton sends batches from 1; rebuild it with "
                             "`vgg-deploy build-trt --profile 1:OPT:MAX`")
        if high is not None and config.max_batch > high:
            raise ServeError(f"{where}: --max-batch {config.max_batch} is beyond the engine's optimization profile "
                             f"(batch {low}..{high}, from its manifest); use --max-batch {high} or less, or "
                             f"rebuild the engine with a larger MAX (`vgg-deploy build-trt --profile 1:OPT:{config.max_batch}`)")
        if config.kind != "gpu" and formats_named(model.format)[0].device == "cuda":
            raise ServeError(f"{where}: a TensorRT engine runs only on a GPU; use --device cuda")
        if config.tensorrt_accelerator:
            raise ServeError(f"{where}: the TensorRT accelerator is for ONNX models; an engine already is TensorRT")
    elif high is not None:
        raise ServeError(f"{where}: the ONNX has a fixed batch of {high}, but Triton's dynamic batcher sends any "
                         "batch up to max_batch_size; export it with `vgg-deploy export` without --fixed-batch")
    bad = [b for b in config.preferred_batch if not 1 <= b <= config.max_batch]
    if bad:
        raise ServeError(f"preferred batch size(s) {', '.join(map(str, bad))} outside 1..--max-batch {config.max_batch}")
    if config.max_queue_delay_us < 0 or config.instances < 1:
        raise ServeError("--max-queue-delay-us must be >= 0 and --instances >= 1")
    if config.kind not in ("gpu", "cpu"):
        raise ServeError(f"the instance kind must be gpu or cpu, got {config.kind!r}")
    if config.tensorrt_accelerator:
        if config.tensorrt_accelerator not in ACCELERATOR_PRECISIONS:
            raise ServeError(f"TensorRT accelerator precision must be one of {', '.join(ACCELERATOR_PRECISIONS)}")
        if config.kind != "gpu":
            raise ServeError("the TensorRT execution accelerator needs --device cuda")


def model_config_pb2() -> Any:
    """Triton's model-config protobuf module from tritonclient.

    tritonclient.grpc's package imports grpcio (whose tritonclient extra pins protobuf < 7); the generated
    model_config_pb2 itself needs only protobuf, so it is loaded from its file when the package import fails.
    """
    try:
        from tritonclient.grpc import model_config_pb2 as module

        return module
    except (ImportError, RuntimeError):
        pass
    spec = importlib.util.find_spec("tritonclient")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = f"{folder}/grpc/model_config_pb2.py"
        file_spec = importlib.util.spec_from_file_location("_vgg_deploy_triton_model_config_pb2", path)
        if file_spec is None or file_spec.loader is None:
            continue
        try:
            module = importlib.util.module_from_spec(file_spec)
            file_spec.loader.exec_module(module)
            return module
        except (OSError, ImportError):
            continue
    from ..errors import MissingDependencyError

    raise MissingDependencyError(
        "tritonclient is not installed (needed to validate config.pbtxt with Triton's model-config protobuf): "
        'pip install "vgg-deploy[serve]" or pip install tritonclient'
    )


def parse_config(text: str, *, source: str = "config.pbtxt") -> Any:
    """Parse config.pbtxt text into Triton's ModelConfig message; ServeError naming the problem if it does not parse."""
    from google.protobuf import text_format

    pb2 = model_config_pb2()
    try:
        return text_format.Parse(text, pb2.ModelConfig())
    except text_format.ParseError as exc:
        raise ServeError(f"{source}: not a valid Triton model configuration ({exc})") from None


def check_config(message: Any, model: ServedModel, *, source: str = "config.pbtxt") -> None:
    """Check a parsed ModelConfig's tensors and batch size against the model file's facts."""
    pb2 = model_config_pb2()
    problems = []
    if message.platform != PLATFORM_BY_FORMAT[model.format]:
        problems.append(f"platform {message.platform!r} is not {PLATFORM_BY_FORMAT[model.format]!r}")
    for kind, tensors, name, dtype, dims in (("input", message.input, model.input_name, model.input_dtype, model.input_dims),
                                             ("output", message.output, model.output_name, model.output_dtype, model.output_dims)):
        if len(tensors) != 1:
            problems.append(f"{len(tensors)} {kind}s, the model has 1")
            continue
        tensor = tensors[0]
        if tensor.name != name:
            problems.append(f"{kind} {tensor.name!r} is {name!r} in the model")
        if pb2.DataType.Name(tensor.data_type) != dtype:
            problems.append(f"{kind} {tensor.name} data type {pb2.DataType.Name(tensor.data_type)} is {dtype} in the model")
        if tuple(tensor.dims) != tuple(dims):
            problems.append(f"{kind} {tensor.name} dims {list(tensor.dims)} are {list(dims)} in the model")
    high = model.batch_range[1]
    if high is not None and message.max_batch_size > high:
        problems.append(f"max_batch_size {message.max_batch_size} exceeds the model's batch limit {high}")
    if problems:
        raise ServeError(f"{source} does not match {model.path}: " + "; ".join(problems))
