"""End-to-end check of cpp/'s vgg_infer on OpenVINO against vgg-deploy's Python side (run by CTest).

    python cpp/tests/compare_with_python.py BUILD/vgg_infer --work BUILD/e2e [--summary FILE]

Trains the digits model (scripts/train_digits.py), exports it, makes its INT8 CPU-scheme Q/DQ variant, writes test
images, then for fp32 and INT8 compares `vgg_infer MODEL ... --json` with the Python OpenVINO runner (`ov` /
`ov-int8`, OpenVINORunner.predict, the same preprocessing `vgg-deploy infer` uses) over:
  - images already at the model's size (grayscale PNG) and a preprocessed .npy batch: every class's probability
    within 1e-4;
  - images that need work (other sizes, RGB for the grayscale model, JPEG): same top-1, probabilities within 0.02.
Also: `vgg-deploy infer --json` (ONNX Runtime) prints the same JSON structure as vgg_infer; bad inputs (missing or
truncated model, non-image, wrong-shape .npy, unknown suffix) give one `Error:` line and exit 1; the throughput
mode runs. Prints the largest differences per group (the figures in the closing note of issue 13).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
EXACT, RESAMPLED = 1e-4, 0.02


def vgg_deploy(*args: str) -> str:
    # The child inherits PYTHONPATH, so a worktree's vgg_deploy is the one tested.
    done = subprocess.run([sys.executable, "-m", "vgg_deploy", *args], check=True, capture_output=True, text=True)
    return done.stdout


def make_models(work: Path) -> dict[str, Path]:
    pth, fp32, int8 = work / "vgg_digits.pth", work / "vgg_digits.onnx", work / "vgg_digits.int8.cpu.onnx"
    if not pth.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "train_digits.py"), "-o", str(pth), "--epochs", "4"],
                       check=True, capture_output=True)
    if not fp32.exists():
        vgg_deploy("export", "--model", "vgg_digits", "--weights", str(pth), "-o", str(fp32))
    if not int8.exists():
        vgg_deploy("quantize", str(fp32), "--precision", "int8", "--target", "cpu", "--calib-data", "digits",
                   "--calib-samples", "64", "-o", str(int8))
    return {"fp32": fp32, "int8": int8}


def make_images(work: Path) -> tuple[dict[str, list[Path]], Path]:
    """Test images by group, and a preprocessed .npy batch."""
    from PIL import Image

    from vgg_deploy.data.digits import digits_images
    from vgg_deploy.data.preprocess import preprocess_image
    from vgg_deploy.export import config_from_metadata, read_metadata

    folder = work / "images"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    images, _ = digits_images()
    picks = [images[i] for i in (1500, 1510, 1520, 1530, 1540, 1550)]  # from the end: mostly not trained on
    groups: dict[str, list[Path]] = {"same size": [], "resized": [], "rgb for gray": [], "jpeg": []}
    for i, digit in enumerate(picks):
        big = digit.resize((32, 32), Image.Resampling.BICUBIC)  # the model's size: no resize when preprocessed
        groups["same size"].append(_save(big, folder / f"same{i}.png"))
        groups["resized"].append(_save(digit, folder / f"small{i}.png"))  # 8x8: enlarged 4x
        groups["resized"].append(_save(digit.resize((57, 45), Image.Resampling.BICUBIC), folder / f"wide{i}.png"))
        groups["resized"].append(_save(digit.resize((20, 26), Image.Resampling.BICUBIC), folder / f"tall{i}.png"))
        tinted = Image.merge("RGB", [big, big.point(lambda v: v * 0.8), big.point(lambda v: 255 - v // 2)])
        groups["rgb for gray"].append(_save(tinted, folder / f"rgb{i}.png"))
        groups["rgb for gray"].append(_save(tinted.resize((40, 48), Image.Resampling.BICUBIC), folder / f"rgbw{i}.png"))
        groups["jpeg"].append(_save(big, folder / f"gray{i}.jpg", quality=90))
        groups["jpeg"].append(_save(tinted.resize((48, 36), Image.Resampling.BICUBIC), folder / f"rgb{i}.jpg",
                                    quality=90))
    config = config_from_metadata(read_metadata(work / "vgg_digits.onnx"))
    batch = np.stack([preprocess_image(Image.open(p), config) for p in groups["resized"][:7]]).astype(np.float32)
    np.save(work / "batch.npy", batch)
    return groups, work / "batch.npy"


def _save(image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def run_cpp(program: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(program), *args], capture_output=True, text=True, timeout=300)


def cpp_json(program: Path, *args: str) -> list[dict]:
    done = run_cpp(program, *args, "--json", "--top-k", "10")
    if done.returncode != 0:
        raise AssertionError(f"vgg_infer {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def probabilities(prediction: dict) -> np.ndarray:
    row = np.full(10, np.nan)
    for score in prediction["top_k"]:
        row[score["index"]] = score["probability"]
    return row


def compare(name: str, cpp: list[dict], python: list[dict], tolerance: float, failures: list[str]) -> dict:
    assert len(cpp) == len(python), (name, len(cpp), len(python))
    worst, top1_same = 0.0, 0
    for c, p in zip(cpp, python):
        assert c["image"] == p["image"], (c["image"], p["image"])
        diff = float(np.max(np.abs(probabilities(c) - probabilities(p))))
        worst = max(worst, diff)
        top1_same += c["top_k"][0]["index"] == p["top_k"][0]["index"]
        if c["top_k"][0]["index"] != p["top_k"][0]["index"]:
            failures.append(f"{name}: {c['image']}: top-1 {c['top_k'][0]['index']} (C++) vs "
                            f"{p['top_k'][0]['index']} (Python)")
    if not worst <= tolerance:
        failures.append(f"{name}: probabilities differ by up to {worst:.3g} (allowed {tolerance})")
    backends = {c["backend"] for c in cpp} | {p["backend"] for p in python}
    print(f"  {name:<28} {len(cpp):>3} images  top-1 agree {top1_same}/{len(cpp)}  max |dp| {worst:.2e}  "
          f"(allowed {tolerance:g})  backend {'/'.join(sorted(backends))}")
    return {"images": len(cpp), "top1_agree": top1_same, "max_abs_prob_diff": worst, "tolerance": tolerance}


def check_errors(program: Path, work: Path, model: Path, failures: list[str]) -> None:
    truncated = work / "truncated.onnx"
    truncated.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    not_image = work / "notes.png"
    not_image.write_text("not an image\n")
    wrong = work / "wrong.npy"
    np.save(wrong, np.zeros((2, 3, 32, 32), np.float32))
    image = str(work / "images" / "same0.png")
    cases = {
        "missing model": [str(work / "missing.onnx"), image],
        "truncated model": [str(truncated), image],
        "non-image": [str(model), str(not_image)],
        "wrong-shape .npy": [str(model), "--npy", str(wrong)],
        "unknown suffix": [str(work / "vgg_digits.pth"), image],
        "missing image": [str(model), str(work / "missing.png")],
    }
    for name, args in cases.items():
        done = run_cpp(program, *args)
        lines = done.stderr.strip().splitlines()
        ok = done.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error: ") and not done.stdout
        print(f"  {name:<18} exit {done.returncode}: {lines[0] if lines else '(nothing on stderr)'}")
        if not ok:
            failures.append(f"bad input '{name}': exit {done.returncode}, stderr {done.stderr!r}, "
                            f"stdout {done.stdout[:200]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("vgg_infer", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--summary", type=Path, default=None, help="also write the figures here (JSON)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "2")

    from vgg_deploy.runtime.openvino_runner import OpenVINORunner

    models = make_models(args.work)
    groups, npy = make_images(args.work)
    failures: list[str] = []
    summary: dict = {}
    for precision, model in models.items():
        print(f"{model.name} (vgg_infer vs Python OpenVINORunner):")
        with OpenVINORunner(model) as runner:
            for group, paths in groups.items():
                python = [{"image": p.source, "backend": runner.name, "top_k": p.to_dict()["top_k"]}
                          for p in runner.predict(paths, top_k=10)]
                cpp = cpp_json(args.vgg_infer, str(model), *map(str, paths))
                tolerance = EXACT if group == "same size" else RESAMPLED
                summary[f"{precision} {group}"] = compare(f"{precision} {group}", cpp, python, tolerance, failures)
            batch = np.load(npy)
            logits = runner.infer(batch).astype(np.float64)
            exp = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs = exp / exp.sum(axis=1, keepdims=True)
            python = [{"image": f"{npy}[{i}]", "backend": runner.name,
                       "top_k": [{"index": int(k), "label": str(k), "probability": float(row[k])}
                                 for k in np.argsort(-row, kind="stable")]} for i, row in enumerate(probs)]
            cpp = cpp_json(args.vgg_infer, str(model), "--npy", str(npy), "--batch-size", "3")
            summary[f"{precision} npy"] = compare(f"{precision} .npy (batches of 3)", cpp, python, EXACT, failures)

    # The same JSON structure as `vgg-deploy infer --json` (here on ONNX Runtime: only the keys are compared).
    image = str(groups["same size"][0])
    reference = json.loads(vgg_deploy("infer", str(models["fp32"]), image, "--json", "--top-k", "3"))
    ours = cpp_json(args.vgg_infer, str(models["fp32"]), image)
    shape = lambda d: (sorted(d[0]), sorted(d[0]["top_k"][0]))  # noqa: E731
    if shape(reference) != shape(ours):
        failures.append(f"JSON structure differs: vgg-deploy infer {shape(reference)}, vgg_infer {shape(ours)}")
    print(f"JSON keys as vgg-deploy infer --json: {shape(ours)}")

    print("bad inputs:")
    check_errors(args.vgg_infer, args.work, models["fp32"], failures)

    done = run_cpp(args.vgg_infer, str(models["int8"]), "--npy", str(npy), "--iterations", "5", "--json")
    if done.returncode != 0:
        failures.append(f"throughput mode: exit {done.returncode}: {done.stderr.strip()}")
    else:
        throughput = json.loads(done.stdout)["throughput"]
        print(f"throughput mode: {throughput['images_per_second']:.1f} img/s, median "
              f"{throughput['latency_ms']['median']:.2f} ms per batch of {throughput['batch_size']}")
        if not (throughput["images_per_second"] > 0 and throughput["iterations"] == 5):
            failures.append(f"throughput mode: {throughput}")
    if args.summary:
        args.summary.write_text(json.dumps(summary, indent=2) + "\n")
    for failure in failures:
        print(f"FAIL {failure}")
    print("OK" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
