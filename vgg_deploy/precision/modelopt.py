"""INT8 Q/DQ ONNX from NVIDIA Model Optimizer (`nvidia-modelopt`, `modelopt.onnx.quantization`), on the CPU.

An optional second quantizer beside ONNX Runtime's (`--quantizer modelopt`), for the TensorRT scheme only.
It is installed without ModelOpt's own [onnx] extra (which pins onnx/onnxruntime-gpu versions whose CPU fp16
QuantizeLinear rounds wrongly, and cupy): `pip install "vgg-deploy[modelopt]"` brings ModelOpt and the ONNX
pieces it imports, against this project's onnx and onnxruntime.

What this wrapper handles, measured with ModelOpt 0.47 on the digits VGGs:
- it raises opsets below 19 to 19 and writes `<model>_opset19.onnx` next to its input: it works on a copy in
  a scratch folder beside the output, so the user's folder stays clean;
- it drops the model's metadata_props: convert() writes ours onto its output afterwards;
- with a dynamic batch it calibrates at batch 1 and then leaves every Gemm high as a "GEMV": the calibration
  shape (the calibration batch) is passed explicitly;
- without dq_only it keeps the weights in float with a Q->DQ pair (the file stays fp32-sized): weights are
  written as int8 initializers with a DQ (dq_only), as ONNX Runtime's quantizer writes them;
- it patches ONNX Runtime's quantizer classes in place (calibrators, QDQQuantizer) for good, which breaks
  ONNX Runtime's own quantize_static later in the same process: the patched attributes are put back;
- by default it converts what it leaves unquantized to fp16: high_precision_dtype="fp32" keeps those layers in
  fp32, like ONNX Runtime's quantizer, so the two quantizers differ only in their INT8 decisions.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ..artifacts import scratch_folder
from ..errors import MissingDependencyError
from ..log import quiet_libraries
from ..optional import installed_version
from .int8 import QUANTIZER_METHODS, QuantizeError

if TYPE_CHECKING:
    from .request import CalibrationRequest

__all__ = ["quantize_modelopt", "require_modelopt", "MODELOPT_INSTALL"]

MODELOPT_INSTALL = 'pip install "vgg-deploy[modelopt]"'

log = logging.getLogger(__name__)


def require_modelopt() -> Any:
    """`modelopt.onnx.quantization.quantize`, or one line saying how to install it."""
    import importlib

    try:
        module = importlib.import_module("modelopt.onnx.quantization")  # untyped: imported by name
    except ImportError as exc:
        raise MissingDependencyError(
            f"--quantizer modelopt needs NVIDIA Model Optimizer and its ONNX pieces: {MODELOPT_INSTALL} "
            f"(installs nvidia-modelopt==0.47.* without its [onnx] extra)  [{exc}]"
        ) from None
    return module.quantize


@contextlib.contextmanager
def _ort_quantizer_restored() -> Iterator[None]:
    """Put back what ModelOpt replaces in onnxruntime.quantization: the methods its patch_ort_modules swaps, and
    the op registries it edits in place (it deletes Relu's entry, so ONNX Runtime's own CPU scheme would keep
    Conv->Q/DQ->Relu instead of folding the Relu into the Q)."""
    from onnxruntime.quantization import base_quantizer, calibrate, qdq_quantizer, registry

    patched: list[Any] = [calibrate, calibrate.CalibraterBase, calibrate.MinMaxCalibrater,
                          calibrate.HistogramCalibrater, calibrate.HistogramCollector, qdq_quantizer.QDQQuantizer,
                          base_quantizer.BaseQuantizer]
    saved = [(obj, dict(vars(obj))) for obj in patched]
    tables = [(table, dict(table)) for name, table in vars(registry).items()
              if isinstance(table, dict) and not name.startswith("_")]
    try:
        yield
    finally:
        for table, contents in tables:
            table.clear()
            table.update(contents)
        for obj, before in saved:
            for name in [n for n in vars(obj) if n not in before]:
                delattr(obj, name)
            for name, value in before.items():
                if vars(obj).get(name) is not value:
                    setattr(obj, name, value)


def quantize_modelopt(
    onnx_path: str | Path,
    output: str | Path,
    images: np.ndarray,
    *,
    calibration: CalibrationRequest | None = None,
    fixed_batch: int | None = None,
    input_name: str = "input",
) -> dict[str, Any]:
    """Calibrate with ModelOpt on `images` (CPU) as `calibration` asks (its method and batch; default: entropy,
    16) and write its Q/DQ model to `output`; returns the facts."""
    import onnx

    method = (calibration.method if calibration is not None else None) or QUANTIZER_METHODS["modelopt"][0]
    if method not in QUANTIZER_METHODS["modelopt"]:
        raise QuantizeError(f"unknown ModelOpt calibration method {method!r}; choose "
                            f"{' or '.join(QUANTIZER_METHODS['modelopt'])}")
    quantize = require_modelopt()
    batch = fixed_batch or (calibration.batch if calibration is not None else 16)
    usable = len(images) - len(images) % batch  # ModelOpt splits the data into batches of the calibration shape
    if usable < 1:
        raise QuantizeError(f"need at least {batch} calibration images for calibration batch {batch}, "
                            f"got {len(images)}: lower --calib-batch")
    source_opset = next((o.version for o in onnx.load(str(onnx_path), load_external_data=False).opset_import
                         if o.domain in ("", "ai.onnx")), None)
    shape = "x".join(str(d) for d in (batch, *images.shape[1:]))
    log.info("calibrating with NVIDIA ModelOpt %s (%s, %d images in batches of %d, CPU)",
             installed_version("nvidia-modelopt"), method, usable, batch)
    with scratch_folder(output, name="modelopt") as tmp:
        copy = tmp / "model.onnx"  # ModelOpt writes model_opset19.onnx next to its input: keep it here
        shutil.copyfile(onnx_path, copy)
        result = tmp / "model.int8.onnx"
        _run_quiet(quantize, copy, result, images[:usable], method=method, shape=f"{input_name}:{shape}",
                   input_name=input_name)
        if not result.is_file():
            raise QuantizeError(f"{onnx_path}: ModelOpt wrote no quantized model")
        shutil.move(str(result), output)
    facts: dict[str, Any] = {
        "quantizer": "modelopt", "modelopt_version": installed_version("nvidia-modelopt"),
        "calibration_method": method, "calibration_samples": usable, "calibration_batch": batch,
        "int8_target": "tensorrt", "activation_type": "int8", "activation_symmetric": True, "reduce_range": False,
        "int8_scheme_note": "TensorRT scheme by NVIDIA ModelOpt: signed symmetric int8, int8 weights (DQ only)",
    }
    if source_opset is not None and source_opset < 19:
        facts.update(opset=19, opset_raised=f"{source_opset} -> 19 (ModelOpt's minimum for INT8 Q/DQ)")
    return facts


def _run_quiet(quantize: Any, model: Path, result: Path, images: np.ndarray, *, method: str, shape: str,
               input_name: str) -> None:
    """ModelOpt's quantize, silenced: it logs each step, an NVML "error" without a GPU, and progress bars
    (stderr) while calibrating."""
    previous = logging.root.manager.disable
    try:
        with quiet_libraries(), contextlib.redirect_stderr(io.StringIO()), _ort_quantizer_restored():
            logging.disable(logging.ERROR)
            quantize(
                str(model), quantize_mode="int8",
                calibration_data={input_name: np.ascontiguousarray(images, dtype=np.float32)},
                calibration_method=method, calibration_eps=["cpu"], calibration_shapes=shape,
                dq_only=True, high_precision_dtype="fp32", output_path=str(result), log_level="ERROR",
            )
    finally:
        logging.disable(previous)
