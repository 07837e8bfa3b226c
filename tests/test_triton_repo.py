"""`vgg-deploy triton-repo`: repositories for .onnx and manifest-only .plan inputs, validated with Triton's
model-config protobuf; refusals name the reason. Runs without torch (also in the serving venv)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("tritonclient", reason="tritonclient validates config.pbtxt (pip install tritonclient)")
onnx = pytest.importorskip("onnx")

from vgg_deploy.cli.triton_repo_cmd import triton_repo  # noqa: E402
from vgg_deploy.serve import TritonModelConfig, parse_config, served_model, write_repository  # noqa: E402
from vgg_deploy.serve.facts import ServeError  # noqa: E402
from vgg_deploy.serve.triton_config import check_config, model_config_pb2  # noqa: E402
from vgg_deploy.trt.manifest import EngineManifest, OnnxFingerprint, write_manifest  # noqa: E402
from vgg_deploy.trt.options import Profile  # noqa: E402

LABELS = [f"class {i}" for i in range(10)]


def tiny_onnx(path, *, batch: int | str = "N", channels: int = 3, size: int = 8, classes: int = 10,
              half_input: bool = False) -> None:
    """A (N, C, S, S) -> (N, classes) graph (GlobalAveragePool, Flatten, Gemm) with vgg-deploy metadata."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    dtype = TensorProto.FLOAT16 if half_input else TensorProto.FLOAT
    nodes = [helper.make_node("Cast", ["input"], ["x"], to=TensorProto.FLOAT),
             helper.make_node("GlobalAveragePool", ["x"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], transB=1)]
    weights = [numpy_helper.from_array(rng.standard_normal((classes, channels)).astype(np.float32), "w"),
               numpy_helper.from_array(rng.standard_normal(classes).astype(np.float32), "b")]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("input", dtype, [batch, channels, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in {"architecture": "tiny", "precision": "fp32", "labels": LABELS[:classes]}.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, json.dumps(value)
    onnx.save(model, str(path))


def fake_plan(path, *, profile=(1, 8, 32), classes: int = 10):
    """A dummy engine file with a real manifest next to it (the repository never opens the engine)."""
    path.write_bytes(b"not a real engine")
    manifest = EngineManifest(
        engine_sha256="ab" * 32, engine_size_bytes=17, tensorrt_version="10.13.0", gpu_name="NVIDIA A100-SXM4-80GB",
        compute_capability="8.0", cuda_version="12.8", driver_version="12.9", precision="int8",
        profile=Profile(*profile), hardware_compat="none", version_compatible=False, lean_runtime_embedded=False,
        source_onnx=OnnxFingerprint("vgg16.onnx", "cd" * 32), built_onnx=OnnxFingerprint("vgg16.int8.onnx", "ef" * 32),
        input_name="input", output_name="logits", input_shape=(3, 224, 224), cache_key="00" * 32,
        built_at="2026-01-01T00:00:00+00:00", build_seconds=1.0, vgg_deploy_version="0.1.0",
        model={"architecture": "vgg16", "num_classes": classes},
    )
    write_manifest(manifest, path)
    return path


def _invoke(*args):
    """Run the command as `vgg-deploy triton-repo` would: under the CLI's group, which turns user errors into
    one line and exit 1."""
    from vgg_deploy.cli import _Group

    group = _Group("vgg-deploy", commands=[triton_repo])
    return CliRunner().invoke(group, ["triton-repo", *map(str, args)])


def test_onnx_repository_is_valid_triton_config(tmp_path):
    tiny_onnx(tmp_path / "tiny.onnx")
    result = _invoke(tmp_path / "tiny.onnx", "--name", "vgg_tiny", "--device", "cpu", "--max-batch", "16",
                     "--preferred-batch-sizes", "4,8", "--instances", "2", "-o", tmp_path / "repo")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "repo" / "vgg_tiny"
    assert (folder / "1" / "model.onnx").read_bytes() == (tmp_path / "tiny.onnx").read_bytes()
    config = parse_config((folder / "config.pbtxt").read_text())
    pb2 = model_config_pb2()
    assert config.name == "vgg_tiny" and config.platform == "onnxruntime_onnx" and config.max_batch_size == 16
    (inp,), (out,) = config.input, config.output
    assert (inp.name, pb2.DataType.Name(inp.data_type), list(inp.dims)) == ("input", "TYPE_FP32", [3, 8, 8])
    assert (out.name, list(out.dims), out.label_filename) == ("logits", [10], "labels.txt")
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]
    assert config.dynamic_batching.max_queue_delay_microseconds == 2000
    assert config.instance_group[0].count == 2 and config.instance_group[0].kind == pb2.ModelInstanceGroup.KIND_CPU
    assert (folder / "labels.txt").read_text().splitlines() == LABELS


def test_tensorrt_accelerator_and_float16_input(tmp_path):
    tiny_onnx(tmp_path / "half.onnx", half_input=True)
    result = _invoke(tmp_path / "half.onnx", "--tensorrt-accelerator", "fp16", "-o", tmp_path / "repo", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["models"][0]["name"] == "half"
    config = parse_config((tmp_path / "repo" / "half" / "config.pbtxt").read_text())
    assert model_config_pb2().DataType.Name(config.input[0].data_type) == "TYPE_FP16"
    (accelerator,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert accelerator.name == "tensorrt" and accelerator.parameters["precision_mode"] == "FP16"


def test_manifest_only_plan_repository(tmp_path):
    plan = fake_plan(tmp_path / "vgg16.int8.plan")
    result = _invoke(plan, "--max-batch", "32", "-o", tmp_path / "repo")
    assert result.exit_code == 0, result.output
    assert "NVIDIA A100-SXM4-80GB" in result.output
    folder = tmp_path / "repo" / "vgg16_int8"
    config = parse_config((folder / "config.pbtxt").read_text())
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 32
    assert list(config.input[0].dims) == [3, 224, 224] and list(config.output[0].dims) == [10]
    assert config.instance_group[0].kind == model_config_pb2().ModelInstanceGroup.KIND_GPU
    assert (folder / "1" / "model.plan").read_bytes() == plan.read_bytes()
    assert not (folder / "labels.txt").exists()  # the manifest carries no labels


def test_labels_file_and_several_models(tmp_path):
    tiny_onnx(tmp_path / "a.onnx")
    tiny_onnx(tmp_path / "b.onnx")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"digit {i}" for i in range(10)) + "\n\n")
    result = _invoke(tmp_path / "a.onnx", tmp_path / "b.onnx", "--labels", labels, "-o", tmp_path / "repo")
    assert result.exit_code == 0, result.output
    for name in ("a", "b"):
        assert (tmp_path / "repo" / name / "labels.txt").read_text().splitlines()[3] == "digit 3"


def test_preferred_batch_from_a_bench_report(tmp_path, monkeypatch):
    import vgg_deploy.bench.report as report

    tiny_onnx(tmp_path / "tiny.onnx")
    budget = {"budget_ms": 50.0, "choices": [
        {"backend": "ort", "budget_ms": 50.0, "batch_size": 8, "images_per_s": 900.0, "p99_ms": 40.0, "tried": [1, 8, 64]},
        {"backend": "openvino", "budget_ms": 50.0, "batch_size": 64, "images_per_s": 990.0, "p99_ms": 49.0, "tried": [8, 64]},
        {"backend": "torch", "budget_ms": 50.0, "batch_size": None, "images_per_s": None, "p99_ms": None, "tried": [1]}]}
    monkeypatch.setattr(report, "load_report", lambda path: {"budget": budget})
    (tmp_path / "report.json").write_text("{}")
    result = _invoke(tmp_path / "tiny.onnx", "--from-report", tmp_path / "report.json", "-o", tmp_path / "repo")
    assert result.exit_code == 0, result.output
    config = parse_config((tmp_path / "repo" / "tiny" / "config.pbtxt").read_text())
    assert list(config.dynamic_batching.preferred_batch_size) == [8]  # 64 is beyond --max-batch 32
    monkeypatch.setattr(report, "load_report", lambda path: {"budget": None})
    result = _invoke(tmp_path / "tiny.onnx", "--from-report", tmp_path / "report.json", "-o", tmp_path / "repo")
    assert result.exit_code == 1 and "latency-budget" in result.output
    result = _invoke(tmp_path / "tiny.onnx", "--from-report", tmp_path / "report.json", "--preferred-batch-sizes", "4",
                     "-o", tmp_path / "repo")
    assert result.exit_code == 2 and "not both" in result.output


@pytest.mark.parametrize("make, args, needle", [
    (lambda p: fake_plan(p / "m.plan", profile=(1, 8, 16)), ["--max-batch", "32"],
     "--max-batch 32 is beyond the engine's optimization profile (batch 1..16"),
    (lambda p: fake_plan(p / "m.plan", profile=(4, 8, 16)), ["--max-batch", "16"], "starts at batch 4"),
    (lambda p: fake_plan(p / "m.plan"), ["--device", "cpu"], "runs only on a GPU"),
    (lambda p: tiny_onnx(p / "m.onnx", batch=1), [], "fixed batch of 1"),
    (lambda p: tiny_onnx(p / "m.onnx"), ["--preferred-batch-sizes", "8,64"], "preferred batch size(s) 64"),
    (lambda p: tiny_onnx(p / "m.onnx"), ["--device", "cpu", "--tensorrt-accelerator", "fp16"], "needs --device cuda"),
    (lambda p: tiny_onnx(p / "m.onnx", classes=3), ["--labels", "LABELS"], "10 labels for a model with 3 classes"),
])
def test_refusals_are_one_line_with_the_reason(tmp_path, make, args, needle):
    make(tmp_path)
    (tmp_path / "LABELS").write_text("\n".join(LABELS))
    model = next(p for p in tmp_path.iterdir() if p.suffix in (".plan", ".onnx"))
    args = [str(tmp_path / a) if a == "LABELS" else a for a in args]
    result = _invoke(model, *args, "-o", tmp_path / "repo")
    assert result.exit_code == 1, result.output
    assert needle in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "repo").exists()  # checked before anything is written


def test_plan_without_manifest_is_refused(tmp_path):
    (tmp_path / "m.plan").write_bytes(b"x")
    result = _invoke(tmp_path / "m.plan", "-o", tmp_path / "repo")
    assert result.exit_code == 1 and "no manifest m.plan.json" in result.output


def test_usage_errors(tmp_path):
    tiny_onnx(tmp_path / "a.onnx")
    assert _invoke(tmp_path / "a.onnx", "--preferred-batch-sizes", "8,x", "-o", tmp_path / "r").exit_code == 2
    assert _invoke(tmp_path / "a.onnx", tmp_path / "a.onnx", "--name", "x", "-o", tmp_path / "r").exit_code == 2
    assert _invoke(tmp_path / "a.onnx", "--max-batch", "0", "-o", tmp_path / "r").exit_code == 2


def test_validation_catches_a_config_that_does_not_match_the_model(tmp_path):
    tiny_onnx(tmp_path / "tiny.onnx")
    model = served_model(tmp_path / "tiny.onnx")
    (written,) = write_repository([tmp_path / "tiny.onnx"], tmp_path / "repo", config=TritonModelConfig(name="t"))
    text = written.config_path.read_text()
    check_config(parse_config(text), model)
    with pytest.raises(ServeError, match=r"input input dims \[3, 9, 8\] are \[3, 8, 8\]"):
        check_config(parse_config(text.replace("dims: [ 3, 8, 8 ]", "dims: [ 3, 9, 8 ]")), model)
    with pytest.raises(ServeError, match="data type TYPE_INT8 is TYPE_FP32"):
        check_config(parse_config(text.replace("TYPE_FP32", "TYPE_INT8", 1)), model)
    with pytest.raises(ServeError, match="not a valid Triton model configuration"):
        parse_config(text.replace("max_batch_size", "max_batch"))
    with pytest.raises(ServeError, match="platform"):
        check_config(parse_config(text), dataclasses.replace(model, format="plan"))


@pytest.mark.parametrize("max_batch, preferred", [(8, [8]), (4, [4]), (32, [8, 16])])
def test_the_default_preferred_batch_adapts_to_max_batch(tmp_path, max_batch, preferred):
    tiny_onnx(tmp_path / "tiny.onnx")
    result = _invoke(tmp_path / "tiny.onnx", "--max-batch", str(max_batch), "-o", tmp_path / "repo")
    assert result.exit_code == 0, result.output
    config = parse_config((tmp_path / "repo" / "tiny" / "config.pbtxt").read_text())
    assert list(config.dynamic_batching.preferred_batch_size) == preferred
