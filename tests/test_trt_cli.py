"""`vgg-deploy build-trt` and `vgg-deploy infer`: help, usage errors, the "not installed" path, and a full run
on the stand-in (tests/fake_tensorrt.py). The flows with parity are in tests/test_trt_flows.py."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from cli_helpers import one_error_line
from fake_tensorrt import FakeGpu, FakeTensorRTConfig, install_fakes
from vgg_deploy.cli import main
from vgg_deploy.export import export_onnx
from vgg_deploy.models import build_vgg, create_model, model_config
from vgg_deploy.trt import manifest_path, read_manifest

INSTALL = 'pip install "vgg-deploy[trt]"'


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory):
    torch.manual_seed(0)
    return export_onnx(create_model("vgg_tiny"), tmp_path_factory.mktemp("onnx") / "tiny.onnx", verify=False).path


@pytest.fixture(scope="module")
def labelled_onnx(tmp_path_factory):
    """vgg_tiny whose metadata names its classes "a".."j"."""
    torch.manual_seed(1)
    model = build_vgg(model_config("vgg_tiny").with_options(labels=tuple("abcdefghij")))
    return export_onnx(model, tmp_path_factory.mktemp("labelled") / "named.onnx", verify=False).path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for i in range(3):
        path = folder / f"img{i}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("command", ["build-trt", "infer"])
def test_help_works_without_tensorrt_torch_or_onnx(command):
    code = ("import sys; sys.modules['tensorrt'] = None\n"
            "from vgg_deploy.cli import main\n"
            f"main(['{command}', '--help'], standalone_mode=False)\n"
            "print(sorted(m for m in ('tensorrt', 'torch', 'onnx', 'onnxruntime', 'cuda') if sys.modules.get(m)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")
    assert ("--hardware-compat" in out) == (command == "build-trt") and ("--top-k" in out) == (command == "infer")


def test_build_trt_without_tensorrt_is_one_line(runner, fp32_onnx, tmp_path, monkeypatch):
    install_fakes(monkeypatch, with_tensorrt=False)
    result = runner.invoke(main, ["build-trt", str(fp32_onnx), "-o", str(tmp_path / "m.plan")])
    one_error_line(result, "TensorRT is not installed", INSTALL, "NVIDIA GPU and driver")
    assert list(tmp_path.iterdir()) == []


def test_build_trt_without_gpu_is_one_line(runner, fp32_onnx, tmp_path, monkeypatch):
    install_fakes(monkeypatch, gpu=FakeGpu(device_error=35))
    result = runner.invoke(main, ["build-trt", str(fp32_onnx), "-o", str(tmp_path / "m.plan")])
    one_error_line(result, "no usable NVIDIA GPU or driver", "cudaErrorInsufficientDriver")


@pytest.mark.parametrize("args, needle", [
    (["--profile", "8:4:32"], "impossible: it needs 1 <= MIN <= OPT <= MAX"),
    (["--profile", "1:2"], "not a batch profile"),
    (["--workspace", "lots"], "not a size"),
    (["--opt-level", "6"], "--opt-level"),
    (["--precision", "int8"], "needs calibration images"),
    (["--hardware-compat", "any"], "--hardware-compat"),
    (["--embed-lean-runtime"], "only applies to --version-compatible"),
], ids=["min>opt", "two-numbers", "workspace", "opt-level", "int8-no-data", "compat", "lean"])
def test_impossible_requests_are_usage_errors_before_tensorrt(runner, fp32_onnx, tmp_path, monkeypatch, args, needle):
    gpu = install_fakes(monkeypatch)
    result = runner.invoke(main, ["build-trt", str(fp32_onnx), *args, "-o", str(tmp_path / "m.plan")])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert gpu.calls == []  # neither TensorRT nor CUDA was touched


def test_fixed_batch_conflict_and_engine_suffix_are_usage_errors(runner, tmp_path, monkeypatch):
    gpu = install_fakes(monkeypatch)
    torch.manual_seed(0)
    fixed = export_onnx(create_model("vgg_tiny"), tmp_path / "b2.onnx", batch=2, verify=False).path
    result = runner.invoke(main, ["build-trt", str(fixed), "--profile", "1:4:8", "-o", str(tmp_path / "m.plan")])
    assert result.exit_code == 2 and "fixed batch of 2" in result.output
    result = runner.invoke(main, ["build-trt", str(fixed), "-o", str(tmp_path / "m.trt")])
    assert result.exit_code == 2 and ".plan or .engine suffix" in result.output
    assert gpu.calls == []


def test_build_trt_records_options_reuses_and_forces(runner, fp32_onnx, tmp_path, monkeypatch):
    install_fakes(monkeypatch)
    plan = tmp_path / "out" / "tiny.plan"
    args = ["build-trt", str(fp32_onnx), "--profile", "1:2:4", "--workspace", "64M",
            "--timing-cache", str(tmp_path / "t.cache"), "-o", str(plan)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {plan}" in result.stdout and "fp32, batch 1:2:4" in result.stdout
    assert "NVIDIA Stand-in GPU (compute capability 8.9), TensorRT 10.13.0.35" in result.stdout
    assert "convolution/GEMM layers: fp32 " in result.stdout
    assert "[build-trt] building the fp32 engine" in result.stderr
    assert read_manifest(plan).build_options["workspace_bytes"] == 64 << 20
    again = runner.invoke(main, [*args, "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["reused"] is True
    forced = runner.invoke(main, [*args, "--force", "--json"])
    report = json.loads(forced.stdout)
    assert report["reused"] is False and report["profile"] == {"min": 1, "opt": 2, "max": 4}


def test_same_cc_on_old_tensorrt_is_a_usage_error(runner, fp32_onnx, tmp_path, monkeypatch):
    install_fakes(monkeypatch, config=FakeTensorRTConfig(version="10.8.0.43"))
    result = runner.invoke(main, ["build-trt", str(fp32_onnx), "--hardware-compat", "same-cc",
                                  "-o", str(tmp_path / "m.plan")])
    assert result.exit_code == 2 and "needs TensorRT >= 10.9" in result.output


# -- infer -------------------------------------------------------------------------------------------------------

def test_infer_on_a_plan_without_tensorrt_is_one_line(runner, fp32_onnx, images, tmp_path, monkeypatch):
    install_fakes(monkeypatch)
    plan = tmp_path / "tiny.plan"
    assert runner.invoke(main, ["build-trt", str(fp32_onnx), "-o", str(plan),
                                "--timing-cache", str(tmp_path / "t.cache")]).exit_code == 0
    install_fakes(monkeypatch, with_tensorrt=False)
    one_error_line(runner.invoke(main, ["infer", str(plan), str(images[0])]), "TensorRT is not installed", INSTALL)
    manifest_path(plan).unlink()
    one_error_line(runner.invoke(main, ["infer", str(plan), str(images[0])]), "no manifest tiny.plan.json", "build-trt")


def test_infer_onnx_text_json_and_labels(runner, labelled_onnx, images, tmp_path):
    result = runner.invoke(main, ["infer", str(labelled_onnx), str(images[0]), "--top-k", "3"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == str(images[0]) and len(lines) == 4 and lines[1].lstrip().startswith("1. ")
    assert lines[1].split()[1] in "abcdefghij" and "%" in lines[1]
    as_json = json.loads(runner.invoke(main, ["infer", str(labelled_onnx), *map(str, images), "--json"]).stdout)
    assert len(as_json) == 3 and as_json[0]["backend"] == "ort-fp32"
    probabilities = [s["probability"] for s in as_json[0]["top_k"]]
    assert probabilities == sorted(probabilities, reverse=True) and len(probabilities) == 5
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"class-{i}" for i in range(10)) + "\n\n")
    renamed = json.loads(runner.invoke(main, ["infer", str(labelled_onnx), str(images[0]), "--labels", str(labels),
                                              "--json"]).stdout)
    assert [s["label"] for s in renamed[0]["top_k"]] == [f"class-{s['index']}" for s in as_json[0]["top_k"]]


def test_infer_labels_that_do_not_fit(runner, labelled_onnx, images, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    result = runner.invoke(main, ["infer", str(labelled_onnx), str(images[0]), "--labels", str(labels)])
    one_error_line(result, str(labels), "2 labels", "10 classes")
    labels.write_text("\n\n")
    one_error_line(runner.invoke(main, ["infer", str(labelled_onnx), str(images[0]), "--labels", str(labels)]),
                    "no labels in it")


def test_infer_needs_images(runner, labelled_onnx):
    result = runner.invoke(main, ["infer", str(labelled_onnx)])
    assert result.exit_code == 2 and "IMAGES" in result.output
