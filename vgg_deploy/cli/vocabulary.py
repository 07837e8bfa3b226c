"""The CLI's vocabulary: what each option name means in every command, and what each command reads.

tests/test_cli_vocabulary.py walks the click commands and checks them against these tables, so one name keeps one
meaning. A new command adds one row to COMMANDS (and a row to TERMS for each option name nobody used before);
a new option with an existing name must mean what TERMS says.
"""

from __future__ import annotations

from dataclasses import dataclass

import click

from .params import Device, IntList

__all__ = ["Term", "CommandRow", "TERMS", "COMMANDS", "RETIRED"]


@dataclass(frozen=True)
class Term:
    """One option name: what it means; the shared type its values must have (None: any); its one-letter form;
    `shared` names the params.py decorator that must declare it ("conversion": conversion_options, "calibration":
    calibration_options, which conversion_options includes)."""

    meaning: str
    type: type[click.ParamType] | None = None
    short: str | None = None
    shared: str | None = None


@dataclass(frozen=True)
class CommandRow:
    """What a command reads: `model` is "one" (positional MODEL), "many" (MODEL... or [MODEL]...) or None (it
    reads no model file); `conversion` says it takes the shared calibration/parity/gate options, `calibration`
    only the calibration ones (params.calibration_options: no gates)."""

    model: str | None
    conversion: bool = False
    calibration: bool = False


# Old option names that must not come back with a visible option (they live on as hidden deprecated aliases).
RETIRED = ("--onnx", "--out", "--batch", "--kind", "--preferred-batch")

_CONVERSION, _CALIBRATION = "conversion", "calibration"

TERMS: dict[str, Term] = {
    # where results go, what is read
    "--output": Term("where results go: the file or folder written", short="-o"),
    "--json": Term("print the result as JSON on stdout"),
    "--model": Term("a registered model name (architecture), e.g. vgg16"),
    "--models": Term("registered model names (a comma list), e.g. vgg16,alexnet"),
    "--bn": Term("also the batch-norm twins (_bn) of the VGGs given"),
    "--weights": Term("a checkpoint file or 'imagenet' for --model (zoo: a folder of them, one per model)"),
    "--name": Term("the model's name on a Triton server / in a repository"),
    "--labels": Term("a text file, one class label per line"),
    "--artifacts": Term("a folder of model files to compare"),
    "--data": Term("evaluation inputs: folder, .npy/.npz, digits or synthetic"),
    "--work": Term("folder for intermediate artifacts and logs"),
    "--from-report": Term("a bench report.json to take settings from"),
    # batches and devices
    "--batch-size": Term("images per inference call (one number)", type=click.IntRange),
    "--batch-sizes": Term("batch sizes to measure (a comma list)", type=IntList),
    "--fixed-batch": Term("a fixed batch size baked into an export"),
    "--profile": Term("TensorRT optimization profile MIN:OPT:MAX"),
    "--max-batch": Term("largest batch a server's dynamic batcher forms"),
    "--preferred-batch-sizes": Term("batch sizes a server's dynamic batcher prefers (a comma list)", type=IntList),
    "--device": Term("where it runs: cpu, cuda or cuda:N", type=Device),
    "--backend": Term("one runner, by the bench's backend names (ort, ov, trt...)"),
    "--backends": Term("runners to measure, by the bench's backend names or groups"),
    "--threads": Term("CPU threads per runner"),
    # model shape (export)
    "--input-size": Term("input H or HxW"),
    "--num-classes": Term("classifier outputs"),
    "--in-channels": Term("input channels"),
    "--width-divisor": Term("divide every block's channels by this"),
    "--classifier-width": Term("width of the hidden classifier layers"),
    "--classifier-input": Term("avgpool or flatten before the classifier"),
    "--opset": Term("ONNX opset"),
    # precision and calibration (one declaration: params.conversion_options)
    "--precision": Term("fp32, fp16 or int8"),
    "--target": Term("int8 scheme: tensorrt or cpu"),
    "--keep-io-types": Term("fp16: keep fp32 inputs and outputs"),
    "--calib-data": Term("calibration images", shared=_CALIBRATION),
    "--quantizer": Term("int8 quantizer: ort (ONNX Runtime) or modelopt (NVIDIA ModelOpt)", shared=_CALIBRATION),
    "--calib-method": Term("int8 calibration method", shared=_CALIBRATION),
    "--calib-samples": Term("calibration images used", shared=_CALIBRATION),
    "--calib-batch": Term("calibration batch size", shared=_CALIBRATION),
    "--min-top1-agreement": Term("gate: minimum held-out top-1 agreement with fp32", shared=_CONVERSION),
    "--min-cosine": Term("gate: minimum held-out cosine similarity with fp32", shared=_CONVERSION),
    "--fallback": Term("int8 below a gate: keep the most damaging layers out of INT8 (auto) or not (off)",
                       shared=_CONVERSION),
    "--max-fallback-layers": Term("--fallback auto: most layers kept out of INT8", shared=_CONVERSION),
    "--qdq": Term("an existing Q/DQ INT8 model made from MODEL"),
    "--seed": Term("seed of everything random the command does"),
    # TensorRT builds
    "--workspace": Term("builder workspace limit"),
    "--opt-level": Term("builder optimization level"),
    "--timing-cache": Term("TensorRT timing cache file"),
    "--hardware-compat": Term("engine hardware compatibility"),
    "--version-compatible": Term("engine runs on later TensorRT releases"),
    "--embed-lean-runtime": Term("keep the lean runtime in the plan"),
    "--force": Term("redo even when a cached result matches"),
    # inference, measuring
    "--top-k": Term("classes shown per image"),
    "--duration": Term("timed time per measurement"),
    "--iterations": Term("timed calls per measurement"),
    "--warmup": Term("untimed calls or requests first"),
    "--eval-samples": Term("evaluation inputs used"),
    "--include-copies": Term("time host/device copies too"),
    "--cuda-graphs": Term("replay CUDA graphs"),
    "--latency-budget-ms": Term("p99 latency budget in milliseconds"),
    "--in-process": Term("run every backend in this process"),
    "--no-peak": Term("skip the machine-peak calibration"),
    # serving
    "--host": Term("address a server binds to"),
    "--http-port": Term("HTTP port"),
    "--grpc-port": Term("gRPC port"),
    "--metrics-port": Term("Prometheus metrics port"),
    "--metrics-url": Term("a server's Prometheus metrics URL"),
    "--max-queue-delay-us": Term("how long a dynamic batcher may hold a request"),
    "--instances": Term("model instances serving in parallel"),
    "--tensorrt-accelerator": Term("ONNX Runtime's TensorRT accelerator in Triton, at this precision"),
    "--concurrency": Term("clients sending at the same time"),
    "--requests": Term("timed requests in all"),
    "--protocol": Term("http or grpc"),
    "--timeout": Term("seconds the whole run may take"),
    # data
    "--limit": Term("write only the first N"),
}

COMMANDS: dict[str, CommandRow] = {
    "export": CommandRow(model=None),
    "quantize": CommandRow(model="one", conversion=True),
    "sensitivity": CommandRow(model="one", calibration=True),
    "build-trt": CommandRow(model="one", conversion=True),
    "infer": CommandRow(model="one"),
    "bench": CommandRow(model="many", conversion=True),
    "zoo": CommandRow(model=None, conversion=True),
    "report": CommandRow(model=None),
    "triton-repo": CommandRow(model="many"),
    "serve": CommandRow(model="one"),
    "loadtest": CommandRow(model=None),
    "digits": CommandRow(model=None),
    "info": CommandRow(model=None),
}
