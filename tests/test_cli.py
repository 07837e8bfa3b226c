from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from cli_helpers import one_error_line
from conftest import small_standard
from vgg_deploy.cli import main
from vgg_deploy.export import read_metadata


@pytest.fixture
def runner():
    return CliRunner()


@pytest.mark.parametrize("args", [["--help"], ["export", "--help"], ["info", "--help"], ["--version"]])
def test_help_and_version(runner, args):
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert ("--model NAME" in result.output) == (args[0] == "export")


def test_help_does_not_import_torch():
    code = "import sys; from vgg_deploy.cli import main; main(['export', '--help'], standalone_mode=False); " \
           "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_export_prints_path_size_and_parity(runner, tmp_path):
    out = tmp_path / "sub" / "tiny.onnx"
    result = runner.invoke(main, ["export", "--model", "vgg_tiny", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert f"wrote {out}" in result.stdout and "PASS" in result.stdout and "max abs diff" in result.stdout
    assert "[export] verifying" in result.stderr  # progress goes to stderr


def test_export_json(runner, tmp_path):
    out = tmp_path / "tiny.onnx"
    result = runner.invoke(main, ["export", "--model", "vgg_tiny", "--fixed-batch", "2", "--json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["path"] == str(out) and report["size_bytes"] == out.stat().st_size
    assert report["input_shape"] == [2, 3, 32, 32] and report["parity"]["passed"] is True


@pytest.mark.parametrize("args, needle", [
    (["--model", "vgg17"], "unknown model 'vgg17'; choose one of"),
    (["--model", "vgg_tiny", "--input-size", "big"], "is not a size"),
    (["--model", "vgg_tiny", "--fixed-batch", "0"], "use 'dynamic' or a batch size"),
    (["--model", "vgg_tiny", "--opset", "11"], "--opset"),
    (["--model", "vgg_tiny", "--weights", "nowhere.pth"], "file 'nowhere.pth' does not exist"),
])
def test_usage_errors_exit_2(runner, tmp_path, args, needle):
    result = runner.invoke(main, ["export", *args, "-o", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert not (tmp_path / "x.onnx").exists()


def test_output_that_is_a_directory_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(main, ["export", "--model", "vgg_tiny", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "is a directory" in result.output


def test_corrupt_weights_name_the_file(runner, tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_text("garbage")
    result = runner.invoke(main, ["export", "--model", "vgg_tiny", "--weights", str(bad), "-o", str(tmp_path / "x.onnx")])
    one_error_line(result, str(bad), "cannot read checkpoint")


def test_mismatched_weights_say_what_they_fit(runner, tmp_path):
    ckpt = tmp_path / "vgg13.pth"
    torch.save(small_standard("vgg13").state_dict(), ckpt)
    result = runner.invoke(main, ["export", "--model", "vgg16", "--weights", str(ckpt), "-o", str(tmp_path / "x.onnx")])
    one_error_line(result, str(ckpt), "--model vgg13 --num-classes 10 --width-divisor 8")


def test_input_too_small_is_an_error_not_a_traceback(runner, tmp_path):
    result = runner.invoke(main, ["export", "--model", "vgg16", "--input-size", "16", "-o", str(tmp_path / "x.onnx")])
    one_error_line(result, "at least 32")


def test_failed_export_exits_1_and_leaves_no_file(runner, tmp_path):
    model = small_standard("vgg11")
    state = model.state_dict()
    state["classifier.6.bias"][0] = float("nan")
    ckpt = tmp_path / "nan.pth"
    torch.save(state, ckpt)
    out = tmp_path / "out" / "nan.onnx"
    result = runner.invoke(main, ["export", "--model", "vgg11", "--weights", str(ckpt), "--input-size", "32",
                                  "-o", str(out)])
    # NaN weights are the checkpoint's fault: said before any export, rather than as "ONNX differs from PyTorch"
    one_error_line(result, str(ckpt), "classifier.6.bias has 1 NaN/Inf")
    assert not out.exists() and not out.parent.exists()


def test_checkpoint_export_keeps_its_weights(runner, tmp_path):
    # Width divisor, classifier width and class count all come from the checkpoint.
    model = small_standard("vgg11_bn", input_size=(32, 32))
    ckpt = tmp_path / "w.pth"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    out = tmp_path / "w.onnx"
    result = runner.invoke(main, ["export", "--model", "vgg11_bn", "--weights", str(ckpt), "--input-size", "32",
                                  "-o", str(out)])
    assert result.exit_code == 0, result.output
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32), dtype=np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        np.testing.assert_allclose(session.run(None, {"input": x})[0], model(torch.from_numpy(x)).numpy(), atol=1e-5)
    facts = read_metadata(out)
    assert (facts["width_divisor"], facts["classifier_width"], facts["num_classes"]) == (8, 32, 10)
    assert facts["weights"] == str(ckpt)


def test_info_json(runner):
    result = runner.invoke(main, ["info", "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["torch"]["version"] == torch.__version__
    assert "CPUExecutionProvider" in facts["onnxruntime"]["providers"]
    assert facts["python"] == sys.version.split()[0]
    assert facts["cpu"]["cores"] >= 1
    if facts["tensorrt"]["version"] is None:
        assert facts["tensorrt"]["status"] in ("not installed",) or facts["tensorrt"]["status"].startswith("installed")


def test_info_text(runner):
    result = runner.invoke(main, ["info"])
    assert result.exit_code == 0
    for label in ("Python", "torch", "onnxruntime", "TensorRT", "cuda-python", "GPU"):
        assert any(line.startswith(label) for line in result.stdout.splitlines()), label
