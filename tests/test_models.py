from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from vgg_deploy.errors import ConfigError
from vgg_deploy.models import (
    STANDARD_BLOCKS, UnknownModelError, VGGConfig, build_vgg, create_model, list_models, model_config, vgg_block,
)

STANDARD = [f"{n}{s}" for n in STANDARD_BLOCKS for s in ("", "_bn")]


def test_vgg_block_is_convs_then_pool():
    block = vgg_block(2, 16, in_channels=3, batch_norm=True)
    kinds = [type(m) for m in block]
    assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d]
    convs = [m for m in block if isinstance(m, nn.Conv2d)]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert (convs[0].in_channels, convs[1].in_channels, convs[1].out_channels) == (3, 16, 16)
    assert block[-1].kernel_size == 2 and block[-1].stride == 2
    assert block(torch.randn(2, 3, 10, 14)).shape == (2, 16, 5, 7)


def test_vgg_block_without_in_channels_is_lazy_like_d2l():
    block = vgg_block(1, 8)
    assert block(torch.randn(1, 5, 8, 8)).shape == (1, 8, 4, 4)
    assert block[0].in_channels == 5


@pytest.mark.parametrize("name", STANDARD)
def test_standard_variant_at_224(name):
    model = create_model(name)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert len(convs) == sum(n for n, _ in STANDARD_BLOCKS[name.removesuffix("_bn")])
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.features) == name.endswith("_bn")
    with torch.no_grad():
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.parametrize("name", STANDARD)
@pytest.mark.parametrize("classifier_input", ["avgpool", "flatten"])
def test_standard_variant_at_small_size(name, classifier_input):
    model = create_model(name, width_divisor=16, classifier_width=16, num_classes=7,
                         input_size=(32, 48), classifier_input=classifier_input)
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 48)).shape == (2, 7)
    expected_in = 32 * 7 * 7 if classifier_input == "avgpool" else 32 * 1 * 1  # 512/16 channels, 32>>5 x 48>>5
    assert model.classifier[0].in_features == expected_in


def test_block_config_model_from_any_blocks():
    config = VGGConfig(name="custom", blocks=((1, 4), (3, 8)), input_size=(16, 16), num_classes=3,
                       classifier_input="flatten", classifier_width=12)
    model = build_vgg(config)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 4), (4, 8), (8, 8), (8, 8)]
    assert model.classifier[0].in_features == 8 * 4 * 4
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 3)
    assert not model.training


def test_d2l_fashion_vgg_matches_the_book():
    # d2l 8.2: conv_arch ((1,64),(1,128),(2,256),(2,512),(2,512)) at ratio 4, 1 channel, 224x224, flatten, 10 classes.
    model = create_model("d2l_vgg11_fashion")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 64, 128, 128, 128, 128]
    assert convs[0].in_channels == 1
    chans = [1, 16, 32, 64, 64, 128, 128, 128, 128]
    conv_params = sum(i * o * 9 + o for i, o in zip(chans, chans[1:]))
    linear_params = (128 * 7 * 7 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == conv_params + linear_params
    with torch.no_grad():
        assert model(torch.randn(2, 1, 224, 224)).shape == (2, 10)


def test_sizes_that_are_not_multiples_of_the_pools():
    model = create_model("vgg_tiny", input_size=(100, 60))  # 3 pools: 12 x 7 after flooring
    assert model.classifier[0].in_features == 32 * 12 * 7
    assert model(torch.randn(1, 3, 100, 60)).shape == (1, 10)


def test_input_too_small_for_the_pools_is_a_config_error():
    with pytest.raises(ConfigError, match="at least 32"):
        create_model("vgg16", input_size=(16, 16))


def test_registry_lists_and_refuses_unknown_names_with_choices():
    assert list_models("vgg1*_bn") == ["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
    assert set(STANDARD) <= set(list_models())
    with pytest.raises(UnknownModelError) as err:
        create_model("vgg17")
    assert "vgg16" in str(err.value) and "vgg_tiny" in str(err.value)


def test_preprocessing_facts_follow_the_options():
    vgg16 = model_config("vgg16")
    assert vgg16.input_size == (224, 224) and vgg16.preprocess_resize == 256
    assert vgg16.mean == (0.485, 0.456, 0.406) and vgg16.std == (0.229, 0.224, 0.225)
    gray = vgg16.with_options(in_channels=1)
    assert len(gray.mean) == 1 and len(gray.std) == 1
    assert model_config("d2l_vgg11_fashion").mean == (0.0,)


def test_model_facts_are_readable_without_torch():
    code = "import sys; from vgg_deploy import model_config; c = model_config('vgg16'); " \
           "print(c.input_size, c.in_channels, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(224, 224) 3 False"
