"""make_demo_data.py: the generated demo dataset."""
import os

import numpy as np
from PIL import Image

import load_dataset
from make_demo_data import inverse_isp, make_dataset


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
