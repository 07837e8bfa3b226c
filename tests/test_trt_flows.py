"""The TensorRT user flows, run as a user runs them: build-trt, infer, bench, triton-repo, a runner on another
device from a worker thread, and the Python API, with parity measured on the engines' real outputs.

They run on real TensorRT with a GPU when it imports (`pytest -m trt`: the acceptance test on a GPU machine), else
on the computing stand-in (tests/fake_tensorrt.py: it proves our flow, bookkeeping and numbers, not NVIDIA's
builder, kernels or speed). The serve flow is in tests/test_serve.py (serving venv). The model is vgg_digits
trained on scikit-learn's digits (tests/conftest.py), so top-1 agreement means something.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import vgg_deploy
from cli_helpers import one_error_line
from tensorrt_target import forget_target, use_target
from vgg_deploy.cli import main
from vgg_deploy.data import write_digits_folder
from vgg_deploy.export import export_onnx
from vgg_deploy.export.parity import compare_logits
from vgg_deploy.models import create_model
from vgg_deploy.precision import onnx_logits
from vgg_deploy.trt import TensorRTRunner, manifest_path, read_manifest, write_manifest
from vgg_deploy.trt.manifest import layers_path

pytestmark = pytest.mark.trt

# Minimum parity with eager fp32 PyTorch on 64 held-out digits, for the stand-in and real TensorRT alike.
FLOOR = {"fp32": (0.99999, 1.0), "fp16": (0.999, 0.98), "int8": (0.99, 0.95)}  # (cosine, top-1 agreement)


# -- the commands, as typed (option names in one place) --------------------------------------------------------------

def build_trt(onnx: Path, plan: Path, *options: str) -> list[str]:
    return ["build-trt", str(onnx), *options, "-o", str(plan)]


def bench_args(*args: str, out: Path) -> list[str]:
    return ["bench", *args, "-o", str(out)]


def cli(args: list[str], code: int = 0):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, (args, result.output, result.exception)
    return result


# -- fixtures -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """Real TensorRT + GPU when usable, else the stand-in, for the whole module (engines are built once)."""
    with pytest.MonkeyPatch.context() as patch:
        yield use_target(patch, tmp_path_factory.mktemp("target"))
    forget_target()


@pytest.fixture(scope="module")
def digits(trained_digits, tmp_path_factory):
    """A copy of the trained fp32 ONNX, 64 held-out images with eager fp32 logits, and a few as PNG files."""
    folder = tmp_path_factory.mktemp("digits")
    onnx = folder / "digits.onnx"
    shutil.copy(trained_digits.onnx, onnx)
    images = trained_digits.test.images[:64]
    with torch.no_grad():
        eager = trained_digits.model(torch.from_numpy(images)).numpy()
    write_digits_folder(folder / "png", limit=4)
    pngs = sorted((folder / "png").rglob("*.png"))
    return dataclasses.make_dataclass("Digits", ["onnx", "images", "eager", "pngs", "checkpoint"])(
        onnx, images, eager, pngs, trained_digits.checkpoint)


@pytest.fixture(scope="module")
def engines(target, digits):
    """build-trt from the fp32 ONNX at each precision (int8 calibrated on the digits)."""
    built = {}
    for precision, extra in (("fp32", ()), ("fp16", ()), ("int8", ("--calib-data", "digits", "--calib-samples", "64"))):
        plan = digits.onnx.with_name(f"digits.{precision}.plan")
        result = cli(build_trt(digits.onnx, plan, "--precision", precision, *extra, "--json"))
        built[precision] = (plan, json.loads(result.stdout))
    return built


def parity(name: str, logits: np.ndarray, reference: np.ndarray) -> dict:
    figures = compare_logits(reference, logits, max_rel_diff=None, min_cosine=None)
    print(f"PARITY {name}: max abs diff {figures.max_abs_diff:.3g}, cosine {figures.cosine:.7f}, "
          f"top-1 agreement {figures.top1_agreement:.1%} ({figures.samples} images)")
    assert figures.nonfinite == 0
    return {"max_abs_diff": figures.max_abs_diff, "cosine": figures.cosine, "top1": figures.top1_agreement}


# -- 1. build-trt ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_build_trt_from_fp32_onnx(target, digits, engines, precision):
    plan, report = engines[precision]
    manifest = read_manifest(plan)
    assert report["reused"] is False and report["precision"] == precision == manifest.precision
    assert layers_path(plan).is_file() and manifest.source_onnx.path == str(digits.onnx)
    compute = manifest.layers["compute"]
    assert compute.get(precision, 0) >= 1, compute  # the inspector's listing: convolutions in the engine's precision
    if precision != "fp32":
        assert Path(report["converted_onnx"]).is_file() and manifest.built_onnx.path == report["converted_onnx"]
    with vgg_deploy.load(plan) as runner:
        assert runner.name == f"trt-{precision}" and runner.batch_range == (1, 32)
        logits = runner.infer_all(digits.images, batch_size=24)  # 24, 24, 16: shapes change within the profile
    figures = parity(f"build-trt {precision} vs eager fp32 ({target.name})", logits, digits.eager)
    cosine, top1 = FLOOR[precision]
    assert figures["cosine"] >= cosine and figures["top1"] >= top1
    built_graph = onnx_logits(manifest.built_onnx.path, digits.images)  # what TensorRT was given
    parity(f"build-trt {precision} vs its own ONNX on ONNX Runtime ({target.name})", logits, built_graph)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_build_trt_from_ready_fp16_and_qdq_onnx(target, digits, engines, tmp_path, precision):
    ready = tmp_path / f"ready.{precision}.onnx"
    shutil.copy(engines[precision][1]["converted_onnx"], ready)  # made by the build above: FP16 / Q/DQ graph
    plan = tmp_path / f"ready.{precision}.plan"
    report = json.loads(cli(build_trt(ready, plan, "--json")).stdout)
    assert report["precision"] == precision and report["converted_onnx"] is None  # built as it is
    with vgg_deploy.load(plan) as runner:
        logits = runner.infer_all(digits.images)
    figures = parity(f"build-trt ready {precision} ONNX vs eager fp32 ({target.name})", logits, digits.eager)
    assert figures["cosine"] >= FLOOR[precision][0] and figures["top1"] >= FLOOR[precision][1]


def test_build_trt_cache_force_changed_onnx_and_foreign_manifest(target, digits, tmp_path):
    onnx, plan = tmp_path / "m.onnx", tmp_path / "m.plan"
    shutil.copy(digits.onnx, onnx)
    first = cli(build_trt(onnx, plan))
    assert f"wrote {plan}" in first.stdout and layers_path(plan).is_file()
    built = read_manifest(plan)
    again = cli(build_trt(onnx, plan))
    assert "is up to date" in again.stdout and read_manifest(plan) == built
    forced = json.loads(cli(build_trt(onnx, plan, "--force", "--json")).stdout)
    assert forced["reused"] is False
    torch.manual_seed(5)  # another model under the same file name: the engine must follow it
    export_onnx(create_model("vgg_digits"), onnx, verify=False)
    changed = json.loads(cli(build_trt(onnx, plan, "--json")).stdout)
    assert changed["reused"] is False and read_manifest(plan).source_onnx.sha256 != built.source_onnx.sha256

    manifest = read_manifest(plan)
    if target.gpu is not None:
        target.gpu.calls.clear()
    for foreign, needle in (({"gpu_name": "Another GPU", "compute_capability": "7.5"}, "compute capability 7.5"),
                            ({"tensorrt_version": "9.3.0.1"}, "TensorRT 9.3.0.1")):
        write_manifest(dataclasses.replace(manifest, **foreign), plan)
        one_error_line(cli(["infer", str(plan), str(digits.pngs[0])], code=1), needle, "vgg-deploy build-trt",
                       "--force")
    if target.gpu is not None:  # vgg-deploy decided from the manifest: TensorRT never saw the bytes
        assert "Runtime.deserialize_cuda_engine" not in target.gpu.names()


# -- 2. infer ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_infer_plan_gives_the_top_k_of_infer_onnx(target, digits, engines, precision):
    plan, report = engines[precision]
    images = [str(p) for p in digits.pngs]
    engine_rows = json.loads(cli(["infer", str(plan), *images, "--top-k", "3", "--json"]).stdout)
    onnx_rows = json.loads(cli(["infer", str(digits.onnx), *images, "--top-k", "3", "--json"]).stdout)
    assert {r["backend"] for r in engine_rows} == {f"trt-{precision}"}
    differences = [abs(a["probability"] - b["probability"]) for e, o in zip(engine_rows, onnx_rows)
                   for a, b in zip(e["top_k"], o["top_k"])]
    top1 = np.mean([e["top_k"][0]["index"] == o["top_k"][0]["index"] for e, o in zip(engine_rows, onnx_rows)])
    print(f"PARITY infer {precision} .plan vs fp32 .onnx ({target.name}): top-1 agreement {top1:.0%}, "
          f"max probability diff {max(differences):.2g} over the top-3 of {len(images)} images")
    assert top1 == 1.0
    if precision == "fp32":  # IEEE fp32 both: the same ranking and (nearly) the same probabilities
        assert [[s["index"] for s in r["top_k"]] for r in engine_rows] == \
            [[s["index"] for s in r["top_k"]] for r in onnx_rows]
        assert max(differences) < 1e-4


# -- 3. bench ---------------------------------------------------------------------------------------------------------

def _bench_rows(out: Path) -> tuple[dict, dict]:
    report = json.loads((out / "report.json").read_text())
    return report, {(r["backend"], r["batch_size"]): r for r in report["results"]}


def _check_trt_rows(report: dict, rows: dict, batch_sizes: tuple[int, ...], what: str) -> None:
    for precision in ("fp32", "fp16", "int8"):
        for batch in batch_sizes:
            row = rows[(f"trt-{precision}", batch)]
            assert row["status"] == "ok", (row["backend"], row["reason"])
            p = row["parity"]
            print(f"PARITY {what} trt-{precision} b{batch} vs eager fp32: max abs diff {p['max_abs_diff']:.3g}, "
                  f"cosine {p['cosine']:.7f}, top-1 agreement {p['top1_agreement']:.1%} ({p['samples']} images)")
            assert p["cosine"] >= FLOOR[precision][0] and p["top1_agreement"] >= FLOOR[precision][1]
            assert row["measurement"]["images_per_s"] > 0 and row["runner"] == f"trt-{precision}"


def test_bench_cuda_group_builds_and_measures_every_engine(target, digits, tmp_path):
    """The README's GPU command: trt-fp16 and trt-int8 are made from the model (calibrated on the digits, the
    default data of vgg_digits), in fresh worker processes."""
    out = tmp_path / "bench"
    cli(bench_args("--model", "vgg_digits", "--weights", str(digits.checkpoint), "--device", "cuda",
                   "--backends", "cuda", "--batch-sizes", "4", "--iterations", "3", "--warmup", "1",
                   "--eval-samples", "48", out=out))  # with the GPU peak (skipped with its reason on a CPU torch)
    report, rows = _bench_rows(out)
    _check_trt_rows(report, rows, (4,), "bench (workers)")
    skipped = {s["backend"]: s["reason"] for s in report["skipped"]}
    if not torch.cuda.is_available():  # the torch CUDA rows say why they did not run
        assert "cannot use CUDA" in skipped["torch"] and "cannot use CUDA" in skipped["torch-fp16"]
    assert all(rows[(f"trt-{p}", 4)]["subprocess"] for p in ("fp32", "fp16", "int8"))
    assert report["artifacts"]["plan-int8"]["origin"] == "built by vgg-deploy build-trt"
    assert report["inputs"]["calibration"] is not None


def test_bench_with_calib_data_folder(target, digits, tmp_path):
    calib = tmp_path / "calib"
    write_digits_folder(calib, limit=96)
    out = tmp_path / "bench"
    cli(bench_args("--model", "vgg_digits", "--weights", str(digits.checkpoint), "--device", "cuda",
                   "--backends", "trt-fp32,trt-fp16,trt-int8", "--calib-data", str(calib), "--calib-samples", "64",
                   "--batch-sizes", "1,4", "--iterations", "2", "--warmup", "0", "--eval-samples", "32",
                   "--in-process", "--no-peak", out=out))
    report, rows = _bench_rows(out)
    _check_trt_rows(report, rows, (1, 4), "bench --calib-data folder")
    assert str(calib) in report["inputs"]["calibration"]


def test_bench_an_engine_alone(target, digits, engines, tmp_path):
    """`bench x.plan` (on the GPU: engines run nowhere else): the model's facts from the manifest; the reference
    from the source ONNX it names."""
    plan = engines["int8"][0]
    out = tmp_path / "bench"
    args = (str(plan), "--batch-sizes", "2", "--iterations", "2", "--eval-samples", "32", "--in-process", "--no-peak")
    cli(bench_args(*args, out=out))
    report, rows = _bench_rows(out)
    row = rows[("trt-int8", 2)]
    assert row["status"] == "ok" and "source ONNX named in the engine's manifest" in report["reference"]["backend"]
    print(f"PARITY bench x.plan alone (int8) vs ONNX Runtime fp32 on its source ONNX: cosine "
          f"{row['parity']['cosine']:.7f}, top-1 agreement {row['parity']['top1_agreement']:.1%}")
    assert row["parity"]["top1_agreement"] >= FLOOR["int8"][1]
    assert report["model"]["name"] == "vgg_digits" and report["inputs"]["labelled"]  # digits, from the manifest

    moved = digits.onnx.with_name("moved.onnx")
    digits.onnx.rename(moved)
    try:
        cli(bench_args(*args, out=tmp_path / "alone"))
    finally:
        moved.rename(digits.onnx)
    report, rows = _bench_rows(tmp_path / "alone")
    assert rows[("trt-int8", 2)]["status"] == "ok" and report["reference"]["backend"].startswith("no reference")
    assert rows[("trt-int8", 2)]["parity"] == {"nonfinite": 0, "note": "no reference"}


# -- 4. triton-repo and serve: tests/test_serve.py (serving venv) ------------------------------------------------


# -- 5. a runner on device 1, called from a worker thread -----------------------------------------------------------

def test_runner_on_device_1_runs_there_from_a_worker_thread(digits, engines, monkeypatch, tmp_path):
    two = use_target(monkeypatch, tmp_path, device_count=2)
    try:
        if two.device_count < 2:
            pytest.skip(f"needs two GPUs; {two.name} has {two.device_count}")
        plan = engines["fp32"][0]
        runner = TensorRTRunner(plan, device=1)
        runner.activate()  # on this thread, which it leaves with device 1 current
        results: dict[str, object] = {}

        def work() -> None:  # a fresh thread starts with device 0 current, as PyTriton's callbacks do
            try:
                results["logits"] = runner.infer(digits.images[:8])
            except Exception as exc:  # reported below
                results["error"] = exc
            finally:
                runner.deactivate()

        thread = threading.Thread(target=work)
        thread.start()
        thread.join(60)
        assert "error" not in results, results.get("error")
        np.testing.assert_allclose(results["logits"], digits.eager[:8], atol=1e-3)
        if two.gpu is not None:
            assert two.gpu.executed_on == [1] and two.gpu.device_memory == {} and two.gpu.streams == {}
    finally:
        forget_target()


# -- 6. the Python API ----------------------------------------------------------------------------------------------

def test_load_plan_predict_images_and_infer_arrays(target, digits, engines):
    plan = engines["int8"][0]
    pictures = [Image.open(p) for p in digits.pngs]
    with vgg_deploy.load(plan) as model:
        by_path = model.predict(digits.pngs, top_k=3)
        by_image = model.predict(pictures, top_k=3)
        logits = model.infer(digits.images[:16])
        assert model.infer_all(digits.images[:0]).shape == (0, 10)
    with vgg_deploy.load(digits.onnx) as fp32:
        expected = fp32.predict(digits.pngs, top_k=3)
    assert [p.best.index for p in by_path] == [p.best.index for p in by_image] == [p.best.index for p in expected]
    assert by_path[0].source == str(digits.pngs[0]) and by_image[0].source == "<image 0>"
    assert by_path[0].best.label == str(by_path[0].best.index)  # the manifest's labels: "0".."9"
    figures = parity(f"vgg_deploy.load(int8 plan).infer vs eager fp32 ({target.name})", logits, digits.eager[:16])
    assert figures["top1"] >= FLOOR["int8"][1]
