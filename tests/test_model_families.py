"""The model-family protocol and the two reference architectures: torchvision's AlexNet (keys, shapes and logits
against the published layout restated in torchvision_reference.py) and d2l's LeNet-5; MACs against a count on the
built network; metadata round trips; published accuracy; no family branches outside the families' own modules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

import vgg_deploy
from tests.torchvision_reference import ALEXNET_SHAPES, TorchvisionAlexNet
from vgg_deploy.errors import CheckpointError, ConfigError
from vgg_deploy.export.metadata import config_from_metadata, config_metadata, read_metadata
from vgg_deploy.models import (AlexNetConfig, LeNetConfig, ModelFamily, VGGConfig, create_model, list_models,
                               model_config, model_info, published_accuracy, recognise_checkpoint)
from vgg_deploy.models.registry import families


def test_alexnet_has_torchvisions_published_keys_and_shapes():
    state = create_model("alexnet").state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == ALEXNET_SHAPES
    assert sum(v.numel() for v in state.values()) == 61_100_840


def test_a_torchvision_alexnet_checkpoint_loads_strictly_and_gives_its_logits(tmp_path):
    torch.manual_seed(1)
    reference = TorchvisionAlexNet(num_classes=7).eval()
    path = tmp_path / "alexnet-0123abcd.pth"
    torch.save(reference.state_dict(), path)
    ours = create_model("alexnet", weights=str(path))  # the class count comes from the checkpoint
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))
    assert ours.config.num_classes == 7 and recognise_checkpoint(reference.state_dict()) == "alexnet"


def test_lenet_is_d2ls_lenet5():
    model = create_model("lenet")
    assert sum(p.numel() for p in model.parameters()) == 61_706  # d2l 7.6
    shapes, x = [], torch.randn(3, 1, 28, 28)
    for layer in [*model.features, nn.Flatten(), *model.classifier]:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5), (400,),
                      (120,), (120,), (84,), (84,), (10,)]
    assert {type(m) for m in model.modules()} >= {nn.Sigmoid, nn.AvgPool2d}
    relu = create_model("lenet_relu")
    assert nn.ReLU in {type(m) for m in relu.modules()} and nn.Sigmoid not in {type(m) for m in relu.modules()}
    with pytest.raises(ConfigError, match="activation"):
        LeNetConfig(name="x", activation="tanh")  # type: ignore[arg-type]


@pytest.mark.parametrize("name, size", [("alexnet", (224, 224)), ("alexnet", (96, 80)), ("lenet", (28, 28)),
                                        ("vgg_tiny", (32, 32))])
def test_macs_and_layer_count_match_the_built_network(name, size):
    config = model_config(name).with_options(input_size=size)
    model = config.build()
    counted = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            counted.append(output[0].numel() * module.in_channels * k // module.groups)
        else:
            counted.append(module.in_features * module.out_features)

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for layer in layers:
        layer.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.randn(1, config.in_channels, *size))
    assert config.macs() == sum(counted) and config.weighted_layers() == len(layers)
    assert config.parameter_count == sum(p.numel() for p in model.parameters())


def test_alexnet_macs_match_torchvisions_figure():
    assert round(model_config("alexnet").macs() / 1e9, 2) == 0.71  # torchvision: 0.71 GFLOPS (multiply-adds)


def test_every_registered_model_implements_the_protocol_and_round_trips_through_metadata():
    for name in list_models():
        config = model_config(name)
        assert isinstance(config, ModelFamily), name
        props = config_metadata(config, precision="fp32", weights="random")
        back = config_from_metadata(read_metadata(props), source=name)
        assert type(back) is type(config) and back == config, name
    assert set(families()) == {"vgg", "alexnet", "lenet"}


def test_metadata_written_before_families_is_read_as_a_vgg():
    props = config_metadata(model_config("vgg_tiny"), precision="fp32", weights="random")
    del props["family"]
    assert config_from_metadata(read_metadata(props)) == model_config("vgg_tiny")


def test_vgg_only_options_are_refused_for_other_families():
    with pytest.raises(ConfigError, match="alexnet .* has no option width_divisor"):
        create_model("alexnet", width_divisor=2)


def test_a_checkpoint_of_another_family_is_named_in_the_error(tmp_path):
    path = tmp_path / "lenet.pt"
    torch.save(create_model("lenet").state_dict(), path)
    with pytest.raises(CheckpointError, match="it fits --model lenet"):
        create_model("alexnet", weights=str(path))


def test_references_are_marked_and_published_accuracy_is_sourced():
    assert list_models(reference=True) == ["alexnet", "lenet", "lenet_relu"]
    assert "alexnet" not in list_models(reference=False) and "vgg16" in list_models(reference=False)
    assert model_info("alexnet").reference and not model_info("vgg16").reference
    expected = {"vgg11": (69.02, 88.628), "vgg11_bn": (70.37, 89.81), "vgg13": (69.928, 89.246),
                "vgg13_bn": (71.586, 90.374), "vgg16": (71.592, 90.382), "vgg16_bn": (73.36, 91.516),
                "vgg19": (72.376, 90.876), "vgg19_bn": (74.218, 91.842), "alexnet": (56.522, 79.066)}
    for name, (top1, top5) in expected.items():
        published = published_accuracy(name)
        assert published is not None and (published.top1, published.top5) == (top1, top5)
        assert "torchvision" in published.source and "IMAGENET1K_V1" in published.source
    # Every ImageNet architecture has a figure; models trained on nothing published have none.
    imagenet = [n for n in list_models() if model_config(n).num_classes == 1000 and model_config(n).in_channels == 3]
    assert sorted(imagenet) == sorted(expected)
    assert published_accuracy("lenet") is None and published_accuracy("vgg_tiny") is None
    assert model_config("alexnet").parameter_count == 61_100_840
    info = model_info("vgg16")
    assert info.macs == 15_470_264_320 and info.input == "3x224x224" and info.published.top1 == 71.592


def test_lenet_exports_with_its_family_in_the_metadata(tmp_path):
    from vgg_deploy.export import export_onnx
    from vgg_deploy.runtime import OnnxRuntimeRunner

    model = create_model("lenet_relu")
    export_onnx(model, tmp_path / "lenet.onnx", weights="random")
    facts = read_metadata(tmp_path / "lenet.onnx")
    assert facts["family"] == "lenet" and facts["activation"] == "relu"
    with OnnxRuntimeRunner(tmp_path / "lenet.onnx") as runner:
        assert runner.config == model.config
        x = torch.randn(3, 1, 28, 28)
        with torch.no_grad():
            assert torch.allclose(torch.from_numpy(runner.infer(x.numpy())), model(x), atol=1e-5)


# A model's family decides through its config's methods, never through a branch elsewhere: outside
# vgg_deploy/models/ no code compares a family name, names a family's config class, or uses VGG-only fields.
_FAMILY_BRANCH = re.compile(
    r"""[!=]=\s*["'](?P<a>{names})["']|["'](?P<b>{names})["']\s*[!=]=|\bisinstance\([^)]*(VGG|AlexNet|LeNet)Config"""
    r"""|\b(VGGConfig|AlexNetConfig|LeNetConfig|infer_architecture|STANDARD_BLOCKS)\b|\.blocks\b|\.width_divisor\b"""
)


def test_no_family_branches_outside_the_family_modules():
    root = Path(vgg_deploy.__file__).parent
    pattern = re.compile(_FAMILY_BRANCH.pattern.replace("{names}", "|".join(families())))
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.parent.name == "models":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if pattern.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert found == []
    assert isinstance(model_config("vgg16"), VGGConfig) and isinstance(model_config("alexnet"), AlexNetConfig)
