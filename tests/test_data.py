"""Debayering order, RAW/RGB reading, and the generated demo dataset."""
import os

import numpy as np
import pytest
from PIL import Image

import load_dataset
from make_demo_data import inverse_isp, make_dataset
from utils import UsageError


def test_debayer_channel_order_and_scale():
    raw = np.zeros((4, 6), np.uint16)
    raw[0::2, 0::2] = 100   # R
    raw[0::2, 1::2] = 200   # G on the R rows ("Gb" in the seed's naming)
    raw[1::2, 1::2] = 300   # B
    raw[1::2, 0::2] = 400   # G on the B rows ("Gr")
    planes = load_dataset.extract_bayer_channels(raw)
    assert planes.shape == (2, 3, 4) and planes.dtype == np.float32
    # channel order B, Gb, R, Gr, divided by 1020
    np.testing.assert_allclose(planes[0, 0], np.array([300, 200, 100, 400]) / 1020.0, rtol=1e-6)
    assert load_dataset.bayer_planes(raw).dtype == np.uint16  # batches stay compact


def test_read_raw_rejects_wrong_files(tmp_path):
    eight = str(tmp_path / "eight.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(eight)
    rgb = str(tmp_path / "rgb.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(rgb)
    good = str(tmp_path / "good.png")
    Image.fromarray(np.full((8, 8), 1023, np.uint16)).save(good)
    broken = str(tmp_path / "broken.png")
    with open(good, "rb") as f:
        data = f.read()
    with open(broken, "wb") as f:
        f.write(data[:len(data) // 2])
    assert load_dataset.read_raw(good).max() == 1023
    for path, needle in ((eight, "not a single-channel 16-bit PNG"),
                         (rgb, "not a single-channel 16-bit PNG"), (broken, "broken.png")):
        with pytest.raises(UsageError) as err:
            load_dataset.read_raw(path)
        assert needle in str(err.value)


def test_demo_dataset_layout(demo_data):
    for split in ("train", "val"):
        names = load_dataset.paired_names(demo_data, split, "mediatek_raw/", "fujifilm/")
        assert len(names) == {"train": 12, "val": 4}[split]
        raw = load_dataset.read_raw(os.path.join(demo_data, split, "mediatek_raw", names[0]))
        rgb = load_dataset.read_rgb(os.path.join(demo_data, split, "fujifilm", names[0]))
        assert raw.dtype == np.uint16 and raw.shape == (64, 64) and raw.max() <= 1023
        assert rgb.dtype == np.uint8 and rgb.shape == (64, 64, 3)
    test_raw = load_dataset.read_raw(os.path.join(demo_data, "test", "fujifilm_full_resolution", "1.png"))
    assert test_raw.shape == (128, 192)
    assert load_dataset.read_rgb(os.path.join(demo_data, "test", "fujifilm", "1.png")).shape == (128, 192, 3)


def test_inverse_isp_puts_colours_on_the_rggb_sites():
    rng = np.random.RandomState(0)
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 230
    blue = np.zeros((64, 64, 3), np.uint8)
    blue[..., 2] = 230
    for img, strong, weak in ((red, 2, 0), (blue, 0, 2)):   # planes: 0=B, 2=R
        planes = load_dataset.bayer_planes(inverse_isp(img, rng)).astype(float)
        means = planes.mean(axis=(0, 1))
        assert means[strong] > 5 * means[weak] + 20, means


def test_demo_dataset_is_reproducible(tmp_path):
    a = make_dataset(str(tmp_path / "a"), train_count=2, val_count=1, test_count=1, patch_size=32,
                     test_h=64, test_w=64, seed=3, progress=False)
    b = make_dataset(str(tmp_path / "b"), train_count=2, val_count=1, test_count=1, patch_size=32,
                     test_h=64, test_w=64, seed=3, progress=False)
    for rel in ("train/mediatek_raw/1.png", "val/fujifilm/0.png", "test/fujifilm_full_resolution/1.png"):
        assert np.array_equal(np.asarray(Image.open(os.path.join(a, rel))),
                              np.asarray(Image.open(os.path.join(b, rel))))


def test_mismatched_folders_are_an_error(tmp_path, demo_data):
    import shutil
    root = str(tmp_path / "d")
    shutil.copytree(demo_data, root)
    os.remove(os.path.join(root, "val", "fujifilm", "0.png"))
    with pytest.raises(UsageError) as err:
        load_dataset.paired_names(root, "val", "mediatek_raw/", "fujifilm/")
    assert "different files" in str(err.value)


def test_atomic_output_replaces_only_on_success(tmp_path):
    from utils import atomic_output
    path = str(tmp_path / "out.txt")
    with open(path, "w") as f:
        f.write("old")
    with pytest.raises(RuntimeError):
        with atomic_output(path) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("crash while writing")
    assert open(path).read() == "old" and os.listdir(str(tmp_path)) == ["out.txt"]
    with atomic_output(path, ".tmp.txt") as tmp:
        assert tmp.endswith(".tmp.txt")
        with open(tmp, "w") as f:
            f.write("new")
    assert open(path).read() == "new" and os.listdir(str(tmp_path)) == ["out.txt"]
