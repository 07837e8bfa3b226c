from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from vgg_deploy.cli.data_cmd import digits as digits_command
from vgg_deploy.data import (
    DataError, Samples, digits_images, load_samples, preprocess_image, split_holdout, write_digits_folder,
)
from vgg_deploy.data import folders, sources
from vgg_deploy.errors import VGGDeployError
from vgg_deploy.models import model_config

TINY = model_config("vgg_tiny")  # 3 x 32 x 32
GRAY = TINY.with_options(in_channels=1)


def _image(path: Path, *, value: int, mode: str = "RGB", size: tuple[int, int] = (40, 36)) -> Path:
    """A uniform image whose gray level `value` identifies it after preprocessing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, (value, value, value))
    if mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode != "RGB":
        image = image.convert(mode)
    image.save(path)
    return path


def _garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    return path


def _ids(samples: Samples) -> list[int]:
    """Recover each image's gray level from its first pixel (undoing the config's mean/std)."""
    cfg = TINY if samples.images.shape[1] == 3 else GRAY
    return [int(round((img[0, 0, 0] * cfg.std[0] + cfg.mean[0]) * 255)) for img in samples.images]


@pytest.fixture
def class_folder(tmp_path):
    """Three classes (created out of order), every image mode, a .txt, a broken .png and hidden entries."""
    root = tmp_path / "classes"
    _image(root / "cat" / "b.jpg", value=30, mode="L", size=(64, 48))
    _image(root / "cat" / "a.png", value=20, size=(33, 70))
    _image(root / "bee" / "x.PNG", value=40, mode="RGBA")
    _image(root / "bee" / "deep" / "y.bmp", value=50, size=(32, 32))
    _image(root / "ant" / "p.png", value=60, mode="P")
    _image(root / "ant" / "q.webp", value=70, mode="RGB", size=(20, 20))
    (root / "ant" / "readme.txt").write_text("not an image")
    _garbage(root / "bee" / "broken.png")
    (root / ".DS_Store").write_bytes(b"\0\0")
    _image(root / ".cache" / "old.png", value=80)  # hidden: neither a class nor an image
    return root


def _files_in_load_order(root: Path) -> list[Path]:
    return sorted((p for p in root.rglob("*") if p.suffix.lower() in sources.IMAGE_SUFFIXES
                   and p.name != "broken.png" and ".cache" not in p.parts), key=lambda p: p.relative_to(root).parts)


# --- image folders -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config", [TINY, GRAY], ids=["rgb", "gray"])
def test_class_folders_give_sorted_labels_and_preprocessed_images(class_folder, config):
    samples = load_samples(class_folder, config, show_progress=False)
    assert samples.classes == ("ant", "bee", "cat")
    assert samples.images.shape == (6, config.in_channels, 32, 32) and samples.images.dtype == np.float32
    assert samples.labels.dtype == np.int64
    assert samples.labels.tolist() == [0, 0, 1, 1, 2, 2]
    files = _files_in_load_order(class_folder)
    for image, path in zip(samples.images, files):
        np.testing.assert_array_equal(image, preprocess_image(path, config))
    assert samples.source == str(class_folder) and not samples.synthetic and len(samples) == 6


def test_unreadable_and_non_image_files_are_skipped_with_reasons(class_folder):
    samples = load_samples(class_folder, TINY, show_progress=False)
    reasons = dict(samples.skipped)
    assert set(reasons) == {str(class_folder / "ant" / "readme.txt"), str(class_folder / "bee" / "broken.png")}
    assert "not an image file" in reasons[str(class_folder / "ant" / "readme.txt")]
    assert "not a readable image" in reasons[str(class_folder / "bee" / "broken.png")]
    assert "6 images" in samples.describe() and "2 files skipped" in samples.describe()


def test_flat_folder_has_no_labels_and_keeps_sorted_order(tmp_path):
    root = tmp_path / "flat"
    for name, value in [("c.JPEG", 90), ("a.png", 10), ("b.Jpg", 50)]:
        _image(root / name, value=value)
    _image(root / "more" / "d.png", value=130)  # images at the top level: sub-folders are not classes
    samples = load_samples(root, TINY, show_progress=False)
    assert samples.labels is None and samples.classes is None
    assert _ids(samples) == [10, 50, 90, 130]


def _numbered_folder(root: Path, count: int) -> Path:
    for i in range(count):
        _image(root / f"{i:03d}.png", value=i * 5, size=(32, 32))
    return root


def test_limit_picks_a_seeded_subset_before_decoding(tmp_path, monkeypatch):
    root = _numbered_folder(tmp_path / "many", 40)
    decoded: list[Path] = []
    real_decode = folders._decode
    monkeypatch.setattr(folders, "_decode", lambda path, cfg: decoded.append(path) or real_decode(path, cfg))
    first = load_samples(root, TINY, limit=8, seed=0, show_progress=False)
    assert len(decoded) == 8  # only the chosen files are decoded
    again = load_samples(root, TINY, limit=8, seed=0, show_progress=False)
    other = load_samples(root, TINY, limit=8, seed=1, show_progress=False)
    assert len(first) == 8 and first.indices.tolist() == sorted(first.indices.tolist())
    assert [i * 5 for i in first.indices] == _ids(first)  # indices point at the files actually loaded
    np.testing.assert_array_equal(first.images, again.images)
    assert first.indices.tolist() != other.indices.tolist()


def test_limit_tops_up_when_chosen_files_are_unreadable(tmp_path):
    root = _numbered_folder(tmp_path / "some_bad", 12)
    for i in (1, 4, 7, 10):
        _garbage(root / f"{i:03d}.png")
    samples = load_samples(root, TINY, limit=7, seed=3, show_progress=False)
    assert len(samples) == 7
    assert _ids(samples) == sorted(_ids(samples)) and all(v // 5 not in (1, 4, 7, 10) for v in _ids(samples))
    assert all("not a readable image" in reason for _, reason in samples.skipped)


def test_folder_without_readable_images_says_how_many_were_skipped(tmp_path):
    root = tmp_path / "bad"
    _garbage(root / "one.png")
    _garbage(root / "two.jpg")
    (root / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"none of its 2 image files could be read \(3 files skipped"):
        load_samples(root, TINY, show_progress=False)


def test_image_too_large_to_decode_is_skipped(tmp_path, monkeypatch):
    root = tmp_path / "bomb"
    _image(root / "big.png", value=10, size=(64, 64))
    _image(root / "small.png", value=20, size=(8, 8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64*64 > 2x the limit: Pillow refuses it
    samples = load_samples(root, TINY, show_progress=False)
    assert len(samples) == 1 and "too large to decode safely" in dict(samples.skipped)[str(root / "big.png")]
    with pytest.raises(VGGDeployError, match="not a readable image"):
        preprocess_image(root / "big.png", TINY)


def test_folder_link_loop_ends(tmp_path):
    root = _numbered_folder(tmp_path / "loop", 2)
    os.symlink(root, root / "again")
    assert _ids(load_samples(root, TINY, show_progress=False)) == [0, 5]


@pytest.mark.parametrize("make, needle", [
    (lambda p: p / "missing", "no such file or folder"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no image files"),
    (lambda p: (p / "data.csv").write_text("1,2") and p / "data.csv", "unsupported file type '.csv'"),
])
def test_unusable_sources_are_data_errors_naming_the_path(tmp_path, make, needle):
    path = make(tmp_path)
    with pytest.raises(DataError, match=needle) as info:
        load_samples(path, TINY, show_progress=False)
    assert str(path) in str(info.value) and "'digits'" in str(info.value)  # says what is accepted


def test_bad_limit_and_channel_count_are_data_errors(class_folder):
    with pytest.raises(DataError, match="at least 1"):
        load_samples(class_folder, TINY, limit=0)
    with pytest.raises(DataError, match="1- or 3-channel"):
        load_samples(class_folder, TINY.with_options(in_channels=2), show_progress=False)


# --- arrays --------------------------------------------------------------------------------------------------------

def test_npy_loads_as_float32_and_limits_by_seed(tmp_path):
    data = np.random.default_rng(0).standard_normal((10, 3, 32, 32))  # float64, converted
    path = tmp_path / "calib.npy"
    np.save(path, np.asfortranarray(data))
    samples = load_samples(path, TINY)
    assert samples.images.dtype == np.float32 and samples.images.flags.c_contiguous
    np.testing.assert_allclose(samples.images, data, rtol=1e-6)
    assert samples.labels is None and samples.classes is None
    part = load_samples(path, TINY, limit=4, seed=5)
    assert len(part) == 4 and np.array_equal(part.images, samples.images[part.indices])
    assert np.array_equal(part.indices, load_samples(path, TINY, limit=4, seed=5).indices)
    assert not np.array_equal(part.indices, load_samples(path, TINY, limit=4, seed=6).indices)


@pytest.mark.parametrize("shape", [(4, 32, 32, 3), (3, 32, 32), (4, 1, 32, 32), (4, 3, 16, 16)])
def test_npy_with_wrong_shape_names_file_shape_and_expected(tmp_path, shape):
    path = tmp_path / "wrong.npy"
    np.save(path, np.zeros(shape, dtype=np.float32))
    with pytest.raises(DataError) as info:
        load_samples(path, TINY)
    message = str(info.value)
    assert str(path) in message and str(shape) in message and "expected (N, 3, 32, 32)" in message


def test_npy_shape_is_checked_before_memory_is_allocated(tmp_path):
    # A header that claims 10^9 images (12 TB) over a few bytes: refused from the header alone.
    path = tmp_path / "claims_a_lot.npy"
    with open(path, "wb") as fp:
        np.lib.format.write_array_header_1_0(fp, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (10**9, 3, 32, 32)})
        fp.write(b"\0" * 64)
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_samples(path, TINY)


@pytest.mark.parametrize("array, needle", [
    (np.zeros((2, 3, 32, 32), dtype=np.uint8), "uint8 data; expected float images"),
    (np.full((2, 3, 32, 32), np.nan, dtype=np.float32), "NaN or Inf"),
    (np.zeros((0, 3, 32, 32), dtype=np.float32), "holds no images"),
])
def test_npy_with_unusable_values(tmp_path, array, needle):
    path = tmp_path / "values.npy"
    np.save(path, array)
    with pytest.raises(DataError, match=needle):
        load_samples(path, TINY)


def test_npy_of_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"\(1,\) does not fit"):
        load_samples(path, TINY)


def test_npz_keyed_by_input_name_with_labels(tmp_path):
    rng = np.random.default_rng(1)
    images, labels = rng.standard_normal((9, 1, 32, 32)).astype(np.float32), np.arange(9, dtype=np.int32) % 3
    path = tmp_path / "calib.npz"
    np.savez(path, pixels=images, labels=labels, other=np.zeros(3))
    samples = load_samples(path, GRAY, input_name="pixels", limit=5, seed=2)
    np.testing.assert_array_equal(samples.images, images[samples.indices])
    assert samples.labels.dtype == np.int64 and samples.labels.tolist() == labels[samples.indices].tolist()
    with pytest.raises(DataError, match=r"no array named 'input' among \['labels', 'other', 'pixels'\]"):
        load_samples(path, GRAY)


def test_npz_with_one_array_uses_it_whatever_its_name(tmp_path):
    images = np.ones((3, 3, 32, 32), dtype=np.float32)
    path = tmp_path / "one.npz"
    np.savez_compressed(path, whatever=images)
    samples = load_samples(path, TINY)
    np.testing.assert_array_equal(samples.images, images)
    assert samples.labels is None


@pytest.mark.parametrize("arrays, needle", [
    ({"input": np.zeros((3, 3, 8, 8), np.float32)}, r"calib.npz\['input'\]: array of shape \(3, 3, 8, 8\)"),
    ({"input": np.zeros((3, 3, 32, 32), np.float32), "labels": np.zeros(4, np.int64)}, "labels must be 3 integers"),
    ({"input": np.zeros((3, 3, 32, 32), np.float32), "labels": np.zeros(3)}, "labels must be 3 integers"),
    ({"input": np.zeros((2, 3, 32, 32), np.float32), "labels": np.array([0, -1])}, "class indices >= 0"),
])
def test_npz_bad_images_or_labels(tmp_path, arrays, needle):
    path = tmp_path / "calib.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=needle) as info:
        load_samples(path, TINY)
    assert str(path) in str(info.value)


def test_npz_that_is_not_a_zip(tmp_path):
    path = tmp_path / "fake.npz"
    path.write_bytes(b"hello")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_samples(path, TINY)


# --- built-in sources ----------------------------------------------------------------------------------------------

def test_digits_images_are_8bit_grayscale():
    pytest.importorskip("sklearn")
    images, labels = digits_images()
    assert len(images) == len(labels) == 1797
    assert {im.mode for im in images} == {"L"} and {im.size for im in images} == {(8, 8)}
    stacked = np.stack([np.asarray(im) for im in images])
    assert stacked.min() == 0 and stacked.max() == 255
    assert sorted(set(labels.tolist())) == list(range(10))


def test_digits_in_memory_equal_the_written_folder(tmp_path):
    pytest.importorskip("sklearn")
    memory = load_samples("digits", GRAY, show_progress=False)
    assert len(memory) == 1797 and memory.images.shape[1:] == (1, 32, 32)
    assert memory.classes == tuple("0123456789") and sorted(set(memory.labels.tolist())) == list(range(10))
    assert write_digits_folder(tmp_path / "digits") == 1797
    folder = load_samples(tmp_path / "digits", GRAY, show_progress=False)
    np.testing.assert_allclose(folder.images, memory.images)
    assert folder.labels.tolist() == memory.labels.tolist() and folder.classes == memory.classes
    # The same subset is chosen from either, since both list the images in the same order.
    a = load_samples("digits", GRAY, limit=30, seed=4, show_progress=False)
    b = load_samples(tmp_path / "digits", GRAY, limit=30, seed=4, show_progress=False)
    np.testing.assert_allclose(a.images, b.images)
    assert a.labels.tolist() == b.labels.tolist()


def test_write_digits_folder_refuses_a_non_empty_folder(tmp_path):
    pytest.importorskip("sklearn")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="not an empty folder"):
        write_digits_folder(tmp_path / "taken", limit=3)
    assert os.listdir(tmp_path / "taken") == ["keep.txt"]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    (tmp_path / "empty").mkdir()
    assert write_digits_folder(tmp_path / "empty", limit=3) == 3  # an empty folder is fine
    assert sorted(p.name for p in (tmp_path / "empty").rglob("*.png")) == ["0000.png", "0001.png", "0002.png"]


def test_synthetic_only_by_name_and_seeded():
    samples = load_samples("synthetic", TINY)
    assert samples.synthetic and len(samples) == 128 and samples.images.shape[1:] == (3, 32, 32)
    assert samples.labels is None
    small = load_samples("synthetic", GRAY, limit=5, seed=7)
    assert small.images.shape == (5, 1, 32, 32)
    np.testing.assert_array_equal(small.images, load_samples("synthetic", GRAY, limit=5, seed=7).images)
    assert not np.array_equal(small.images, load_samples("synthetic", GRAY, limit=5, seed=8).images)
    with pytest.raises(DataError, match="no such file"):
        load_samples(Path("synthetic"), TINY)  # a path is always a path


# --- split_holdout -------------------------------------------------------------------------------------------------

def _distinct(count: int, *, synthetic: bool = False) -> Samples:
    """Images whose every pixel equals their index, labelled index % 3: content identifies each one."""
    images = np.broadcast_to(np.arange(count, dtype=np.float32)[:, None, None, None], (count, 1, 4, 4)).copy()
    return Samples(images=images, labels=np.arange(count, dtype=np.int64) % 3, classes=("a", "b", "c"),
                   source="SRC", synthetic=synthetic)


def test_split_holdout_is_disjoint_and_takes_the_fraction():
    calib, holdout, how = split_holdout(_distinct(128), calib_count=128, seed=0)
    assert (len(calib), len(holdout)) == (102, 26)
    assert how == "held out 20% (26 of 128 images) of SRC, disjoint from the 102 calibration images"
    calib_ids, holdout_ids = set(calib.images[:, 0, 0, 0].tolist()), set(holdout.images[:, 0, 0, 0].tolist())
    assert not calib_ids & holdout_ids and len(calib_ids | holdout_ids) == 128
    assert set(calib.indices.tolist()) == calib_ids  # indices trace back to the source
    for part in (calib, holdout):  # labels and classes follow the split; order is kept
        assert part.labels.tolist() == [int(v) % 3 for v in part.images[:, 0, 0, 0]]
        assert part.classes == ("a", "b", "c") and part.indices.tolist() == sorted(part.indices.tolist())
    _, other, _ = split_holdout(_distinct(128), calib_count=128, seed=1)
    assert set(other.indices.tolist()) != set(holdout.indices.tolist())


def test_split_holdout_caps_calibration_and_raises_holdout_to_the_minimum():
    calib, holdout, how = split_holdout(_distinct(1000), calib_count=64, seed=0)
    assert (len(calib), len(holdout)) == (64, 200) and "736 more unused" in how
    calib, holdout, _ = split_holdout(_distinct(40), calib_count=64, min_holdout=16)
    assert (len(calib), len(holdout)) == (24, 16)
    assert not set(calib.indices.tolist()) & set(holdout.indices.tolist())
    calib, holdout, _ = split_holdout(_distinct(20), calib_count=4, min_holdout=16)  # small calib: still real
    assert (len(calib), len(holdout)) == (4, 16) and not holdout.synthetic


def test_split_holdout_with_too_few_images_uses_separate_synthetic_inputs():
    calib, holdout, how = split_holdout(_distinct(20), calib_count=128, min_holdout=16, seed=0)
    assert len(calib) == 20 and not calib.synthetic
    assert len(holdout) == 16 and holdout.synthetic and holdout.labels is None
    assert holdout.images.shape[1:] == (1, 4, 4)
    assert "too few images (20)" in how and "held-out parity uses 16 separate synthetic inputs" in how


def test_split_holdout_of_a_small_synthetic_source_does_not_reuse_its_noise():
    source = load_samples("synthetic", GRAY, limit=10, seed=0)
    calib, holdout, _ = split_holdout(source, calib_count=10, seed=0)
    flat = holdout.images.reshape(len(holdout), -1)
    assert not any(np.array_equal(row, img) for row in flat for img in calib.images.reshape(len(calib), -1))


def test_split_holdout_rejects_nonsense_arguments():
    with pytest.raises(ValueError, match="holdout_fraction"):
        split_holdout(_distinct(10), calib_count=4, holdout_fraction=1.5)


# --- CLI -----------------------------------------------------------------------------------------------------------

def test_digits_command_writes_class_folders(tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "digits"
    result = CliRunner().invoke(digits_command, ["-o", str(out), "--limit", "25"])
    assert result.exit_code == 0, result.output
    assert "wrote 25 digit images" in result.output and str(out) in result.output
    pngs = sorted(out.rglob("*.png"))
    assert len(pngs) == 25 and {p.parent.name for p in pngs} <= set("0123456789")
    assert sorted(p.name for p in out.iterdir()) == list("0123456789")


@pytest.mark.parametrize("args, needle", [(["--limit", "0"], "--limit"), ([], "not empty")])
def test_digits_command_usage_errors(tmp_path, args, needle):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    target = tmp_path / ("new" if args else "full")
    result = CliRunner().invoke(digits_command, ["-o", str(target), *args])
    assert result.exit_code == 2 and needle in result.output
    assert not (tmp_path / "new").exists()
