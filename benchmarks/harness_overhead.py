"""The harness' own overhead: its timed loop over OnnxRuntimeRunner.infer() against a bare InferenceSession.run()
loop, on the same session, model and inputs, in the same run.

    python benchmarks/harness_overhead.py [--model vgg16] [--batch-size 1] [--rounds 7] [--iterations 10] [-o FILE]

Each round times both loops back to back, alternating which goes first, so drift in the machine's speed hits
both alike. Reported: each loop's median per round, the per-round difference (harness - bare) / bare, its median
over the rounds, and the round-to-round spread of the bare loop itself (the noise the difference is judged
against). Both loops share one ONNX Runtime session: two sessions would have two thread pools competing.
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


def bare_loop(session, feed: dict, output: str, *, warmup: int, iterations: int) -> list[float]:
    """What a user would write: time session.run directly."""
    for _ in range(warmup):
        session.run([output], feed)
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        session.run([output], feed)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench-overhead")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from vgg_deploy.bench.measure import timed_loop
    from vgg_deploy.environment import environment_facts
    from vgg_deploy.export import export_onnx
    from vgg_deploy.models import create_model
    from vgg_deploy.runtime import OnnxRuntimeRunner

    threads = len(os.sched_getaffinity(0))
    log = lambda m: print(f"[overhead] {m}", file=sys.stderr, flush=True)  # noqa: E731
    path = args.work / f"{args.model}.onnx"
    if not path.exists():
        log(f"exporting {args.model}")
        torch.manual_seed(0)
        export_onnx(create_model(args.model), path)

    rounds = []
    with OnnxRuntimeRunner(path, threads=threads) as runner:
        batch = np.random.default_rng(0).standard_normal((args.batch_size, *runner.input_shape), dtype=np.float32)
        session = runner.session  # the runner's own session: only the harness code around it differs
        feed, output = {session.get_inputs()[0].name: batch}, session.get_outputs()[0].name
        for index in range(args.rounds):
            def harness() -> float:
                m = timed_loop(lambda: runner.infer(batch), warmup=args.warmup, iterations=args.iterations,
                               duration_s=None, batch_size=args.batch_size)
                return m.median

            def bare() -> float:
                return statistics.median(bare_loop(session, feed, output, warmup=args.warmup, iterations=args.iterations))

            if index % 2 == 0:
                h, b = harness(), bare()
            else:
                b, h = bare(), harness()
            rounds.append({"harness_ms": h * 1e3, "bare_ms": b * 1e3, "difference": (h - b) / b})
            log(f"round {index + 1}/{args.rounds}: harness {h * 1e3:.3f} ms, bare {b * 1e3:.3f} ms, "
                f"difference {(h - b) / b:+.2%}")

    differences = [r["difference"] for r in rounds]
    bare_medians = [r["bare_ms"] for r in rounds]
    quartiles = statistics.quantiles(differences, n=4) if len(differences) > 1 else [differences[0]] * 3
    summary = {
        "median_difference": statistics.median(differences),
        "median_difference_us": statistics.median(r["harness_ms"] - r["bare_ms"] for r in rounds) * 1e3,
        "difference_iqr": quartiles[2] - quartiles[0],
        "difference_range": [min(differences), max(differences)],
        "bare_round_to_round_spread": (max(bare_medians) - min(bare_medians)) / statistics.median(bare_medians),
        "median_bare_ms": statistics.median(bare_medians),
    }
    within = abs(summary["median_difference"]) <= summary["bare_round_to_round_spread"]
    print(f"\n{args.model}, batch {args.batch_size}, {args.rounds} rounds x {args.iterations} calls, {threads} threads")
    print(f"bare InferenceSession.run median {summary['median_bare_ms']:.3f} ms")
    print(f"harness - bare: median {summary['median_difference']:+.2%} ({summary['median_difference_us']:+.1f} us per call; "
          f"IQR {summary['difference_iqr']:.2%}, range {min(differences):+.2%} .. {max(differences):+.2%})")
    print(f"round-to-round spread of the bare loop: {summary['bare_round_to_round_spread']:.2%} -> overhead "
          f"{'within' if within else 'OUTSIDE'} the noise")
    if args.output:
        report = {"benchmark": "harness_overhead", "model": args.model, "batch": args.batch_size, "rounds": rounds,
                  "summary": summary, "within_noise": within, "threads": threads,
                  "command": " ".join([Path(sys.executable).name, *sys.argv]),
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": environment_facts()}
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
