"""Build options decided without TensorRT: profiles, workspace sizes, versions, hardware compatibility."""

from __future__ import annotations

import pytest

from vgg_deploy.trt.errors import OptionError
from vgg_deploy.trt.options import (
    DEFAULT_PROFILE, BuildOptions, Profile, check_hardware_compat, check_tensorrt_version, parse_profile,
    parse_version, parse_workspace, resolve_profile, trt_major,
)


@pytest.mark.parametrize("text, expected", [
    ("1:8:32", Profile(1, 8, 32)), ("4", Profile(4, 4, 4)), (" 2:2:16 ", Profile(2, 2, 16)), ("1:1:1", Profile(1, 1, 1)),
])
def test_profile_parsing(text, expected):
    assert parse_profile(text) == expected
    assert str(parse_profile(text)) == f"{expected.min}:{expected.opt}:{expected.max}"


@pytest.mark.parametrize("text, needle", [
    ("8:4:32", "impossible"), ("1:8:4", "impossible"), ("0:1:2", "impossible"), ("0", "impossible"),
    ("1:2", "not a batch profile"), ("a:b:c", "not a batch profile"), ("", "not a batch profile"),
    ("1:2:3:4", "not a batch profile"), ("-1:2:3", "impossible"),
])
def test_impossible_profiles_are_option_errors(text, needle):
    with pytest.raises(OptionError, match=needle) as info:
        parse_profile(text)
    assert info.value.option == "--profile"


def test_fixed_batch_onnx_forces_its_batch():
    assert resolve_profile(None, None, onnx="m.onnx") == DEFAULT_PROFILE
    assert resolve_profile(Profile(1, 2, 3), None, onnx="m.onnx") == Profile(1, 2, 3)
    assert resolve_profile(None, 4, onnx="m.onnx") == Profile(4, 4, 4)
    assert resolve_profile(Profile(4, 4, 4), 4, onnx="m.onnx") == Profile(4, 4, 4)
    with pytest.raises(OptionError, match=r"m.onnx has a fixed batch of 4, so --profile 1:8:32 cannot be built"):
        resolve_profile(Profile(1, 8, 32), 4, onnx="m.onnx")


@pytest.mark.parametrize("text, expected", [
    ("4G", 4 << 30), ("512M", 512 << 20), ("1.5GiB", 3 << 29), ("2gb", 2 << 30), ("1048576", 1 << 20),
    ("64 MiB", 64 << 20), ("1T", 1 << 40), ("2048k", 2 << 20),
])
def test_workspace_parsing(text, expected):
    assert parse_workspace(text) == expected


@pytest.mark.parametrize("text, needle", [
    ("4X", "not a size"), ("-1G", "not a size"), ("G", "not a size"), ("1k", "below 1 MiB"), ("0", "below 1 MiB"),
])
def test_bad_workspace(text, needle):
    with pytest.raises(OptionError, match=needle):
        parse_workspace(text)


def test_versions():
    assert parse_version("10.13.0.35") == (10, 13, 0, 35)
    assert parse_version("11.4.1") == (11, 4, 1)
    assert parse_version("10.0.0b6") == (10, 0, 0)
    assert trt_major("11.0.0") == 11 and trt_major("10.9.0.34") == 10
    with pytest.raises(ValueError):
        parse_version("unknown")
    check_tensorrt_version("10.0.1")
    with pytest.raises(OptionError, match="TensorRT 8.6.1 is too old"):
        check_tensorrt_version("8.6.1")


@pytest.mark.parametrize("level, trt, cc, needle", [
    ("same-cc", "10.8.0.43", "8.9", "needs TensorRT >= 10.9"),
    ("same-cc", "10.9.0.34", "7.0", "compute capability >= 7.5"),
    ("ampere+", "10.13.0.35", "7.5", "compute capability >= 8.0"),
    ("turbo", "10.13.0.35", "8.9", "unknown hardware compatibility"),
])
def test_hardware_compat_gating_refuses_with_the_reason(level, trt, cc, needle):
    with pytest.raises(OptionError, match=needle) as info:
        check_hardware_compat(level, tensorrt_version=trt, compute_capability=cc)
    assert info.value.option == "--hardware-compat"


@pytest.mark.parametrize("level, trt, cc", [
    ("none", "10.0.1", "7.0"), ("ampere+", "10.0.1", "8.0"), ("same-cc", "10.9.0.34", "7.5"),
    ("same-cc", "11.0.0", "9.0"),
])
def test_hardware_compat_allowed(level, trt, cc):
    check_hardware_compat(level, tensorrt_version=trt, compute_capability=cc)


def test_build_options_validate_and_serialize():
    options = BuildOptions(precision="fp32", profile=Profile(1, 4, 8), workspace_bytes=1 << 30)
    facts = options.to_dict()
    assert facts["profile"] == {"min": 1, "opt": 4, "max": 8} and facts["tf32"] is False
    assert BuildOptions(precision="int8", profile=DEFAULT_PROFILE).tf32 is True
    for bad, option in ((dict(precision="fp64"), "--precision"), (dict(opt_level=6), "--opt-level"),
                        (dict(hardware_compat="x"), "--hardware-compat"),
                        (dict(embed_lean_runtime=True), "--embed-lean-runtime")):
        with pytest.raises(OptionError) as info:
            BuildOptions(**{"precision": "fp32", "profile": DEFAULT_PROFILE, **bad})
        assert info.value.option == option
