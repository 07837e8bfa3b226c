from __future__ import annotations

import os
import shutil
import subprocess
import sys
from unittest import mock

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

import vgg_deploy
from conftest import small_standard
from vgg_deploy.export import export_onnx
from vgg_deploy.export.metadata import set_metadata
from vgg_deploy.models import build_vgg, create_model, model_config
from vgg_deploy.runtime import BaseRunner, OnnxRuntimeRunner, Prediction, RunnerError, TorchRunner, load


def _batch(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 32, 32), dtype=np.float32)


def _forward(model, batch: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("vgg_tiny")


@pytest.fixture(scope="module")
def tiny_onnx(tiny, tmp_path_factory):
    return export_onnx(tiny, tmp_path_factory.mktemp("onnx") / "t.onnx", verify=False).path


@pytest.fixture(scope="module")
def labelled():
    """vgg_tiny whose config names its classes "a".."j"."""
    torch.manual_seed(1)
    return build_vgg(model_config("vgg_tiny").with_options(labels=tuple("abcdefghij")))


# -- the contract ------------------------------------------------------------------------------------------------

def test_construction_imports_no_backend():
    code = (
        "import sys, vgg_deploy\n"
        "from vgg_deploy.runtime import OnnxRuntimeRunner, TorchRunner\n"
        "runners = [OnnxRuntimeRunner('missing.onnx', threads=2), TorchRunner('missing.pt', dtype='bf16'),\n"
        "           OnnxRuntimeRunner('m.onnx', providers=['CUDAExecutionProvider'])]\n"
        "vgg_deploy.load\n"
        "print([r.name for r in runners], 'torch' in sys.modules, 'onnxruntime' in sys.modules, 'onnx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ort', 'torch-bf16', 'ort-cuda'] False False False"


class _Counting(BaseRunner):
    """A backend-free runner that counts loads and frees: the state machine on its own."""

    def __init__(self) -> None:
        super().__init__("counting")
        self.loads = self.frees = 0

    def _activate_impl(self) -> None:
        self.loads += 1
        self._input_shape, self._batch_range = (3, 32, 32), (1, None)

    def _infer_impl(self, batch):
        return np.zeros((len(batch), 10), np.float32)

    def _deactivate_impl(self) -> None:
        self.frees += 1


def test_state_machine_activate_twice_is_an_error_deactivate_twice_is_not():
    runner = _Counting()
    with pytest.raises(RunnerError, match="counting: runner is not active; call activate"):
        runner.infer(_batch(1))
    with pytest.raises(RunnerError, match="not active"):
        runner.input_shape
    runner.activate()
    with pytest.raises(RunnerError, match="already active"):
        runner.activate()
    with runner as same:  # already active: `with` must not load again
        assert same is runner and runner.infer(_batch(2)).shape == (2, 10)
    assert (runner.loads, runner.frees, runner.is_active) == (1, 1, False)
    runner.deactivate()
    assert runner.frees == 1
    with runner:
        assert runner.is_active and runner.batch_range == (1, None)
    assert (runner.loads, runner.frees, runner.is_active) == (2, 2, False)


def test_an_activation_that_loads_but_breaks_the_contract_frees_what_it_loaded():
    class _Broken(_Counting):
        def _activate_impl(self) -> None:
            self.loads += 1  # loaded, but set no input shape: a bug in the runner

    runner = _Broken()
    with pytest.raises(RuntimeError, match="did not set the input shape"):
        runner.activate()
    assert (runner.loads, runner.frees, runner.is_active) == (1, 1, False)


def test_infer_all_on_no_images_keeps_the_class_count(tiny_onnx):
    with load(tiny_onnx) as runner:
        assert runner.infer_all(np.zeros((0, 3, 32, 32), np.float32)).shape == (0, 10)


@pytest.mark.parametrize("kind", ["ort", "torch"])
def test_infer_before_activate_and_after_with_is_an_error(kind, tiny, tiny_onnx):
    runner = OnnxRuntimeRunner(tiny_onnx) if kind == "ort" else TorchRunner(tiny)
    with pytest.raises(RunnerError, match="not active"):
        runner.infer(_batch(1))
    with runner as active:
        assert active.is_active and active.input_shape == (3, 32, 32) and active.batch_range == (1, None)
        assert active.config == tiny.config
        assert active.infer(_batch(1)).shape == (1, 10)
    assert not runner.is_active
    with pytest.raises(RunnerError, match="not active"):
        runner.infer(_batch(1))


def test_load_returns_an_active_runner_that_with_does_not_load_again(tiny_onnx):
    runner = load(tiny_onnx)
    assert isinstance(runner, OnnxRuntimeRunner) and runner.is_active and runner.name == "ort-fp32"
    session = runner._session
    with runner as m:
        assert m._session is session
    assert not runner.is_active and runner._session is None


# -- numbers -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("options", [{"kind": "ort"}, {"kind": "torch"}, {"kind": "torch", "channels_last": True}],
                         ids=["ort", "torch", "torch-cl"])
def test_fp32_runners_match_the_model(options, batch, tiny, tiny_onnx):
    kind, *_ = options.values()
    rest = {k: v for k, v in options.items() if k != "kind"}
    runner = OnnxRuntimeRunner(tiny_onnx, threads=1) if kind == "ort" else TorchRunner(tiny, **rest)
    x = _batch(batch, seed=batch)
    with runner:
        out = runner.infer(x)
    assert out.dtype == np.float32 and out.shape == (batch, 10)
    np.testing.assert_allclose(out, _forward(tiny, x), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_reduced_precision_torch_runner_is_close_and_leaves_the_model_alone(dtype, tiny):
    x = _batch(4)
    with TorchRunner(tiny, dtype=dtype, channels_last=True) as runner:
        assert runner.name == f"torch-{dtype}-cl"
        out = runner.infer(x)
    reference = _forward(tiny, x)
    assert out.dtype == np.float32
    assert _cosine(out, reference) > 0.99
    assert np.abs(out - reference).max() <= 0.05 * np.abs(reference).max()
    assert next(tiny.parameters()).dtype == torch.float32 and not tiny.training  # worked on a copy


@pytest.mark.skipif(os.environ.get("VGG_DEPLOY_SKIP_COMPILE") == "1", reason="VGG_DEPLOY_SKIP_COMPILE=1")
@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="torch.compile on CPU needs a C compiler (cc/gcc), none on PATH")
def test_compiled_torch_runner_matches_the_model(tiny):
    # Compiling takes ~20 s cold (~3 s with inductor's cache); deselect with -k "not compiled".
    x = _batch(4)
    with TorchRunner(tiny, compile=True) as runner:
        assert runner.name == "torch-compile"
        out = runner.infer(x)
    np.testing.assert_allclose(out, _forward(tiny, x), rtol=1e-4, atol=1e-7)


def test_fp16_onnx_takes_and_returns_float32(tiny, tiny_onnx, tmp_path):
    from onnxconverter_common import float16

    half = float16.convert_float_to_float16(onnx.load(str(tiny_onnx)), keep_io_types=False)
    set_metadata(half, {"precision": '"fp16"'})
    path = tmp_path / "t16.onnx"
    onnx.save_model(half, str(path))
    x = _batch(3)
    with load(path) as runner:
        assert runner.name == "ort-fp16" and runner.precision == "fp16"
        out = runner.infer(x)
    assert out.dtype == np.float32 and _cosine(out, _forward(tiny, x)) > 0.99


# -- input checks ------------------------------------------------------------------------------------------------

def test_fixed_batch_model_refuses_another_batch_before_onnxruntime_sees_it(tiny, tmp_path):
    path = export_onnx(tiny, tmp_path / "b2.onnx", batch=2, verify=False).path
    with load(path) as runner:
        assert runner.batch_range == (2, 2)
        np.testing.assert_allclose(runner.infer(_batch(2)), _forward(tiny, _batch(2)), rtol=1e-4, atol=1e-7)
        spy = mock.Mock(wraps=runner._session)
        runner._session = spy
        with pytest.raises(RunnerError, match=r"ort-fp32: batch of 3 is outside the model's batch range \(exactly 2\)"):
            runner.infer(_batch(3))
        assert not spy.run.called


BAD_INPUTS = [
    (lambda: _batch(2).astype(np.float64), r"dtype is float64, it must be float32"),
    (lambda: _batch(2)[:, :1], r"\(C, H, W\) must be \(3, 32, 32\), got \(1, 32, 32\)"),
    (lambda: np.zeros((2, 3, 16, 32), np.float32), r"must be \(3, 32, 32\), got \(3, 16, 32\)"),
    (lambda: _batch(1)[0], r"must be 4-D \(N, C, H, W\) = \(N, 3, 32, 32\), got 3-D shape \(3, 32, 32\)"),
    (lambda: _batch(2).tolist(), r"infer\(\) takes a numpy array, got list"),
    (lambda: torch.zeros(2, 3, 32, 32), r"takes a numpy array, got Tensor"),
    (lambda: np.zeros((0, 3, 32, 32), np.float32), r"batch of 0 is outside the model's batch range \(at least 1\)"),
]


@pytest.mark.parametrize("kind", ["ort", "torch"])
def test_bad_inputs_are_one_line_errors_saying_expected_and_got(kind, tiny, tiny_onnx):
    runner = OnnxRuntimeRunner(tiny_onnx) if kind == "ort" else TorchRunner(tiny)
    with runner:
        for make, message in BAD_INPUTS:
            with pytest.raises(RunnerError, match=message) as info:
                runner.infer(make())
            assert "\n" not in str(info.value) and str(info.value).startswith(runner.name)


def test_unknown_provider_lists_the_available_ones(tiny_onnx):
    import onnxruntime as ort

    runner = OnnxRuntimeRunner(tiny_onnx, providers=["NoSuchExecutionProvider"])
    with pytest.raises(RunnerError, match="NoSuchExecutionProvider not available.*available: .*CPUExecutionProvider") as info:
        runner.activate()
    assert all(p in str(info.value) for p in ort.get_available_providers()) and not runner.is_active


def test_unreadable_onnx_file_is_named(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(RunnerError, match=rf"{bad}: ONNX Runtime cannot load it as a model"):
        load(bad)
    with pytest.raises(RunnerError, match="missing.onnx: no such ONNX file"):
        OnnxRuntimeRunner(tmp_path / "missing.onnx").activate()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here; the refusal is for CPU-only machines")
def test_cuda_device_is_refused_without_cuda(tiny):
    with pytest.raises(RunnerError, match="torch-cuda: device 'cuda' asked for, but CUDA is not available"):
        TorchRunner(tiny, device="cuda").activate()


def test_bad_torch_options_fail_at_construction(tiny):
    with pytest.raises(RunnerError, match="dtype must be one of fp32, bf16, fp16, got 'int8'"):
        TorchRunner(tiny, dtype="int8")
    with pytest.raises(RunnerError, match="model_name and input_size apply to a checkpoint path"):
        TorchRunner(tiny, model_name="vgg11")


# -- load() ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".plan", ".engine", ".PLAN"])
def test_load_engines_point_to_the_tensorrt_runner(suffix, tmp_path):
    from vgg_deploy.trt import ManifestError

    with pytest.raises(RunnerError, match=f"m\\{suffix}: no such file"):
        load(tmp_path / f"m{suffix}")
    (tmp_path / f"m{suffix}").write_bytes(b"engine")  # the TensorRT runner checks its manifest before TensorRT
    with pytest.raises(ManifestError, match=f"no manifest m\\{suffix}.json next to it"):
        load(tmp_path / f"m{suffix}")


def test_load_unknown_suffix_missing_file_and_bad_option(tmp_path, tiny_onnx):
    with pytest.raises(RunnerError, match=r"m\.txt: cannot tell how to run a \.txt file; accepted suffixes: ") as error:
        load(tmp_path / "m.txt")
    assert all(suffix in str(error.value) for suffix in (".onnx", ".pt", ".pth", ".safetensors", ".plan", ".engine"))
    with pytest.raises(RunnerError, match="gone.pt: no such file"):
        load(tmp_path / "gone.pt")
    with pytest.raises(RunnerError, match="OnnxRuntimeRunner takes no option dtype; its options are: providers, threads, options"):
        load(tiny_onnx, dtype="bf16")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_load_standard_checkpoint_recognises_the_model(suffix, tmp_path):
    torch.manual_seed(2)
    model = small_standard("vgg11", input_size=(32, 32))
    path = tmp_path / f"vgg11{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(model.state_dict(), str(path))
    else:
        torch.save(model.state_dict(), path)
    x = _batch(4)
    with load(path, input_size=(32, 32)) as runner:
        assert isinstance(runner, TorchRunner) and runner.name == "torch"
        assert runner.config.name == "vgg11" and runner.config.num_classes == 10 and runner.config.width_divisor == 8
        np.testing.assert_allclose(runner.infer(x), _forward(model, x), rtol=1e-4, atol=1e-7)


def test_custom_checkpoint_needs_model_name(tiny, tmp_path):
    path = tmp_path / "tiny.pt"
    torch.save(tiny.state_dict(), path)
    with pytest.raises(RunnerError, match=r"tiny.pt: cannot tell which model.*pass --model NAME \(model_name= in Python; one of: .*vgg_tiny"):
        load(path)
    with load(path, model_name="vgg_tiny") as runner:
        np.testing.assert_allclose(runner.infer(_batch(2)), _forward(tiny, _batch(2)), rtol=1e-4, atol=1e-7)


# -- predict() ---------------------------------------------------------------------------------------------------

def _images():
    rng = np.random.default_rng(3)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ((40, 50), (32, 32), (64, 48))]


def _check_predictions(predictions, runner, images, *, k):
    from vgg_deploy.data.preprocess import preprocess_image

    assert len(predictions) == len(images) and all(isinstance(p, Prediction) for p in predictions)
    logits = runner.infer(np.stack([preprocess_image(im, runner.config) for im in images]))
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    for prediction, row in zip(predictions, expected):
        probabilities = [s.probability for s in prediction.top_k]
        assert len(prediction.top_k) == k and probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6
        assert [s.index for s in prediction.top_k] == list(np.argsort(-row, kind="stable")[:k])
        assert [s.label for s in prediction.top_k] == ["abcdefghij"[s.index] for s in prediction.top_k]
        np.testing.assert_allclose(probabilities, row[[s.index for s in prediction.top_k]], rtol=1e-4)


def test_predict_on_images_and_a_png_path_uses_the_labels(labelled, tmp_path):
    images = _images()
    png = tmp_path / "cat.png"
    images[0].save(png)
    path = export_onnx(labelled, tmp_path / "labelled.onnx", verify=False).path
    with load(path) as ort_runner, TorchRunner(labelled) as torch_runner:
        assert ort_runner.config.labels == tuple("abcdefghij")
        for runner in (ort_runner, torch_runner):
            predictions = runner.predict(images, top_k=3)
            _check_predictions(predictions, runner, images, k=3)
            from_path = runner.predict(png, top_k=3)  # one path: one image, not its characters
            assert from_path[0].source == str(png) and predictions[0].source == "<image 0>"
            assert [s.index for s in from_path[0].top_k] == [s.index for s in predictions[0].top_k]
        assert ort_runner.predict(images, top_k=100)[0].top_k[-1].index >= 0  # k above the classes: all of them
        assert len(ort_runner.predict(images, top_k=100)[0].top_k) == 10
        assert ort_runner.predict(images, top_k=2)[1].to_dict()["top_k"][0]["label"] in "abcdefghij"
        with pytest.raises(RunnerError, match="batch_size must be >= 1, got 0"):
            ort_runner.predict(images, batch_size=0)
        with pytest.raises(RunnerError, match="top_k must be >= 1, got 0"):
            ort_runner.predict(images, top_k=0)


def test_predict_on_a_fixed_batch_model_pads_the_last_batch(labelled, tmp_path):
    images = _images()  # 3 images, batch 2: one full batch, one padded
    fixed = export_onnx(labelled, tmp_path / "b2.onnx", batch=2, verify=False).path
    with load(fixed) as runner, TorchRunner(labelled) as reference:
        got, want = runner.predict(images, top_k=4), reference.predict(images, top_k=4)
    assert [[s.index for s in p.top_k] for p in got] == [[s.index for s in p.top_k] for p in want]
    np.testing.assert_allclose([s.probability for p in got for s in p.top_k],
                               [s.probability for p in want for s in p.top_k], rtol=1e-4)


def test_onnx_without_metadata_runs_but_refuses_predict(tiny, tiny_onnx, tmp_path):
    bare = onnx.load(str(tiny_onnx))
    del bare.metadata_props[:]
    path = tmp_path / "bare.onnx"
    onnx.save_model(bare, str(path))
    with load(path) as runner:
        assert runner.config is None and runner.precision is None and runner.name == "ort"
        assert runner.input_shape == (3, 32, 32) and runner.batch_range == (1, None)
        np.testing.assert_allclose(runner.infer(_batch(2)), _forward(tiny, _batch(2)), rtol=1e-4, atol=1e-7)
        with pytest.raises(RunnerError, match="no preprocessing facts.*preprocess yourself and call infer"):
            runner.predict(_images())


def test_vgg_deploy_load_is_the_runtime_load():
    assert vgg_deploy.load is load and "load" in vgg_deploy.__all__


def test_tf32_is_refused_off_cuda_fp32(tiny):
    with pytest.raises(RunnerError, match="tf32 applies to fp32 on CUDA only"):
        TorchRunner(tiny, tf32=True)
    with pytest.raises(RunnerError, match="tf32 applies to fp32 on CUDA only, not to bf16"):
        TorchRunner(tiny, device="cuda", dtype="bf16", tf32=True)
