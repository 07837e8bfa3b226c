"""C++ vgg_infer vs the Python harness vs OpenVINO's benchmark_app: VGG-16 224x224, batch 8, INT8 (CPU scheme),
the same ONNX file, three interleaved repeats in one run, medians reported.

    flock /tmp/vggd-bench.lock python benchmarks/bench_cpp_openvino.py --vgg-infer cpp/build/vgg_infer \
        --fp32 out/bench-cpp/vgg16.onnx --int8 out/bench-cpp/vgg16.int8.cpu.onnx \
        -o benchmarks/results/cpu-2core-epyc-avx512vnni/cpp_openvino

Rows (each its own process, in this order within every repeat, so drift hits all alike):
  vgg_infer           --iterations N --streams 1 --threads 2 (no performance hint, INFERENCE_PRECISION_HINT f32)
  vgg_infer latency   --iterations N --threads 2 (PERFORMANCE_HINT LATENCY: the Python runner's configuration)
  harness ov-int8     vgg-deploy bench INT8 --backends ov-int8 --batch-sizes 8 --iterations N --threads 2
  benchmark_app f32   benchmark_app -hint none -nstreams 1 -nthreads 2 -infer_precision f32 (as vgg_infer)
  benchmark_app       benchmark_app -hint none -nstreams 1 -nthreads 2 (the CPU's default precision: bf16 where
                      the CPU has it, for the layers the Q/DQ graph leaves in floating point)
  benchmark_app -shape  as benchmark_app f32, but with -shape: the model reshaped to a static batch of 8
benchmark_app gets the batch shape with -data_shape (except the -shape row), so the model keeps its dynamic batch
as in the vgg_infer and harness rows.
Reported per row: median over repeats of the per-run median latency of one batch of 8, img/s from it, and the
fastest single call of all repeats (less sensitive to other jobs on a shared machine than the median).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BATCH = 8


def run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    return done.stdout


def vgg_infer(program: str, model: str, npy: str, iterations: int, *extra: str) -> dict:
    out = json.loads(run([program, model, "--npy", npy, "--iterations", str(iterations), "--warmup", "2",
                          "--threads", "2", "--json", *extra]))["throughput"]
    return {"median_ms": out["latency_ms"]["median"], "min_ms": out["latency_ms"]["min"],
            "wall_img_s": out["images_per_second"],
            "config": f"{out['device']}, {out['precision']}"}


def harness(fp32: str, int8: str, iterations: int, work: Path) -> dict:
    out = json.loads(run([sys.executable, "-m", "vgg_deploy", "bench", fp32, int8, "--backends", "ov-int8",
                          "--batch-sizes", str(BATCH), "--iterations", str(iterations), "--warmup", "2",
                          "--threads", "2", "--no-peak", "--data", "synthetic", "--eval-samples", "8", "--json",
                          "--output", str(work)]))
    m = out["results"][0]["measurement"]
    return {"median_ms": m["median_ms"], "min_ms": m["min_ms"], "wall_img_s": BATCH * m["count"] / (sum(m["latencies_ms"]) / 1000),
            "config": "OpenVINORunner: PERFORMANCE_HINT LATENCY, INFERENCE_PRECISION_HINT f32, 2 threads"}


def benchmark_app(program: str, model: str, iterations: int, *extra: str, static: bool = False) -> dict:
    shape = ["-shape" if static else "-data_shape", f"[{BATCH},3,224,224]"]
    text = run([program, "-m", model, "-d", "CPU", "-hint", "none", "-nstreams", "1", "-nthreads", "2", *shape,
                "-niter", str(iterations), *extra])
    median = float(re.search(r"Median:\s+([\d.]+) ms", text).group(1))
    fps = float(re.search(r"Throughput:\s+([\d.]+) FPS", text).group(1))
    minimum = float(re.search(r"Min:\s+([\d.]+) ms", text).group(1))
    precision = re.search(r"INFERENCE_PRECISION_HINT:\s+(\S+)", text)
    return {"median_ms": median, "min_ms": minimum, "wall_img_s": fps,
            "config": f"INFERENCE_PRECISION_HINT {precision.group(1) if precision else '?'}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vgg-infer", required=True)
    parser.add_argument("--fp32", required=True, help="VGG-16 fp32 ONNX (the harness's parity reference)")
    parser.add_argument("--int8", required=True, help="its INT8 CPU-scheme Q/DQ ONNX (what is timed)")
    parser.add_argument("--benchmark-app", default=str(Path(sys.executable).with_name("benchmark_app")))
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-o", "--output", type=Path, required=True, help="writes OUTPUT.json and OUTPUT.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_cpp_ov_"))
    npy = work / "batch8.npy"
    np.save(npy, np.random.default_rng(0).standard_normal((BATCH, 3, 224, 224)).astype(np.float32))
    rows = {
        "vgg_infer (C++, -nstreams 1 equivalent)": lambda: vgg_infer(args.vgg_infer, args.int8, str(npy),
                                                                      args.iterations, "--streams", "1"),
        "vgg_infer (C++, latency hint)": lambda: vgg_infer(args.vgg_infer, args.int8, str(npy), args.iterations),
        "Python harness ov-int8": lambda: harness(args.fp32, args.int8, args.iterations, work / "harness"),
        "benchmark_app -infer_precision f32": lambda: benchmark_app(args.benchmark_app, args.int8, args.iterations,
                                                                    "-infer_precision", "f32"),
        "benchmark_app (default precision)": lambda: benchmark_app(args.benchmark_app, args.int8, args.iterations),
        "benchmark_app -shape (static batch 8), f32": lambda: benchmark_app(
            args.benchmark_app, args.int8, args.iterations, "-infer_precision", "f32", static=True),
    }
    runs: dict[str, list[dict]] = {name: [] for name in rows}
    started = time.time()
    for repeat in range(args.repeats):
        for name, measure in rows.items():
            result = measure()
            runs[name].append(result)
            print(f"[{repeat + 1}/{args.repeats}] {name}: median {result['median_ms']:.1f} ms, "
                  f"{BATCH * 1000 / result['median_ms']:.2f} img/s", file=sys.stderr)
    reference = "benchmark_app -infer_precision f32"
    ref_median = statistics.median(r["median_ms"] for r in runs[reference])
    table = []
    for name, results in runs.items():
        medians = [r["median_ms"] for r in results]
        median = statistics.median(medians)
        table.append({"row": name, "median_ms": median, "img_s": BATCH * 1000 / median,
                      "wall_img_s": statistics.median(r["wall_img_s"] for r in results),
                      "min_ms": min(r["min_ms"] for r in results),
                      "per_repeat_median_ms": medians, "vs_benchmark_app_f32": ref_median / median,
                      "config": results[0]["config"]})
    import openvino

    report = {
        "what": "VGG-16 224x224 random weights, INT8 CPU-scheme Q/DQ ONNX, batch 8, "
                f"{args.iterations} timed calls (+2 warm-up) per run, {args.repeats} interleaved repeats",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared: other engineers' "
                   "tests may have run at the same time)",
        "versions": {"openvino": openvino.__version__, "python": platform.python_version()},
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), "model": args.int8, "wall_s": round(time.time() - started, 1), "rows": table,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["| row | median ms / batch of 8 | img/s (from median) | img/s (wall) | x benchmark_app f32 | "
             "min ms | per-repeat medians ms |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in table:
        lines.append(f"| {r['row']} | {r['median_ms']:.1f} | {r['img_s']:.2f} | {r['wall_img_s']:.2f} | "
                     f"{r['vs_benchmark_app_f32']:.3f} | {r['min_ms']:.1f} | {', '.join(f'{m:.1f}' for m in r['per_repeat_median_ms'])} |")
    args.output.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
