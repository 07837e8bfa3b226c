"""The TensorRT serving flow: `triton-repo x.plan`, then `serve x.plan --backend trt` on 127.0.0.1 and a short
`loadtest`; the served logits equal the engine runner's (what `vgg-deploy infer` runs).

Serving venv (PyTriton needs numpy < 2), as tests/test_serve.py; the engine is built by the main venv's Python.
On real TensorRT with a GPU (`pytest -m trt`) it runs there; elsewhere on the stand-in (tests/fake_tensorrt.py),
in this process and in the build and serve subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

pytest.importorskip("pytriton", reason="serving tests run in the serving venv (bash scripts/setup_serve_env.sh)")

from click.testing import CliRunner  # noqa: E402

from tensorrt_target import forget_target, use_target  # noqa: E402
from test_serve import HOST, MODEL, ROOT, Server, _infer_http  # noqa: E402

pytestmark = pytest.mark.trt


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """vgg_tiny exported and built (profile 1:4:8) by the main venv; the TensorRT target for this module."""
    main_python = os.environ.get("VGG_DEPLOY_MAIN_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
    if not os.path.isfile(main_python):
        pytest.skip(f"no main venv Python at {main_python} to export and build (set VGG_DEPLOY_MAIN_PYTHON)")
    folder = tmp_path_factory.mktemp("engine")
    onnx, plan = folder / f"{MODEL}.onnx", folder / f"{MODEL}.plan"
    with pytest.MonkeyPatch.context() as patch:
        target = use_target(patch, folder)
        for args in (["export", "--model", MODEL, "-o", str(onnx)],
                     ["build-trt", str(onnx), "--profile", "1:4:8", "-o", str(plan)]):
            done = subprocess.run([main_python, "-m", "vgg_deploy", *args], cwd=ROOT, timeout=300,
                                  capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-2000:]
        yield target, onnx, plan
    forget_target()


def test_triton_repo_from_an_engine(engine, tmp_path):
    from vgg_deploy.cli import _Group
    from vgg_deploy.cli.triton_repo_cmd import triton_repo
    from vgg_deploy.trt import read_manifest

    _, _, plan = engine
    group = _Group("vgg-deploy", commands=[triton_repo])
    result = CliRunner().invoke(group, ["triton-repo", str(plan), "-o", str(tmp_path / "repo"), "--max-batch", "8"])
    assert result.exit_code == 0, result.output
    config = (tmp_path / "repo" / MODEL / "config.pbtxt").read_text()
    assert 'platform: "tensorrt_plan"' in config and "max_batch_size: 8" in config
    assert (tmp_path / "repo" / MODEL / "1" / "model.plan").read_bytes() == plan.read_bytes()
    assert read_manifest(plan).gpu_name in result.output
    over = CliRunner().invoke(group, ["triton-repo", str(plan), "-o", str(tmp_path / "r2"), "--max-batch", "16"])
    assert over.exit_code == 1 and "profile" in over.output and not (tmp_path / "r2").exists()


def test_serve_an_engine_answers_as_the_runner_and_takes_a_loadtest(engine, tmp_path):
    from vgg_deploy.cli import _Group
    from vgg_deploy.cli.loadtest_cmd import loadtest
    from vgg_deploy.runtime import load

    target, onnx, plan = engine
    images = np.random.default_rng(0).standard_normal((6, 3, 32, 32)).astype(np.float32)
    with load(plan) as runner:  # what `vgg-deploy infer x.plan` runs
        expected = runner.infer(images)
    with load(onnx) as fp32:
        reference = fp32.infer(images)
    server = Server(plan, "--backend", "trt", "--max-batch", "8", "--max-queue-delay-us", "2000")
    try:
        served = np.concatenate([_infer_http(server.http_url, images[i:i + 2]) for i in range(0, 6, 2)])
        result = CliRunner().invoke(_Group("vgg-deploy", commands=[loadtest]), [
            "loadtest", server.http_url, "--concurrency", "2", "--requests", "16", "--batch-size", "2", "--warmup", "2",
            "--metrics-url", server.metrics_url, "--timeout", "60", "-o", str(tmp_path), "--json"])
        assert result.exit_code == 0, result.output
    finally:
        assert server.stop() == 0
    np.testing.assert_allclose(served, expected, rtol=1e-6, atol=1e-6)
    cosine = float(np.min(np.sum(served * reference, 1) / np.linalg.norm(served, axis=1)
                          / np.linalg.norm(reference, axis=1)))
    print(f"PARITY serve {plan.name} --backend trt ({target.name}) vs ONNX Runtime fp32: max abs diff "
          f"{np.abs(served - reference).max():.3g}, cosine {cosine:.7f}, top-1 agreement "
          f"{np.mean(served.argmax(1) == reference.argmax(1)):.0%}")
    assert (served.argmax(1) == reference.argmax(1)).all()
    report = json.loads((tmp_path / "loadtest.json").read_text())
    assert report["completed"] == 16 and report["errors"] == 0 and report["server"]["inferences"] == 32
    assert f"serving {MODEL}" in server.log.read_text() and HOST in server.http_url
