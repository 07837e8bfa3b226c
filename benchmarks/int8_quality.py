"""INT8 quality on a deep trained VGG: every quantizer x scheme x calibration method, per-layer sensitivity, and an
accuracy-targeted (fallback) run at a gate plain INT8 misses. Not a CI test: results go under benchmarks/results/.

    python scripts/train_digits.py --model vgg11 --input-size 64 --width-divisor 4 --epochs 12 \\
        -o out/deep/vgg11_digits64.pth --export out/deep/vgg11_digits64.onnx --test-npz out/deep/test.npz
    flock /tmp/vggd-bench.lock python benchmarks/int8_quality.py out/deep/vgg11_digits64.onnx \\
        --test-npz out/deep/test.npz -o benchmarks/results/cpu-2core-epyc-avx512vnni/int8_quality

Calibration: --calib-samples images of the digits TRAINING split (the same seeded 80/20 split as
scripts/train_digits.py), so the test images (--test-npz) are never calibrated on; every figure is on those.
Speed: ONNX Runtime and OpenVINO on the CPU, median img/s over --iterations calls after warm-up, with the ratio to
fp32 on the same runtime in the same run. CPU runtimes do not show TensorRT's Q/DQ fusions: the TensorRT-scheme
rows measure accuracy; their CPU speed is only what ONNX Runtime / OpenVINO make of that graph.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = [("ort", "tensorrt", m) for m in ("minmax", "percentile", "entropy")] + \
    [("ort", "cpu", m) for m in ("minmax", "percentile", "entropy")] + \
    [("modelopt", "tensorrt", m) for m in ("max", "entropy")]


def _speed(make: Callable[[], Any], batch: np.ndarray, *, warmup: int, iterations: int) -> float:
    """Median img/s of runner.infer(batch)."""
    with make() as runner:
        for _ in range(warmup):
            runner.infer(batch)
        times = []
        for _ in range(iterations):
            start = time.perf_counter()
            runner.infer(batch)
            times.append(time.perf_counter() - start)
    return len(batch) / statistics.median(times)


def _qdq_counts(path: Path) -> tuple[int, int]:
    import onnx

    ops = [n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node]
    return ops.count("QuantizeLinear"), ops.count("DequantizeLinear")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="the trained fp32 ONNX (scripts/train_digits.py --export)")
    parser.add_argument("--test-npz", type=Path, required=True, help="its held-out test set (input, labels)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="results folder")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "int8-quality")
    parser.add_argument("--calib-samples", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--max-fallback-layers", type=int, default=4)
    args = parser.parse_args()

    import onnx

    from vgg_deploy.data import load_samples
    from vgg_deploy.environment import environment_facts
    from vgg_deploy.errors import ParityError
    from vgg_deploy.export import config_from_metadata, read_metadata
    from vgg_deploy.export.parity import compare_logits
    from vgg_deploy.log import configure_cli_logging
    from vgg_deploy.optional import installed_version
    from vgg_deploy.precision import (
        CalibrationRequest, ConversionInputs, ConversionRequest, FallbackPolicy, ParityGates, convert, onnx_logits,
    )
    from vgg_deploy.precision.layers import high_precision_for
    from vgg_deploy.precision.sensitivity import draw_sensitivity_chart, layer_sensitivity
    from vgg_deploy.runtime import OnnxRuntimeRunner
    from vgg_deploy.runtime.openvino_runner import OpenVINORunner

    log = lambda m: print(f"[int8-quality] {m}", file=sys.stderr, flush=True)  # noqa: E731
    configure_cli_logging(prefix="int8-quality")  # the library's own progress lines, as the CLI shows them
    args.work.mkdir(parents=True, exist_ok=True)
    args.output.mkdir(parents=True, exist_ok=True)
    config = config_from_metadata(read_metadata(args.model), source=str(args.model))
    samples = load_samples("digits", config, show_progress=False)
    order = np.random.default_rng(0).permutation(len(samples))  # scripts/train_digits.py's split (seed 0)
    train = samples.subset(order[:int(len(samples) * 0.8)])
    calib = train.images[np.random.default_rng(1).permutation(len(train))[:args.calib_samples]]
    test = np.load(args.test_npz)
    images, labels = test["input"].astype(np.float32), test["labels"]
    note = f"{len(images)} test digits never trained or calibrated on"
    inputs = ConversionInputs(holdout=images, holdout_note=note, calibration=calib)
    reference = onnx_logits(args.model, images)
    fp32_accuracy = float((reference.argmax(1) == labels).mean())
    batch = images[:args.batch]

    def speeds(path: Path) -> dict[str, float]:
        return {"ort": _speed(lambda: OnnxRuntimeRunner(path), batch, warmup=args.warmup, iterations=args.iterations),
                "openvino": _speed(lambda: OpenVINORunner(path), batch, warmup=args.warmup,
                                   iterations=args.iterations)}

    def measure(name: str, path: Path, facts: dict[str, Any], seconds: float | None) -> dict[str, Any]:
        logits = onnx_logits(path, images)
        parity = compare_logits(reference, logits, max_rel_diff=None, min_cosine=None)
        q, dq = _qdq_counts(path)
        row = {"variant": name, **facts, "accuracy": float((logits.argmax(1) == labels).mean()),
               "top1_agreement": parity.top1_agreement, "min_cosine": parity.cosine,
               "max_abs_diff": parity.max_abs_diff, "quantize": q, "dequantize": dq,
               "size_mb": path.stat().st_size / 1e6, "convert_s": seconds, "img_per_s": speeds(path)}
        log(f"{name}: accuracy {row['accuracy']:.2%}, top-1 agreement {parity.top1_agreement:.2%}, "
            f"min cosine {parity.cosine:.5f}, Q/DQ {q}/{dq}, {row['size_mb']:.1f} MB, {row['img_per_s']}")
        return row

    rows = [measure("fp32", args.model, {"quantizer": None, "target": None, "method": None}, None)]
    made: dict[tuple[str, str, str], Path] = {}
    for quantizer, target, method in VARIANTS:
        name = f"{quantizer}-{target}-{method}"
        path = args.work / f"{name}.onnx"
        log(f"quantizing {name}")
        start = time.perf_counter()
        calibration = CalibrationRequest(data="digits (training split)", method=method, quantizer=quantizer)
        convert(args.model, path, ConversionRequest(precision="int8", target=target, calibration=calibration), inputs)
        made[(quantizer, target, method)] = path
        rows.append(measure(name, path, {"quantizer": quantizer, "target": target, "method": method},
                            time.perf_counter() - start))
    for row in rows:
        row["vs_fp32"] = {rt: row["img_per_s"][rt] / rows[0]["img_per_s"][rt] for rt in row["img_per_s"]}

    # per-layer sensitivity of the default TensorRT-scheme INT8, with labels: one calibration, reused
    base_key = ("ort", "tensorrt", "percentile")
    log("per-layer sensitivity of ort-tensorrt-percentile")
    report = layer_sensitivity(onnx.load(str(made[base_key])), onnx.load(str(args.model)), images, labels=labels,
                               high_precision=high_precision_for("tensorrt"), model_name=args.model.name,
                               holdout_note=note)
    (args.output / "sensitivity.md").write_text(report.to_markdown())
    (args.output / "sensitivity.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    chart_note = draw_sensitivity_chart(report, args.output / "sensitivity.png")

    # accuracy-targeted: a cosine gate halfway between plain INT8's and 1 (plain INT8 misses it by construction)
    base = next(r for r in rows if r["variant"] == "ort-tensorrt-percentile")
    gate = round(1 - (1 - base["min_cosine"]) / 2, 6)
    targeted: dict[str, Any] = {"gate_min_cosine": gate, "plain": base["variant"], "plain_min_cosine": base["min_cosine"]}
    path = args.work / "ort-tensorrt-percentile-fallback.onnx"
    log(f"accuracy-targeted: --min-cosine {gate} --fallback auto")
    start = time.perf_counter()
    try:
        request = ConversionRequest(
            precision="int8", target="tensorrt",
            calibration=CalibrationRequest(data="digits (training split)", method="percentile"),
            gates=ParityGates(min_cosine=gate), fallback=FallbackPolicy(mode="auto", max_layers=args.max_fallback_layers))
        result = convert(args.model, path, request, inputs)
        targeted.update(met=True, kept_high=result.facts["int8_kept_high"],
                        kept_high_precision=result.facts["int8_kept_high_precision"],
                        steps=result.facts["fallback_steps"])
        row = measure("ort-tensorrt-percentile-fallback", path, {"quantizer": "ort", "target": "tensorrt",
                                                                 "method": "percentile"}, time.perf_counter() - start)
        row["vs_fp32"] = {rt: row["img_per_s"][rt] / rows[0]["img_per_s"][rt] for rt in row["img_per_s"]}
        row["vs_plain_int8"] = {rt: row["img_per_s"][rt] / base["img_per_s"][rt] for rt in row["img_per_s"]}
        targeted["row"] = row
    except ParityError as exc:
        targeted.update(met=False, error=str(exc))

    env = environment_facts()
    summary = {
        "benchmark": "int8_quality", "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": env,
        "shared_machine": "other engineers' jobs may have run at the same time: compare ratios within this run",
        "modelopt": installed_version("nvidia-modelopt"), "model": read_metadata(args.model),
        "fp32_accuracy": fp32_accuracy, "test_images": len(images), "calibration_images": len(calib),
        "batch": args.batch, "iterations": args.iterations, "rows": rows,
        "sensitivity": {"ranking": report.ranking, "seconds": report.seconds, "evaluations": report.evaluations,
                        "chart": chart_note or "sensitivity.png"},
        "accuracy_targeted": targeted,
    }
    (args.output / "int8_quality.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    lines = ["| variant | accuracy | top-1 agr. | min cosine | Q / DQ | MB | ORT img/s (x fp32) | OpenVINO img/s (x fp32) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    shown = rows + ([targeted["row"]] if targeted.get("row") else [])
    for r in shown:
        lines.append(f"| {r['variant']} | {r['accuracy']:.2%} | {r['top1_agreement']:.2%} | {r['min_cosine']:.5f} | "
                     f"{r['quantize']} / {r['dequantize']} | {r['size_mb']:.1f} | "
                     f"{r['img_per_s']['ort']:.0f} ({r['vs_fp32']['ort']:.2f}) | "
                     f"{r['img_per_s']['openvino']:.0f} ({r['vs_fp32']['openvino']:.2f}) |")
    (args.output / "int8_quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({k: v for k, v in targeted.items() if k != "row"}, indent=2))
    print(f"sensitivity: {report.evaluations} evaluations in {report.seconds:.1f} s; ranking {report.ranking}")


if __name__ == "__main__":
    main()
