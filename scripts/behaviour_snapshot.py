"""The deterministic facts of a seeded run of the main job, to compare the toolkit before and after a change.

    python scripts/behaviour_snapshot.py OUT_DIR              # writes OUT_DIR/snapshot.json
    python scripts/behaviour_snapshot.py --compare A.json B.json

The run is the main job (scripts/demo.sh) made small and single-threaded so it repeats exactly: train `vgg_digits`
on scikit-learn's digits for two epochs, export, quantize (INT8 for TensorRT and for the CPU, FP16), infer, rank the
layers (sensitivity), bench every CPU backend with a few iterations. The snapshot keeps what must not change:
artifact hashes, the commands' JSON with every measured time, rate and memory figure taken out (their keys stay),
and the bench report's parity, accuracy and executed precisions. Issue 14 (the redesign) was checked with it: the
snapshot of the commit before equals the one after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Measured, not computed: the values go, the keys stay (so a renamed or lost field still shows).
VOLATILE = re.compile(
    r"(time|latency|throughput|images_per_s|img_s|per_s|_ms|_s$|seconds|rss|memory|bytes_peak|peak|date|host|"
    r"load|duration|elapsed|machine|cpu|python|version|platform|spread|iqr|p50|p90|p99|median|mean_ms|max_ms|"
    r"min_ms|iterations|calls|ratio|speedup|warmup)", re.IGNORECASE)

# Whole values that come from a measurement (the machine's peak, spread warnings quoting timings) or the clock.
MEASURED_SUBTREES = {"created", "machine_peak", "warning", "warnings", "wide_spread"}


def _run(args: list[str], out: Path) -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0", NO_COLOR="1")
    done = subprocess.run(args, cwd=out, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"Error: {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def _cli(*args: str, out: Path) -> str:
    return _run([sys.executable, "-m", "vgg_deploy", *args], out)


def _scrub(value: Any, out: Path, key: str = "") -> Any:
    if key in MEASURED_SUBTREES:
        return "<measured>"
    if isinstance(value, dict):
        return {k: _scrub(v, out, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_scrub(v, out, key) for v in value]
    if isinstance(value, str):
        return value.replace(str(out), "<out>")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and VOLATILE.search(key):
        return "<measured>"
    return value


def _sha256(path: Path) -> str:
    if path.suffix == ".safetensors":  # its header's metadata order is random (a Rust HashMap): hash the contents
        from safetensors import safe_open

        digest = hashlib.sha256()
        with safe_open(str(path), "np") as f:
            digest.update(json.dumps(f.metadata(), sort_keys=True).encode())
            for name in sorted(f.keys()):
                digest.update(name.encode() + f.get_tensor(name).tobytes())
        return digest.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    facts: dict[str, Any] = {}
    _run([sys.executable, str(ROOT / "scripts" / "train_digits.py"), "-o", "m.safetensors", "--test-npz", "test.npz",
          "--epochs", "2", "--seed", "0"], out)
    facts["export"] = json.loads(_cli("export", "--model", "vgg_digits", "--weights", "m.safetensors", "-o", "m.onnx",
                                      "--json", out=out))
    _cli("digits", "-o", "images", out=out)
    facts["quantize"] = {}
    for name, extra in (("int8.tensorrt", ["--precision", "int8", "--target", "tensorrt"]),
                        ("int8.cpu", ["--precision", "int8", "--target", "cpu"]),
                        ("fp16", ["--precision", "fp16"])):
        facts["quantize"][name] = json.loads(_cli("quantize", "m.onnx", *extra, "--calib-data", "images",
                                                  "-o", f"m.{name}.onnx", "--json", out=out))
    images = sorted((out / "images").rglob("*.png"))[:5]
    facts["infer"] = json.loads(_cli("infer", "m.int8.cpu.onnx", *[str(p) for p in images], "--json", out=out))
    facts["sensitivity"] = json.loads(_cli("sensitivity", "m.onnx", "--calib-data", "images",
                                           "--json", out=out))
    _cli("bench", "m.safetensors", "m.onnx", "m.fp16.onnx", "m.int8.tensorrt.onnx", "m.int8.cpu.onnx",
         "--data", "test.npz", "--backends", "cpu", "--batch-sizes", "1,8", "--iterations", "3", "--warmup", "1",
         "-o", "bench", out=out)
    facts["bench_report"] = json.loads((out / "bench" / "report.json").read_text(encoding="utf-8"))
    facts["artifacts"] = {p.name: _sha256(p) for p in sorted(out.glob("*"))
                          if p.suffix in {".onnx", ".safetensors", ".npz"}}
    pngs = hashlib.sha256()
    for path in sorted((out / "images").rglob("*.png")):
        pngs.update(path.relative_to(out).as_posix().encode() + b"\0" + path.read_bytes())
    facts["artifacts"]["images/**.png"] = pngs.hexdigest()
    result = _scrub(facts, out)
    (out / "snapshot.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return result


def _differences(a: Any, b: Any, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                found.append(f"{where}/{key}: only in {'after' if key in b else 'before'}")
            else:
                found += _differences(a[key], b[key], f"{where}/{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {json.dumps(a)[:120]} -> {json.dumps(b)[:120]}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", type=Path, help="folder for the run and its snapshot.json")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text(encoding="utf-8")) for p in args.compare)
        found = _differences(before, after)
        print("\n".join(found) if found else "identical")
        sys.exit(1 if found else 0)
    if args.out is None:
        parser.error("give OUT_DIR or --compare BEFORE AFTER")
    result = snapshot(args.out.resolve())
    print(f"{len(result['artifacts'])} artifacts hashed; wrote {args.out / 'snapshot.json'}")


if __name__ == "__main__":
    main()
