"""Bad inputs, faults and interruptions: every case ends in one `Error:` line (or a clean stop), leaves nothing
half-written and never overwrites an input.

Read-only folders and full disks are simulated by monkeypatching the `os` calls that create files and folders to
raise EACCES / ENOSPC for paths under one folder, so they run everywhere (also as root, also without a tmpfs).
Interruptions are deterministic: tests/blocked_command.py runs a command with one step blocked on a file this test
controls, the test sends SIGTERM or SIGKILL there, then checks what is left and that the next run cleans it up.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli_helpers import one_error_line
from vgg_deploy.artifacts import atomic_output, remove_stale_temps, temp_prefix
from vgg_deploy.cli import main
from vgg_deploy.models import create_model

TESTS = Path(__file__).resolve().parent
READY_TIMEOUT_S = 300  # a bound on a wait for an event, not a timing assumption


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A tiny fp32 ONNX, its checkpoint (.pth) and a bench report: the inputs of the commands below."""
    root = tmp_path_factory.mktemp("inputs")
    torch.manual_seed(0)
    model = create_model("vgg_tiny")
    torch.save(model.state_dict(), root / "tiny.pth")
    result = CliRunner().invoke(main, ["export", "--model", "vgg_tiny", "--weights", str(root / "tiny.pth"),
                                       "-o", str(root / "tiny.onnx")])
    assert result.exit_code == 0, result.output
    return {"onnx": root / "tiny.onnx", "pth": root / "tiny.pth"}


def _run(args: list[str]):
    return CliRunner().invoke(main, [str(a) for a in args])


# One row per command that writes something: how to call it with OUT as its output. A new command is covered by
# adding a row. `folder`: OUT is a folder to create rather than a file.
Row = namedtuple("Row", "name argv folder")
COMMANDS = [
    Row("export", lambda f, out: ["export", "--model", "vgg_tiny", "-o", out], False),
    Row("quantize", lambda f, out: ["quantize", f["onnx"], "--precision", "fp16", "-o", out], False),
    Row("build-trt", lambda f, out: ["build-trt", f["onnx"], "-o", out], False),
    Row("digits", lambda f, out: ["digits", "-o", out, "--limit", "20"], True),
    Row("bench", lambda f, out: ["bench", f["onnx"], "--backends", "ort", "-o", out], True),
    Row("triton-repo", lambda f, out: ["triton-repo", f["onnx"], "-o", out], True),
    Row("loadtest", lambda f, out: ["loadtest", "127.0.0.1:9", "-o", out], True),
    Row("report", lambda f, out: ["report", f["onnx"].with_name("report.json"), "-o", out], True),
    Row("zoo", lambda f, out: ["zoo", "--models", "vgg_tiny", "--backends", "torch", "--iterations", "1", "-o", out],
        True),
    Row("sensitivity", lambda f, out: ["sensitivity", f["onnx"], "--calib-data", "synthetic", "--calib-samples", "4",
                                       "-o", out], False),
]


def _output_name(row: Row) -> str:
    return "out" if row.folder else {"build-trt": "model.plan", "sensitivity": "sensitivity.md"}.get(row.name, "model.onnx")


def _refuse(monkeypatch: pytest.MonkeyPatch, folder: Path, code: int) -> None:
    """Make creating any file or folder under `folder` fail with `code`, as a read-only or full file system does."""
    folder = folder.resolve()

    def guarded(real: Callable) -> Callable:
        def call(path, *args, **kwargs):
            if Path(os.fspath(path)).resolve().is_relative_to(folder):
                raise OSError(code, os.strerror(code), os.fspath(path))
            return real(path, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "open", guarded(os.open))
    monkeypatch.setattr(os, "mkdir", guarded(os.mkdir))


@pytest.fixture(scope="module")
def report_json(files) -> Path:
    """A report.json next to the inputs for the `report` row (the schema is checked only after the output path)."""
    path = files["onnx"].with_name("report.json")
    path.write_text("{}")
    return path


@pytest.mark.parametrize("row", COMMANDS, ids=[r.name for r in COMMANDS])
def test_a_file_in_the_way_of_the_output_folder_is_one_line(row, files, report_json, tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    out = tmp_path / "afile" / _output_name(row)
    result = _run(row.argv(files, out))
    one_error_line(result, "afile", "is a file", code=None)
    assert (tmp_path / "afile").read_text() == "not a folder"


@pytest.mark.parametrize("code, words", [(errno.EACCES, "permission denied"), (errno.ENOSPC, "no space left")],
                         ids=["read-only", "disk-full"])
@pytest.mark.parametrize("row", COMMANDS, ids=[r.name for r in COMMANDS])
def test_a_read_only_or_full_output_folder_is_one_line_before_any_work(row, code, words, files, report_json,
                                                                     tmp_path, monkeypatch):
    target = tmp_path / "locked"
    target.mkdir()
    _refuse(monkeypatch, target, code)
    result = _run(row.argv(files, target / _output_name(row)))
    one_error_line(result, str(target), words, code=None)
    assert list(target.iterdir()) == []


def test_too_little_free_space_is_refused_before_the_export(files, tmp_path, monkeypatch):
    import vgg_deploy.artifacts as artifacts

    monkeypatch.setattr(artifacts.shutil, "disk_usage", lambda path: SimpleNamespace(total=10**9, used=10**9, free=1000))
    result = _run(["export", "--model", "vgg_tiny", "-o", tmp_path / "m.onnx"])
    one_error_line(result, "m.onnx", "only 1 kB free", code=None)
    assert list(tmp_path.iterdir()) == []


def test_a_disk_that_fills_up_while_writing_is_one_line_and_leaves_nothing(files, tmp_path, monkeypatch):
    import onnx

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(onnx, "save_model", full)
    result = _run(["quantize", files["onnx"], "--precision", "fp16", "-o", tmp_path / "m.fp16.onnx"])
    one_error_line(result, "m.fp16.onnx", "no space left", code=None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link"])
def test_an_output_that_is_the_input_is_refused(how, files, tmp_path):
    source = tmp_path / "model.onnx"
    shutil.copy(files["onnx"], source)
    before = source.read_bytes()
    out = {"same path": source, "symlink": tmp_path / "link.onnx", "hard link": tmp_path / "hard.onnx"}[how]
    if how == "symlink":
        out.symlink_to(source)
    elif how == "hard link":
        os.link(source, out)
    result = _run(["quantize", source, "--precision", "fp16", "-o", out])
    one_error_line(result, "input file", "destroy", code=None)
    assert source.read_bytes() == before


def test_export_refuses_to_overwrite_its_checkpoint(files, tmp_path):
    checkpoint = tmp_path / "self.pth"
    shutil.copy(files["pth"], checkpoint)
    before = checkpoint.read_bytes()
    result = _run(["export", "--model", "vgg_tiny", "--weights", checkpoint, "-o", checkpoint])
    one_error_line(result, "self.pth", "input file", code=None)
    assert checkpoint.read_bytes() == before


def test_an_opset_the_exporter_cannot_write_is_refused_with_the_range(tmp_path):
    import onnx

    result = _run(["export", "--model", "vgg_tiny", "--opset", "99", "-o", tmp_path / "m.onnx"])
    one_error_line(result, "opset 99", f"17 to {onnx.defs.onnx_opset_version()}", code=None)
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("model, size, words", [
    ("vgg_digits", "100000", "2 GB file limit"),  # a flatten classifier's weights grow with the input
    ("vgg11", "60000", "GB of activations"),  # an avgpool classifier: the activations grow
])
def test_a_huge_input_size_is_refused_from_an_estimate(model, size, words, tmp_path):
    result = _run(["export", "--model", model, "--input-size", size, "-o", tmp_path / "m.onnx"])
    one_error_line(result, "--input-size", words, code=None)


# ---- interruptions ----------------------------------------------------------------------------------------------

def _blocked(tmp_path: Path, target: str, args: list) -> tuple[subprocess.Popen, Path]:
    """Start a command blocked at `target`; return it once it is there, and the file that releases it."""
    ready, release = tmp_path / "ready", tmp_path / "release"
    ready.unlink(missing_ok=True)
    release.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, str(TESTS / "blocked_command.py"), str(ready), str(release), target, "--", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ),  # PYTHONPATH inherited
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"never reached {target}: {process.communicate()[0].decode()[-2000:]}")
        time.sleep(0.02)
    return process, release


def _debris(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


# (name, blocked step, arguments with OUT as the output folder, output name)
INTERRUPTIONS = [
    # atomic_output's temporary file, as `export` writes a 500 MB VGG-16 (fp16 conversion: same code, faster)
    ("quantize-fp16", "onnx:save_model",
     lambda f, out: ["quantize", f["onnx"], "--precision", "fp16", "-o", out / "m.fp16.onnx"], "m.fp16.onnx"),
    ("quantize-int8", "onnxruntime.quantization.quantize:create_calibrator",
     lambda f, out: ["quantize", f["onnx"], "--precision", "int8", "--calib-data", "synthetic",
                     "--calib-samples", "8", "-o", out / "m.int8.onnx"], "m.int8.onnx"),
    ("digits", "PIL.Image:Image.save", lambda f, out: ["digits", "-o", out / "d", "--limit", "20"], "d"),
]


@pytest.mark.parametrize("name, target, argv, output", INTERRUPTIONS, ids=[i[0] for i in INTERRUPTIONS])
def test_sigterm_cleans_up_like_ctrl_c(name, target, argv, output, files, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    process, _ = _blocked(tmp_path, target, argv(files, out))
    assert _debris(out), "the command had started writing"
    process.send_signal(signal.SIGTERM)
    text = process.communicate(timeout=READY_TIMEOUT_S)[0].decode()
    assert process.returncode != 0, text
    assert "Traceback" not in text
    assert list(out.iterdir()) == [], "SIGTERM left files behind"


@pytest.mark.parametrize("name, target, argv, output", INTERRUPTIONS, ids=[i[0] for i in INTERRUPTIONS])
def test_the_next_run_removes_what_a_sigkill_left(name, target, argv, output, files, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    process, _ = _blocked(tmp_path, target, argv(files, out))
    process.kill()
    process.wait()
    left = _debris(out)
    assert left and all(f"+{process.pid}+" in n for n in left), left
    # The next run (released at once) finishes and removes the dead writer's debris; a live writer's stays.
    alive = out / (temp_prefix("someone-else.onnx") + "x.tmp")  # this test process: alive
    alive.touch()
    (tmp_path / "release").touch()
    result = subprocess.run([sys.executable, str(TESTS / "blocked_command.py"), str(tmp_path / "r2"),
                             str(tmp_path / "release"), target, "--", *map(str, argv(files, out))],
                            capture_output=True, text=True, env=dict(os.environ), timeout=READY_TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / output).exists()
    assert _debris(out) == [alive.name]


def test_a_bench_worker_cleans_up_on_sigterm():
    """The worker installs its SIGTERM handler first thing; /proc says when (SigCgt), so no sleep decides."""
    worker = subprocess.Popen([sys.executable, "-m", "vgg_deploy.bench.worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _catches(worker.pid, signal.SIGTERM):
        assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()[1].decode()[-2000:]
        time.sleep(0.02)
    worker.send_signal(signal.SIGTERM)  # it now waits for its spec on stdin
    _, err = worker.communicate(timeout=READY_TIMEOUT_S)
    assert worker.returncode == 128 + signal.SIGTERM, err.decode()[-2000:]
    assert b"Traceback" not in err


def _catches(pid: int, signum: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    return False


def test_a_dead_writer_on_another_host_is_left_alone(tmp_path):
    other = tmp_path / ".m.onnx.otherhost+1+1-x.tmp"
    other.touch()
    dead = tmp_path / (temp_prefix("m.onnx").replace(f"+{os.getpid()}+", "+999999999+") + "x.tmp")
    dead.touch()
    assert remove_stale_temps(tmp_path) == [dead]
    assert other.exists() and not dead.exists()


def test_onnxruntime_calibration_scratch_stays_in_our_folder(files, tmp_path, monkeypatch):
    """ONNX Runtime's quantizer makes ort.quant.* folders with tempfile: they must land in our scratch folder."""
    import tempfile

    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    seen: list[str] = []
    real = tempfile.TemporaryDirectory.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        seen.append(self.name)

    monkeypatch.setattr(tempfile.TemporaryDirectory, "__init__", spy)
    out = tmp_path / "out"
    result = _run(["quantize", files["onnx"], "--precision", "int8", "--calib-data", "synthetic",
                   "--calib-samples", "8", "-o", out / "m.int8.onnx"])
    assert result.exit_code == 0, result.output
    ort = [Path(s) for s in seen if Path(s).name.startswith("ort.quant.")]
    assert ort and all(s.parent.name.startswith(".quantize.") and s.parent.name.endswith(".tmp") for s in ort), seen
    assert list(system_tmp.iterdir()) == [] and sorted(p.name for p in out.iterdir()) == ["m.int8.onnx"]


def test_concurrent_digits_to_one_folder_loser_gets_one_line(tmp_path):
    """Two writers of one folder: whoever renames second is told so, and the folder gets normal permissions."""
    from vgg_deploy.artifacts import OutputError, atomic_folder

    out = tmp_path / "d"
    with atomic_folder(out) as first:
        (first / "a").write_text("1")
        with pytest.raises(OutputError, match="another process wrote it"):
            with atomic_folder(out) as second:
                (second / "b").write_text("2")
                out.mkdir()
                (out / "winner").write_text("x")
        shutil.rmtree(out)
    assert (out / "a").exists()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert _debris(tmp_path) == []


def test_atomic_output_translates_a_full_disk_while_writing(tmp_path):
    from vgg_deploy.artifacts import OutputError

    with pytest.raises(OutputError, match="no space left"):
        with atomic_output(tmp_path / "x.bin"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


# ---- models, images, precision ----------------------------------------------------------------------------------

def test_infer_takes_a_safetensors_checkpoint_with_its_config_and_a_pth_with_model(tmp_path):
    from PIL import Image

    from vgg_deploy.models.saved import save_checkpoint

    torch.manual_seed(0)
    model = create_model("vgg_digits")
    save_checkpoint(model, tmp_path / "d.safetensors")
    torch.save(model.state_dict(), tmp_path / "d.pth")
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4).save(tmp_path / "x.png")
    answers = []
    for args in (["d.safetensors"], ["d.pth", "--model", "vgg_digits"]):
        result = _run(["infer", tmp_path / args[0], tmp_path / "x.png", "--json", *args[1:]])
        assert result.exit_code == 0, result.output
        answers.append(json.loads(result.output)[0]["top_k"])
    assert answers[0] == answers[1]
    result = _run(["infer", tmp_path / "d.pth", tmp_path / "x.png"])
    one_error_line(result, "--model NAME", code=None)
    # a .pth stays a plain state dict: torchvision-style strict loading takes it
    create_model("vgg_digits").load_state_dict(torch.load(tmp_path / "d.pth", weights_only=True), strict=True)


def test_a_checkpoint_of_another_model_says_which_it_is(tmp_path):
    from vgg_deploy.models.saved import save_checkpoint

    save_checkpoint(create_model("vgg_tiny", num_classes=7), tmp_path / "t.safetensors")
    result = _run(["export", "--model", "vgg_digits", "--weights", tmp_path / "t.safetensors",
                   "-o", tmp_path / "m.onnx"])
    one_error_line(result, "is a vgg_tiny", "--model vgg_tiny", code=None)


def test_a_fixed_batch_onnx_can_be_benchmarked(tmp_path):
    onnx_path = tmp_path / "b4.onnx"
    assert _run(["export", "--model", "vgg_tiny", "--fixed-batch", "4", "-o", onnx_path]).exit_code == 0
    result = _run(["bench", onnx_path, "--backends", "ort", "--batch-sizes", "4", "--iterations", "3",
                   "--warmup", "1", "--no-peak", "--in-process", "-o", tmp_path / "b", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert [(r["backend"], r["batch_size"], r["status"]) for r in report["results"]] == [("ort", 4, "ok")]


def _image_modes(tmp_path: Path) -> dict[str, Path]:
    """One 40x40 grayscale picture in every PIL mode a user's file may have."""
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8)
    gray = Image.fromarray(pixels, "L")
    paths = {"L": tmp_path / "g8.png", "I;16": tmp_path / "g16.png", "F": tmp_path / "gf.tiff",
             "P": tmp_path / "gp.png", "LA": tmp_path / "gla.png"}
    gray.save(paths["L"])
    Image.fromarray(pixels.astype(np.uint16) * 257).save(paths["I;16"])
    Image.fromarray(pixels.astype(np.float32) / 255.0, "F").save(paths["F"])
    gray.convert("P").save(paths["P"])
    Image.merge("LA", [gray, Image.new("L", gray.size, 255)]).save(paths["LA"])
    for mode, path in paths.items():
        with Image.open(path) as opened:
            assert opened.mode == mode, (path, opened.mode)
    return paths


@pytest.mark.parametrize("model", ["vgg_digits", "vgg_tiny"])  # one and three channels
def test_16_bit_float_palette_and_alpha_images_read_like_the_8_bit_one(model, tmp_path):
    from vgg_deploy.data import preprocess_image
    from vgg_deploy.models import model_config

    config = model_config(model)
    paths = _image_modes(tmp_path)
    reference = preprocess_image(paths["L"], config)
    step = 1.0 / 255.0 / min(config.std)  # one 8-bit grey level after normalisation
    for mode, path in paths.items():
        assert np.abs(preprocess_image(path, config) - reference).max() <= 1.01 * step, mode


def test_calibration_folders_read_16_bit_images_too(tmp_path):
    from vgg_deploy.data import load_samples
    from vgg_deploy.models import model_config

    folder = tmp_path / "imgs"
    folder.mkdir()
    paths = _image_modes(folder)
    config = model_config("vgg_digits")
    samples = load_samples(folder, config, show_progress=False)
    assert len(samples) == len(paths) and not samples.skipped
    step = 1.0 / 255.0 / min(config.std)
    assert np.ptp(samples.images.reshape(len(paths), -1), axis=0).max() <= 1.01 * step


def test_fp16_keeps_an_overflowing_layer_and_its_output_in_fp32(files, tmp_path):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(files["onnx"]))
    last = [n for n in model.graph.node if n.op_type == "Gemm"][-1]
    weights = {i.name: i for i in model.graph.initializer}[last.input[1]]
    values = numpy_helper.to_array(weights).copy()
    values[0, 0] = 1e6
    weights.CopyFrom(numpy_helper.from_array(values, weights.name))
    source = tmp_path / "big.onnx"
    onnx.save(model, str(source))
    result = _run(["quantize", source, "--precision", "fp16", "-o", tmp_path / "big.fp16.onnx", "--json"])
    assert result.exit_code == 0, result.output
    converted = onnx.load(str(tmp_path / "big.fp16.onnx"))
    assert converted.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    kept = {i.name: i for i in converted.graph.initializer}[weights.name]
    assert kept.data_type == onnx.TensorProto.FLOAT and numpy_helper.to_array(kept).max() == 1e6
    facts = json.loads(result.output[result.output.index("{"):])
    assert facts["fp32_nodes"] == [last.name]


def test_infer_flags_nan_logits_instead_of_printing_them(files, tmp_path):
    import onnx
    from onnx import numpy_helper
    from PIL import Image

    model = onnx.load(str(files["onnx"]))
    last = [n for n in model.graph.node if n.op_type == "Gemm"][-1]
    weights = {i.name: i for i in model.graph.initializer}[last.input[1]]
    values = numpy_helper.to_array(weights).copy()
    values[:] = np.inf
    weights.CopyFrom(numpy_helper.from_array(values, weights.name))
    broken = tmp_path / "broken.onnx"
    onnx.save(model, str(broken))
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "x.png")
    one_error_line(_run(["infer", broken, tmp_path / "x.png"]), "NaN/Inf logits for 1 of 1 images", code=None)


def test_nan_weights_are_blamed_on_the_checkpoint(files, tmp_path):
    state = torch.load(files["pth"], weights_only=True)
    state["classifier.0.weight"][0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pth")
    one_error_line(_run(["export", "--model", "vgg_tiny", "--weights", tmp_path / "nan.pth", "-o", tmp_path / "m.onnx"]),
                   "classifier.0.weight has 1 NaN/Inf", code=None)


@pytest.mark.parametrize("kind", ["empty", "fifo", "folder"])
def test_empty_fifo_and_folder_inputs_are_one_line_without_hanging(kind, tmp_path):
    path = tmp_path / "model.onnx"
    if kind == "empty":
        path.touch()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    words = {"empty": "is empty", "fifo": "not a regular file", "folder": "is a folder"}[kind]
    if kind != "folder":  # click refuses a folder for --onnx itself
        one_error_line(_run(["quantize", path, "--precision", "fp16", "-o", tmp_path / "o.onnx"]), words, code=None)
    from vgg_deploy.artifacts import InputFileError, check_input_file

    with pytest.raises(InputFileError, match=words):
        check_input_file(path, what="an ONNX file")


def test_a_pickle_that_safe_loading_refuses_is_not_a_plain_state_dict(tmp_path):
    import datetime

    torch.save({"x": datetime.date(2020, 1, 1)}, tmp_path / "p.pth")  # a Python object, not a tensor
    result = _run(["export", "--model", "vgg_tiny", "--weights", tmp_path / "p.pth", "-o", tmp_path / "m.onnx"])
    one_error_line(result, "not a plain state dict", "datetime.date", code=None)
    assert "weights_only" not in result.output and "Warning" not in result.output and "safe_globals" not in result.output


def test_a_folder_as_weights_is_called_a_folder(tmp_path):
    one_error_line(_run(["export", "--model", "vgg_tiny", "--weights", tmp_path, "-o", tmp_path / "m.onnx"]),
                   "is a folder", code=None)


def test_a_shape_mismatch_names_the_config_that_fits(tmp_path):
    from safetensors.torch import save_file

    model = create_model("vgg16", width_divisor=8, classifier_width=32, num_classes=7)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "v.safetensors"))
    result = _run(["export", "--model", "vgg16", "--weights", tmp_path / "v.safetensors", "--num-classes", "10",
                   "-o", tmp_path / "m.onnx"])
    one_error_line(result, "(7, 32) vs (10, 32)", "--num-classes 7 --width-divisor 8 --classifier-width 32", code=None)


def test_calibration_reports_the_images_it_used(files, tmp_path):
    result = _run(["quantize", files["onnx"], "--precision", "int8", "--calib-data", "synthetic",
                   "--calib-samples", "10", "--calib-batch", "3", "--json", "-o", tmp_path / "q.onnx"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output[result.output.index("{"):])
    assert facts["calibration_samples"] == 9 and facts["calibration_batch"] == 3


def test_labels_the_model_cannot_output_are_refused_by_bench(files, tmp_path):
    from PIL import Image

    for label in range(12):  # vgg_tiny has 10 classes
        (tmp_path / "data" / f"c{label:02d}").mkdir(parents=True)
        Image.fromarray(np.full((32, 32, 3), label, np.uint8)).save(tmp_path / "data" / f"c{label:02d}" / "x.png")
    result = _run(["bench", files["onnx"], "--backends", "ort", "--data", tmp_path / "data", "--batch-sizes", "1",
                   "--iterations", "1", "--no-peak", "--in-process", "-o", tmp_path / "b"])
    one_error_line(result, "12 class folders", "10 classes", code=None)
    assert not (tmp_path / "b").exists(), "a refused bench leaves no output folder"


def test_bench_makes_a_truncated_cached_artifact_again(tmp_path):
    args = ["bench", "--model", "vgg_tiny", "--backends", "ort-fp16", "--batch-sizes", "1", "--iterations", "1",
            "--no-peak", "--in-process", "-o", tmp_path / "b"]
    assert _run(args).exit_code == 0
    cached = tmp_path / "b" / "artifacts" / "vgg_tiny.fp16.onnx"
    size = cached.stat().st_size
    with open(cached, "r+b") as fp:
        fp.truncate(size // 2)
    result = _run(args)
    assert result.exit_code == 0, result.output
    assert "making the fp16 ONNX" in result.output and cached.stat().st_size == size


def test_a_damaged_hub_cache_file_is_dropped(tmp_path, monkeypatch):
    from vgg_deploy.models import checkpoint

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    damaged = tmp_path / "checkpoints" / "vgg11-8a719046.pth"
    damaged.write_bytes(b"truncated")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(Exception, match="offline"):
        checkpoint.imagenet_state_dict(create_model("vgg11").config)
    assert not damaged.exists()


def test_a_large_image_under_the_bomb_limit_is_read_without_a_raw_warning(tmp_path, monkeypatch):
    import warnings

    from PIL import Image

    from vgg_deploy.data import preprocess_image
    from vgg_deploy.models import model_config

    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64 - 1)  # over the warning limit, under twice it (an error)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert preprocess_image(tmp_path / "big.png", model_config("vgg_digits")).shape == (1, 32, 32)
