from __future__ import annotations

import hashlib
import urllib.error

import pytest
import torch
from safetensors.torch import save_file

from conftest import small_standard
from torchvision_reference import TorchvisionVGG, expected_shapes
from vgg_deploy.errors import CheckpointError
from vgg_deploy.models import STANDARD_BLOCKS, create_model, infer_architecture, read_state_dict

STANDARD = [f"{n}{s}" for n in STANDARD_BLOCKS for s in ("", "_bn")]

# Conv positions in torchvision's `features`, as its published checkpoints number them.
CONV_INDICES = {
    "vgg11": [0, 3, 6, 8, 11, 13, 16, 18],
    "vgg11_bn": [0, 4, 8, 11, 15, 18, 22, 25],
    "vgg16": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
    "vgg19": [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34],
}


@pytest.mark.parametrize("name", STANDARD)
def test_state_dict_has_torchvision_keys_and_shapes(name):
    model = create_model(name)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == expected_shapes(name)
    assert [k for k in ours] == [k for k in expected_shapes(name)]  # same order as torchvision's
    if name in CONV_INDICES:
        convs = sorted(int(k.split(".")[1]) for k, s in ours.items() if k.startswith("features.") and len(s) == 4)
        assert convs == CONV_INDICES[name]


@pytest.mark.parametrize("name", ["vgg11", "vgg16_bn"])
def test_torchvision_weights_give_torchvision_logits(name):
    torch.manual_seed(1)
    reference = TorchvisionVGG(name).eval()
    if name.endswith("_bn"):  # non-trivial running stats, so batch norm really is checked
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    ours = create_model(name)
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=0)


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "model", "module_prefix"])
def test_checkpoint_wrappers_load(tmp_path, wrap):
    torch.manual_seed(2)
    source = small_standard("vgg11")
    state = source.state_dict()
    obj = {
        "plain": state, "state_dict": {"state_dict": state, "epoch": 3}, "model": {"model": state},
        "module_prefix": {f"module.{k}": v for k, v in state.items()},
    }[wrap]
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path)
    loaded = create_model("vgg11", width_divisor=8, classifier_width=32, weights=str(path))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), source(x))


def test_safetensors_checkpoint_loads(tmp_path):
    source = small_standard("vgg13_bn")
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    loaded = create_model("vgg13_bn", width_divisor=8, classifier_width=32, weights=str(path))
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), source.state_dict().values()))


def test_class_count_comes_from_the_checkpoint_when_not_given(tmp_path):
    path = tmp_path / "ten.pt"
    torch.save(small_standard("vgg16").state_dict(), path)  # 10 classes
    model = create_model("vgg16", width_divisor=8, classifier_width=32, weights=str(path))
    assert model.config.num_classes == 10


def test_wrong_architecture_names_the_keys_and_the_fitting_config(tmp_path):
    path = tmp_path / "vgg16.pth"
    torch.save(small_standard("vgg16").state_dict(), path)
    with pytest.raises(CheckpointError) as err:
        create_model("vgg11", width_divisor=8, classifier_width=32, weights=str(path))
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    assert "missing: features.3.weight" in message and "unexpected: features.2.weight" in message
    assert message.endswith("it fits --model vgg16 --num-classes 10 --width-divisor 8 --classifier-width 32")


def test_missing_key_is_reported_by_name(tmp_path):
    state = small_standard("vgg11").state_dict()
    del state["classifier.3.bias"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"missing: classifier\.3\.bias"):
        create_model("vgg11", width_divisor=8, classifier_width=32, weights=str(path))


def test_non_vgg_checkpoint_says_so(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(10, 512)}, path)
    with pytest.raises(CheckpointError, match="not a VGG in torchvision's layout"):
        create_model("vgg11", weights=str(path))


class Payload:
    """Stands for an arbitrary pickled object, which weights_only loading must refuse."""


def test_corrupt_and_unsafe_files_are_user_errors_naming_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="corrupt.pth: cannot read checkpoint"):
        read_state_dict(corrupt)

    unsafe = tmp_path / "unsafe.pth"
    torch.save({"features.0.weight": Payload()}, unsafe)
    with pytest.raises(CheckpointError, match="unsafe.pth"):
        read_state_dict(unsafe)
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        read_state_dict(tmp_path / "absent.pth")
    listing = tmp_path / "list.pt"
    torch.save([1, 2, 3], listing)
    with pytest.raises(CheckpointError, match="not a state dict"):
        read_state_dict(listing)


@pytest.mark.parametrize("name", STANDARD)
def test_architecture_is_recovered_from_torchvision_keys(name):
    state = {k: torch.empty(s) for k, s in expected_shapes(name, num_classes=5).items()}
    arch = infer_architecture(state)
    assert arch is not None
    assert arch.blocks == STANDARD_BLOCKS[name.removesuffix("_bn")]
    assert arch.batch_norm == name.endswith("_bn") and arch.num_classes == 5 and arch.in_channels == 3
    assert arch.standard_name() == name


def test_imagenet_weights_offline_is_a_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(CheckpointError) as err:
        create_model("vgg16", weights="imagenet")
    assert "vgg16-397923af.pth" in str(err.value) and "offline" in str(err.value) and "--weights PATH" in str(err.value)


def test_imagenet_weights_only_for_standard_shapes(monkeypatch):
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: pytest.fail("must not download"))
    with pytest.raises(CheckpointError, match="no ImageNet weights for vgg_tiny"):
        create_model("vgg_tiny", weights="imagenet")
    with pytest.raises(CheckpointError, match="num_classes=1000"):
        create_model("vgg11", num_classes=10, weights="imagenet")


def test_imagenet_weights_are_loaded_through_the_hub(monkeypatch):
    reference = TorchvisionVGG("vgg11").state_dict()
    seen = {}

    def fake_hub(url, **kwargs):
        seen.update(url=url, **kwargs)
        return reference

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_hub)
    model = create_model("vgg11", weights="imagenet")
    assert seen["url"].endswith("vgg11-8a719046.pth") and seen["weights_only"] is True
    assert torch.equal(model.state_dict()["classifier.6.weight"], reference["classifier.6.weight"])


def test_a_damaged_hub_cache_is_dropped_and_an_intact_one_hashed_once(monkeypatch, tmp_path):
    from vgg_deploy.models import checkpoint

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    data = b"published weights"
    name = f"vgg11-{hashlib.sha256(data).hexdigest()[:8]}.pth"  # torch.hub's names carry the hash's first digits
    cached = tmp_path / "checkpoints" / name
    cached.parent.mkdir()
    cached.write_bytes(data)
    hashed = []
    real = checkpoint.file_sha256
    monkeypatch.setattr(checkpoint, "file_sha256", lambda path: hashed.append(path) or real(path))
    for _ in range(3):
        checkpoint._drop_damaged_cache(f"https://download.pytorch.org/models/{name}")
    assert cached.is_file() and len(hashed) == 1  # the same file (path, mtime, size) is hashed once per process
    cached.write_bytes(data[:-1])  # truncated: another size
    checkpoint._drop_damaged_cache(f"https://download.pytorch.org/models/{name}")
    assert not cached.exists() and len(hashed) == 2
