"""The table of formats is the only place suffixes and runners are known: load(), the bench, serve and triton-repo
read it, a new row reaches them, and their unknown-suffix errors list the table's suffixes."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from vgg_deploy import formats
from vgg_deploy.bench.backends import BACKENDS, BenchError, make_runner
from vgg_deploy.bench.prepare import ModelSource, classify_files, open_workspace
from vgg_deploy.devices import device_index, is_cuda
from vgg_deploy.formats import FORMATS, RUNNERS, Format, format_of_kind, formats_named, import_runner, suffixes
from vgg_deploy.runtime import RunnerError, load

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vgg_deploy"

# The modules behind load(), the bench's preparation and workers, serve and triton-repo: none names a suffix.
READERS = ["runtime/load.py", "bench/prepare.py", "bench/workspace.py", "bench/backends.py", "bench/availability.py",
           "serve/facts.py", "serve/server.py", "serve/repository.py", "serve/triton_config.py", "trt/build.py",
           "cli/infer_cmd.py", "cli/serve_cmd.py", "cli/triton_repo_cmd.py"]
SUFFIX_LITERAL = re.compile(r"""["']\.(?:onnx|plan|engine|pt|pth|safetensors)["']""")

TOY_RUNNER = '''
import numpy as np
from vgg_deploy.runtime import BaseRunner


class ToyRunner(BaseRunner):
    """Runs .toy files: ten zero logits per image."""

    def __init__(self, path, *, scale=1.0):
        super().__init__("toy")
        self.path, self.scale = path, scale

    def _activate_impl(self):
        self._input_shape, self._batch_range = (3, 8, 8), (1, None)

    def _infer_impl(self, batch):
        return np.zeros((len(batch), 10), np.float32)

    def _deactivate_impl(self):
        pass
'''


@pytest.fixture
def toy_row(monkeypatch, tmp_path):
    """A .toy format whose runner lives in a module on sys.path, added to the table for one test."""
    (tmp_path / "toy_formats_runner.py").write_text(TOY_RUNNER)
    monkeypatch.syspath_prepend(str(tmp_path))
    row = Format(kind="toy", name="toy", suffixes=(".toy",), runner="toy_formats_runner:ToyRunner", device="any",
                 made_from=None)
    monkeypatch.setattr(formats, "FORMATS", (*FORMATS, row))
    return row


# -- the table itself ---------------------------------------------------------------------------------------------

def test_the_table_is_consistent():
    kinds = [row.kind for row in FORMATS]
    assert len(kinds) == len(set(kinds))
    seen: set[str] = {"model"}
    for row in FORMATS:  # pipeline order: a kind's source comes first
        assert row.made_from is None or row.made_from in seen, row
        seen.add(row.kind)
        assert all(s.startswith(".") and s == s.lower() for s in row.suffixes)
        assert row.device in ("any", "cuda")
    for name in formats.file_types():
        rows = formats_named(name)  # one file type: one set of suffixes, runners, device, Triton platform
        assert len({(r.suffixes, r.runners, r.device, r.triton_platform) for r in rows}) == 1, name
    owners = {s: r.name for r in FORMATS for s in r.suffixes}
    assert all(owners[s] == r.name for r in FORMATS for s in r.suffixes)  # no suffix in two file types
    assert formats.suffixes() == (".pt", ".pth", ".safetensors", ".onnx", ".plan", ".engine")
    assert format_of_kind("plan-int8").made_from == "onnx-int8-tensorrt"
    with pytest.raises(KeyError, match="plan-int8"):
        format_of_kind("plan-int4")


def test_every_runner_imports_without_its_backend():
    for path in {*RUNNERS.values(), *(r for row in FORMATS for r in row.runners)}:
        assert import_runner(path).__name__ == formats.runner_name(path)
    with pytest.raises(ValueError, match="module:Class"):
        import_runner("vgg_deploy.runtime.TorchRunner")
    with pytest.raises(ValueError, match="cannot be imported"):
        import_runner("no_such_module_xyz:Runner")


def test_bench_backends_run_what_the_table_says():
    for backend in BACKENDS.values():
        if backend.factory is None:
            row = format_of_kind(backend.artifact)
            assert backend.runner in row.runners, backend.name
            assert row.device == "any" or backend.device == row.device, backend.name


def test_no_reader_names_a_suffix_or_the_tensorrt_hint():
    for rel in READERS:
        text = (PACKAGE / rel).read_text(encoding="utf-8")
        assert not SUFFIX_LITERAL.search(text), f"{rel} names a suffix: {SUFFIX_LITERAL.search(text)}"
    hint = [p for p in PACKAGE.rglob("*.py") if "(needs an NVIDIA GPU and driver)" in p.read_text(encoding="utf-8")]
    assert hint == [PACKAGE / "formats.py"]


def test_device_index():
    assert [device_index(d) for d in ("cpu", "cuda", "cuda:0", "cuda:3")] == [0, 0, 0, 3]
    assert is_cuda("cuda:1") and is_cuda("cuda") and not is_cuda("cpu")


# -- load() ---------------------------------------------------------------------------------------------------------

def test_load_imports_no_tensorrt_package_until_an_engine_is_opened():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from code_shape import imports_of, module_name  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    modules = {module_name(p, ROOT) for p in PACKAGE.rglob("*.py")}
    for rel in ("runtime/load.py", "bench/backends.py", "bench/availability.py", "serve/server.py"):
        imported = imports_of(PACKAGE / rel, ROOT, modules)  # lazy imports too: the runner comes by "module:Class"
        assert not any(m.startswith("vgg_deploy.trt") for m in imported), (rel, imported)
    code = "import sys, vgg_deploy.runtime.load; print('vgg_deploy.trt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_load_runs_a_new_row_through_its_module_class(toy_row, tmp_path):
    (tmp_path / "m.TOY").write_bytes(b"toy")  # suffixes match in any case
    with load(tmp_path / "m.TOY", scale=2.0) as runner:
        assert type(runner).__name__ == "ToyRunner" and getattr(runner, "scale") == 2.0
        assert runner.input_shape == (3, 8, 8)
    with pytest.raises(RunnerError, match="ToyRunner takes no option dtype; its options are: scale"):
        load(tmp_path / "m.TOY", dtype="fp16")


def test_load_unknown_suffix_lists_the_tables_suffixes(toy_row, tmp_path):
    with pytest.raises(RunnerError, match="accepted suffixes: (.*)") as error:
        load(tmp_path / "m.txt")
    listed = str(error.value).rsplit("accepted suffixes: ", 1)[1].split(", ")
    assert listed == [*FORMATS_SUFFIXES, ".toy"]


FORMATS_SUFFIXES = [".pt", ".pth", ".safetensors", ".onnx", ".plan", ".engine"]


# -- the bench ------------------------------------------------------------------------------------------------------

def test_bench_classifies_files_by_the_table(toy_row, tmp_path):
    (tmp_path / "m.toy").write_bytes(b"toy")
    (tmp_path / "notes.txt").write_text("not an artifact")
    (tmp_path / "w.safetensors").write_bytes(b"")
    assert classify_files([tmp_path]) == {"toy": tmp_path / "m.toy", "checkpoint": tmp_path / "w.safetensors"}


def test_bench_nothing_to_run_lists_the_tables_suffixes(tmp_path):
    with pytest.raises(BenchError, match="nothing to benchmark") as error:
        open_workspace(ModelSource(), tmp_path / "work")
    assert all(suffix in str(error.value) for suffix in suffixes())


def test_bench_worker_makes_the_runner_from_its_module_class(monkeypatch, tmp_path):
    monkeypatch.setitem(RUNNERS, "ort", "toy_formats_missing:Runner")
    with pytest.raises(BenchError, match="toy_formats_missing:Runner"):
        make_runner(BACKENDS["ort"], {"artifact": str(tmp_path / "m.onnx"), "device": "cpu"})
    monkeypatch.undo()
    runner = make_runner(BACKENDS["ort-cuda"], {"artifact": str(tmp_path / "m.onnx"), "device": "cuda:1"})
    assert type(runner).__name__ == "OnnxRuntimeRunner"
    custom = replace(BACKENDS["ort"], name="mine", factory="no_such_module_xyz:Runner")
    with pytest.raises(BenchError, match="backend factory 'no_such_module_xyz:Runner' cannot be imported"):
        make_runner(custom, {"artifact": "m.onnx", "device": "cpu"})


def test_makeable_follows_made_from(toy_row):
    from vgg_deploy.bench.workspace import Workspace

    ws = Workspace(config=None, work=Path("."), model=None, model_name=None, weights_note="",  # type: ignore[arg-type]
                   artifacts={"onnx-int8-tensorrt": Path("m.int8.onnx")})
    assert ws.makeable(tensorrt=False) == {"onnx-int8-tensorrt"}
    assert ws.makeable(tensorrt=True) == {"onnx-int8-tensorrt", "plan-int8"}
    assert ws.needs_calibration("plan-fp16") is False and ws.needs_calibration("onnx-int8-cpu") is True
    with_model = replace(ws, model=object(), artifacts={})
    assert with_model.makeable(tensorrt=False) == {*formats.kinds("checkpoint", "onnx")}


# -- serve and triton-repo ------------------------------------------------------------------------------------------

def test_serve_and_triton_repo_take_what_the_table_serves(tmp_path):
    from vgg_deploy.serve.facts import ServeError, served_model
    from vgg_deploy.serve.server import BACKENDS as SERVE_BACKENDS
    from vgg_deploy.serve.server import make_runner as serve_runner
    from vgg_deploy.serve.triton_config import MODEL_FILE_BY_FORMAT, PLATFORM_BY_FORMAT

    assert formats.triton_suffixes() == (".onnx", ".plan", ".engine")
    assert MODEL_FILE_BY_FORMAT == {"onnx": "model.onnx", "plan": "model.plan"}
    assert PLATFORM_BY_FORMAT == {"onnx": "onnxruntime_onnx", "plan": "tensorrt_plan"}
    assert SERVE_BACKENDS == ("auto", "ort", "ov", "trt")
    for name in ("m.pt", "m.txt"):
        (tmp_path / name).write_bytes(b"x")
        with pytest.raises(ServeError, match=r"\.onnx, \.plan, \.engine"):
            served_model(tmp_path / name)
        with pytest.raises(ServeError, match=r"\.onnx, \.plan, \.engine"):
            serve_runner(tmp_path / name, backend="auto")
    assert type(serve_runner(tmp_path / "m.engine", backend="auto")).__name__ == "TensorRTRunner"
    assert type(serve_runner(tmp_path / "m.onnx", backend="ov", threads=1)).__name__ == "OpenVINORunner"
    with pytest.raises(ServeError, match=r"the trt backend runs \.plan, \.engine files"):
        serve_runner(tmp_path / "m.onnx", backend="trt")


def test_cli_suffix_errors_come_from_the_table(tmp_path):
    from vgg_deploy.cli import main
    from vgg_deploy.trt.build import plan_build
    from vgg_deploy.trt.errors import OptionError

    (tmp_path / "m.onnx").write_bytes(b"x")
    (tmp_path / "cat.png").write_bytes(b"x")
    result = CliRunner().invoke(main, ["infer", str(tmp_path / "m.onnx"), str(tmp_path / "cat.png"), "--model", "vgg11"])
    assert result.exit_code == 2 and ".pt, .pth, .safetensors" in result.output
    with pytest.raises(OptionError, match=r"\.plan or \.engine suffix"):
        plan_build(tmp_path / "m.onnx", tmp_path / "m.trt")
