from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from vgg_deploy.errors import ExportError, ParityError, VGGDeployError, first_line
from vgg_deploy.export import OnnxMetadata, config_from_metadata, export_onnx, read_metadata, read_onnx_metadata
from vgg_deploy.models import create_model


def _run(path, batch):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input": batch})[0]


def test_tiny_export_matches_pytorch_and_carries_its_facts(tmp_path, tiny_model):
    result = export_onnx(tiny_model, tmp_path / "tiny.onnx", weights="random")
    assert result.parity is not None and result.parity.passed
    assert result.parity.max_abs_diff <= 1e-4 and result.parity.samples == 6
    model = onnx.load(str(result.path))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["input"] and [o.name for o in model.graph.output] == ["logits"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 32, 32]
    assert model.opset_import[0].version == 17
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert list(tmp_path.iterdir()) == [result.path]  # one file, no side data, no temporary left
    facts = read_metadata(result.path)
    assert facts["precision"] == "fp32" and facts["weights"] == "random" and facts["vgg_deploy_version"]
    assert config_from_metadata(facts) == tiny_model.config


def test_dynamic_batch_runs_batch_1_and_5(tmp_path, tiny_model):
    path = export_onnx(tiny_model, tmp_path / "tiny.onnx", verify=False).path
    for n in (1, 5):
        x = np.random.default_rng(n).standard_normal((n, 3, 32, 32), dtype=np.float32)
        with torch.no_grad():
            expected = tiny_model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(_run(path, x), expected, rtol=1e-4, atol=1e-5)


def test_fixed_batch_is_fixed(tmp_path, tiny_model):
    result = export_onnx(tiny_model, tmp_path / "b3.onnx", batch=3)
    assert result.verify_batches == (3, 3) and result.input_shape == (3, 3, 32, 32)
    assert _run(result.path, np.zeros((3, 3, 32, 32), np.float32)).shape == (3, 10)
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        _run(result.path, np.zeros((2, 3, 32, 32), np.float32))


def test_adaptive_pool_from_a_size_that_is_not_a_multiple_of_7(tmp_path):
    model = create_model("vgg_tiny", classifier_input="avgpool", input_size=(160, 160))  # 20x20 -> 7x7
    result = export_onnx(model, tmp_path / "pool.onnx")
    assert result.parity.passed


def test_reexport_gives_an_equal_graph(tmp_path, tiny_model):
    a = onnx.load(str(export_onnx(tiny_model, tmp_path / "a.onnx", verify=False).path))
    b = onnx.load(str(export_onnx(tiny_model, tmp_path / "b.onnx", verify=False).path))
    assert a.SerializeToString() == b.SerializeToString()


def test_opset_18_exports_too(tmp_path, tiny_model):
    result = export_onnx(tiny_model, tmp_path / "o18.onnx", opset=18)
    assert onnx.load(str(result.path)).opset_import[0].version == 18 and result.parity.passed


def test_opset_17_when_the_adaptive_pool_upsamples(tmp_path):
    # A 1x1 feature map pooled "up" to 7x7 exports as ReduceMean: converting it from opset 18 must give a valid 17.
    model = create_model("vgg11", width_divisor=16, classifier_width=16, input_size=(32, 32))
    result = export_onnx(model, tmp_path / "up.onnx", opset=17)
    graph = onnx.load(str(result.path))
    assert graph.opset_import[0].version == 17 and result.parity.passed
    onnx.checker.check_model(graph, full_check=True)


def test_failed_parity_leaves_no_file(tmp_path, tiny_model):
    with torch.no_grad():
        tiny_model.classifier[6].weight[0, 0] = float("nan")
    target = tmp_path / "nan.onnx"
    with pytest.raises(ParityError, match="NaN/Inf"):
        export_onnx(tiny_model, target)
    assert list(tmp_path.iterdir()) == []


def test_vgg11_at_224_matches_pytorch(tmp_path):
    torch.manual_seed(0)
    model = create_model("vgg11")
    result = export_onnx(model, tmp_path / "vgg11.onnx")
    assert result.parity.passed and result.parity.top1_agreement == 1.0
    assert result.input_shape == ("batch", 3, 224, 224)
    assert result.size_bytes > 500e6  # 132.9M fp32 parameters, inline


def test_artifacts_get_the_usual_permissions(tmp_path, tiny_model):
    import os

    umask = os.umask(0o022)
    try:
        path = export_onnx(tiny_model, tmp_path / "perm.onnx", verify=False).path
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_checker_error_without_a_message_is_still_one_line(tmp_path, tiny_model, monkeypatch):
    def refuse(*args, **kwargs):
        raise onnx.checker.ValidationError("")

    monkeypatch.setattr(onnx.checker, "check_model", refuse)
    with pytest.raises(ExportError, match="onnx.checker rejected the exported graph: ValidationError$"):
        export_onnx(tiny_model, tmp_path / "m.onnx", verify=False)
    assert not (tmp_path / "m.onnx").exists()


def test_first_line_of_any_exception():
    assert first_line(ValueError("bad\nmore")) == "bad" and first_line(KeyError()) == "KeyError"
    assert first_line(RuntimeError("  "), default="") == "" and first_line("x" * 500, limit=3) == "xxx"


def test_typed_metadata_reads_what_the_dict_reads_and_writes_the_same_props(tmp_path, tiny_model):
    path = export_onnx(tiny_model, tmp_path / "tiny.onnx", verify=False).path
    facts = read_metadata(path)
    typed = read_onnx_metadata(path)
    assert typed.config == config_from_metadata(facts) == tiny_model.config
    assert (typed.precision, typed.weights, typed.version) == ("fp32", "random", facts["vgg_deploy_version"])
    assert typed.extra == {"opset": 17} and typed.architecture == "vgg_tiny" and typed.input_size == (32, 32)
    assert (typed.in_channels, typed.num_classes, typed.labels) == (3, 10, None)
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    assert list(typed.to_props().items()) == list(props.items())  # same keys, values and order: same bytes
    with pytest.raises(VGGDeployError, match="no vgg-deploy metadata"):
        OnnxMetadata.from_facts({"producer": "other tool"}, source="x.onnx")

