"""The backend registry, skip reasons, the GPU settings written for machines this suite cannot run on, and the
"what actually ran" readers (on graphs and listings made here)."""

from __future__ import annotations

import importlib.util
import json
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from vgg_deploy.bench import availability
from vgg_deploy.bench.availability import BackendContext, unavailable_reason
from vgg_deploy.bench.backends import BACKENDS, BenchError, ort_providers, resolve_backends
from vgg_deploy.bench.cuda import fp32_math, set_fp32_math
from vgg_deploy.bench.executed import classify_ort_graph, tensorrt_executed

ALL_KINDS = frozenset({"checkpoint", "onnx-fp32", "onnx-fp16", "onnx-int8-tensorrt", "onnx-int8-cpu",
                       "plan-fp32", "plan-fp16", "plan-int8"})
CPU = BackendContext(device="cpu", torch_model=True, artifact_kinds=ALL_KINDS)


def test_every_backend_the_issue_names_is_registered():
    assert set(BACKENDS) >= {
        "torch", "torch-cl", "torch-bf16", "torch-fp16", "torch-tf32", "torch-compile", "ort", "ort-fp16",
        "ort-int8-tensorrt", "ort-int8-cpu", "ort-cuda", "ort-trt", "trt-fp32", "trt-fp16", "trt-int8", "ov",
        "ov-bf16", "ov-int8"}
    assert "computes in fp32 on CPU" in BACKENDS["ort-fp16"].label and BACKENDS["ort-fp16"].compute == "fp32"


def test_groups_and_names_resolve_in_order_without_repeats():
    cpu = [b.name for b in resolve_backends("cpu")]
    assert cpu[0] == "torch" and "ov-int8" in cpu and "ort-cuda" not in cpu and "torch-fp16" not in cpu
    assert [b.name for b in resolve_backends("ort, torch,ort")] == ["ort", "torch"]
    assert {b.name for b in resolve_backends("cuda", device="cuda")} >= {"torch-fp16", "trt-int8", "ort-cuda"}
    assert len(resolve_backends("all")) == len([b for b in BACKENDS.values() if b.factory is None])


def test_unknown_backend_lists_the_choices():
    with pytest.raises(BenchError, match=r"unknown backend 'onnx'; choose from: all, cpu, cuda, torch, "):
        resolve_backends("onnx")


def test_cuda_backends_skip_on_the_cpu_with_the_reason():
    for name in ("torch-fp16", "torch-tf32", "ort-cuda", "ort-trt", "trt-fp32"):
        assert unavailable_reason(BACKENDS[name], CPU) == \
            "CUDA only: run with --device cuda on a machine with an NVIDIA GPU"
    assert unavailable_reason(BACKENDS["ort"], CPU) is None


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="onnxruntime-gpu is installed")
def test_ort_gpu_providers_need_onnxruntime_gpu(monkeypatch):
    monkeypatch.setattr(availability, "_torch_reason", lambda b, c: None)
    context = BackendContext(device="cuda", torch_model=True, artifact_kinds=ALL_KINDS)
    reason = unavailable_reason(BACKENDS["ort-cuda"], context)
    assert reason.startswith("needs CUDAExecutionProvider (this onnxruntime has ")
    assert "pip install 'vgg-deploy[gpu]'" in reason


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed")
def test_tensorrt_backends_say_tensorrt_is_missing():
    context = BackendContext(device="cuda", torch_model=True, artifact_kinds=ALL_KINDS)
    reason = unavailable_reason(BACKENDS["trt-int8"], context)
    assert reason.startswith("TensorRT not installed: ") and 'pip install "vgg-deploy[trt]"' in reason


def test_openvino_missing_names_the_extra(monkeypatch):
    monkeypatch.setattr(availability, "_openvino_capabilities", lambda: availability.OPENVINO_HINT)
    assert unavailable_reason(BACKENDS["ov-int8"], CPU) == "OpenVINO not installed: pip install 'vgg-deploy[openvino]'"
    monkeypatch.setattr(availability, "_openvino_capabilities", lambda: ("FP32", "INT8"))
    assert "no bf16" in unavailable_reason(BACKENDS["ov-bf16"], CPU)
    assert unavailable_reason(BACKENDS["ov"], CPU) is None


def test_missing_model_and_artifacts_are_reasons():
    onnx_only = BackendContext(device="cpu", torch_model=False, artifact_kinds=frozenset({"onnx-int8-cpu"}))
    assert unavailable_reason(BACKENDS["torch"], onnx_only).startswith("no PyTorch model: pass --model NAME")
    assert unavailable_reason(BACKENDS["ort"], onnx_only) == \
        "no onnx-fp32 artifact and no fp32 ONNX or PyTorch model to make one from"
    assert unavailable_reason(BACKENDS["ort-int8-cpu"], onnx_only) is None


def test_gpu_fp32_means_ieee_in_the_provider_options():
    cuda, cpu = ort_providers(BACKENDS["ort-cuda"], {"device": "cuda:1"})
    assert cuda == ("CUDAExecutionProvider", {"device_id": 1, "use_tf32": 0}) and cpu == "CPUExecutionProvider"
    trt = ort_providers(BACKENDS["ort-trt"], {"device": "cuda", "work": "/w"})[0]
    assert trt[0] == "TensorrtExecutionProvider" and trt[1]["trt_fp16_enable"] is False
    assert ort_providers(BACKENDS["ort"], {"device": "cpu"}) == ["CPUExecutionProvider"]


def _fake_torch(new_api: bool) -> SimpleNamespace:
    if new_api:
        matmul, conv = SimpleNamespace(fp32_precision="none"), SimpleNamespace(fp32_precision="tf32")
        return SimpleNamespace(backends=SimpleNamespace(cuda=SimpleNamespace(matmul=matmul),
                                                        cudnn=SimpleNamespace(conv=conv)))
    return SimpleNamespace(backends=SimpleNamespace(cuda=SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False)),
                                                    cudnn=SimpleNamespace(allow_tf32=True)))


def test_fp32_math_sets_ieee_with_the_new_api_and_restores():
    torch = _fake_torch(new_api=True)
    with fp32_math(torch, tf32=False):
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"  # cuDNN convs default to TF32: must be set
    assert (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision) == ("none", "tf32")
    set_fp32_math(torch, tf32=True)
    assert torch.backends.cuda.matmul.fp32_precision == "tf32"


def test_fp32_math_falls_back_to_allow_tf32_flags():
    torch = _fake_torch(new_api=False)
    with fp32_math(torch, tf32=False):
        assert torch.backends.cuda.matmul.allow_tf32 is False and torch.backends.cudnn.allow_tf32 is False
    assert torch.backends.cudnn.allow_tf32 is True
    with fp32_math(torch, tf32=True):
        assert torch.backends.cuda.matmul.allow_tf32 is True


def _conv_graph(*, cast_to_fp16: bool) -> onnx.ModelProto:
    dtype, np_dtype = (TensorProto.FLOAT16, np.float16) if cast_to_fp16 else (TensorProto.FLOAT, np.float32)
    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np_dtype), "w")
    nodes = [helper.make_node("Cast", ["x"], ["xc"], to=dtype), helper.make_node("Conv", ["xc", "w"], ["y"]),
             helper.make_node("Cast", ["y"], ["out"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], [weight])
    return helper.make_model(graph)


def test_ort_graph_precision_follows_the_conv_input_type():
    assert classify_ort_graph(_conv_graph(cast_to_fp16=True))["fp16"] == 1
    counts = classify_ort_graph(_conv_graph(cast_to_fp16=False))
    assert counts["fp32"] == 1 and "fp16" not in counts and counts["ops"] == {"Conv": 1}


def test_ort_int8_nodes_count_with_their_activation_type():
    inits = [numpy_helper.from_array(np.array(v, dtype=t), n) for n, v, t in (
        ("s", 0.1, np.float32), ("zp", 0, np.int8), ("w", np.ones((2, 3, 1, 1)), np.int8), ("ws", 0.1, np.float32),
        ("wz", 0, np.int8), ("ys", 0.2, np.float32), ("yz", 0, np.int8), ("b", np.zeros(2), np.int32))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"]),
             helper.make_node("QLinearConv", ["xq", "s", "zp", "w", "ws", "wz", "ys", "yz", "b"], ["yq"]),
             helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    counts = classify_ort_graph(helper.make_model(graph))
    assert counts["int8"] == 1 and counts["int8_activations"] == {"s8": 1} and counts["ops"] == {"QLinearConv": 1}


def test_tensorrt_inspector_listing_is_counted(tmp_path):
    plan = tmp_path / "m.int8.plan"
    assert tensorrt_executed(plan)["available"] is False
    listing = {"Layers": [
        {"Name": "conv1", "LayerType": "CaskConvolution", "Inputs": [{"Format/Datatype": "Channel major INT8 format"}]},
        {"Name": "conv2", "LayerType": "CaskConvolution", "Inputs": [{"Format/Datatype": "Row major linear FP32"}]},
        {"Name": "fc", "LayerType": "CaskGemmMatrixMultiply", "Inputs": [{"Format/Datatype": "Half format"}]},
        {"Name": "pool", "LayerType": "CaskPooling", "Inputs": [{"Format/Datatype": "INT8"}]},
    ]}
    (tmp_path / "m.int8.plan.layers.json").write_text(json.dumps(listing))
    counts = tensorrt_executed(plan)
    assert counts["available"] and (counts["int8"], counts["fp32"], counts["fp16"]) == (1, 1, 1)
    assert counts["ops"] == {"CaskConvolution": 2, "CaskGemmMatrixMultiply": 1}
