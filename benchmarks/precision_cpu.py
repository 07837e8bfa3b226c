"""VGG-16 on the CPU, one run, same machine: PyTorch eager fp32, ONNX Runtime fp32, and ONNX Runtime INT8
with the TensorRT (signed symmetric) and CPU (unsigned activations) Q/DQ schemes, at batch 1 and 8.

    python benchmarks/precision_cpu.py [--work DIR] [--iterations 10] [-o benchmarks/results/...json]

Calibration uses 32 images of scikit-learn's digits (real images, no download) with minmax ranges: the
scheme, not the calibration method, decides the speed. Weights are random (speed only); INT8 parity is
reported against ONNX Runtime fp32 on 16 held-out digits. Medians and ratios are from this one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _time(run, batch: np.ndarray, *, warmup: int, iterations: int) -> list[float]:
    for _ in range(warmup):
        run(batch)
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        run(batch)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench-precision")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()

    import onnxruntime as ort
    import torch

    from vgg_deploy.cli.params import parse_int_list
    from vgg_deploy.data import load_samples, split_holdout
    from vgg_deploy.environment import environment_facts
    from vgg_deploy.export import export_onnx
    from vgg_deploy.log import configure_cli_logging
    from vgg_deploy.models import create_model
    from vgg_deploy.precision import CalibrationRequest, ConversionInputs, ConversionRequest, convert

    threads = len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    args.work.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True)  # noqa: E731
    configure_cli_logging(prefix="bench")  # the library's own progress lines, as the CLI shows them

    torch.manual_seed(0)
    model = create_model("vgg16")
    fp32 = args.work / "vgg16.onnx"
    if not fp32.exists():
        log("exporting VGG-16")
        export_onnx(model, fp32)
    samples = load_samples("digits", model.config, limit=48, seed=0, show_progress=False)
    calib, holdout, how = split_holdout(samples, calib_count=32, min_holdout=16, seed=0)
    variants = {"ort-fp32": (fp32, None)}
    for target in ("tensorrt", "cpu"):
        path = args.work / f"vgg16.int8.{target}.onnx"
        log(f"quantizing ({target} scheme)")
        request = ConversionRequest(precision="int8", target=target,
                                    calibration=CalibrationRequest(data="digits", method="minmax", batch=8))
        result = convert(fp32, path, request, ConversionInputs(
            holdout=holdout.images, holdout_note=how, calibration=calib.images))
        variants[f"ort-int8-{target}"] = (path, result.parity.to_dict())

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    sessions = {name: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
                for name, (p, _) in variants.items()}
    runs = {"torch-eager-fp32": lambda x: model(torch.from_numpy(x))}
    for name, session in sessions.items():
        runs[name] = lambda x, s=session: s.run(["logits"], {"input": x})

    rows = []
    with torch.inference_mode():
        for batch_size in parse_int_list(args.batch_sizes):
            batch = np.random.default_rng(batch_size).standard_normal((batch_size, 3, 224, 224), dtype=np.float32)
            for name, run in runs.items():
                log(f"timing {name} at batch {batch_size}")
                samples_s = _time(run, batch, warmup=args.warmup, iterations=args.iterations)
                median = statistics.median(samples_s)
                q = statistics.quantiles(samples_s, n=4)
                rows.append({"backend": name, "batch": batch_size, "median_ms": median * 1e3,
                             "iqr_ms": (q[2] - q[0]) * 1e3, "images_per_s": batch_size / median,
                             "iterations": len(samples_s)})
    for row in rows:
        base = next(r for r in rows if r["batch"] == row["batch"] and r["backend"] == "ort-fp32")
        eager = next(r for r in rows if r["batch"] == row["batch"] and r["backend"] == "torch-eager-fp32")
        row["vs_ort_fp32"] = row["images_per_s"] / base["images_per_s"]
        row["vs_eager"] = row["images_per_s"] / eager["images_per_s"]

    report = {
        "benchmark": "precision_cpu", "model": "vgg16 (random weights) 3x224x224",
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": environment_facts(), "threads": threads, "parity_vs_ort_fp32": {k: v for k, (_, v) in variants.items() if v},
        "sizes_mb": {k: round(p.stat().st_size / 1e6, 1) for k, (p, _) in variants.items()}, "rows": rows,
    }
    print(f"\n{'backend':<20} {'batch':>5} {'median ms':>10} {'IQR ms':>8} {'img/s':>8} {'x ORT fp32':>10} {'x eager':>8}")
    for r in rows:
        print(f"{r['backend']:<20} {r['batch']:>5} {r['median_ms']:>10.1f} {r['iqr_ms']:>8.1f} {r['images_per_s']:>8.1f} "
              f"{r['vs_ort_fp32']:>10.2f} {r['vs_eager']:>8.2f}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
