"""isp/load_dataset.py: debayering order, reading RAW/RGB PNGs and DNGs, pairing the dataset folders."""
import os
import shutil

import numpy as np
import pytest
from conftest import sensor_mosaic, write_dng
from PIL import Image

from isp import load_dataset
from isp.errors import UsageError


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


def test_mismatched_folders_are_an_error(tmp_path, demo_data):
    root = str(tmp_path / "d")
    shutil.copytree(demo_data, root)
    os.remove(os.path.join(root, "val", "fujifilm", "0.png"))
    with pytest.raises(UsageError) as err:
        load_dataset.paired_names(root, "val", "mediatek_raw/", "fujifilm/")
    assert "different files" in str(err.value)


@pytest.mark.parametrize("cfa", ["RGGB", "GRBG", "GBRG", "BGGR"])
def test_every_bayer_arrangement_lands_as_rggb(cfa, truth, tmp_path):
    path = write_dng(str(tmp_path / ("%s.dng" % cfa)), sensor_mosaic(truth, cfa), cfa)
    out, note = load_dataset.read_dng(path)
    dy, dx = divmod(cfa.index("R"), 2)
    assert out.dtype == np.uint16 and out.shape == truth.shape
    # black levels subtracted per site, white scaled to 1023: back to the truth within rounding
    assert np.max(np.abs(out.astype(int) - truth.astype(int))) <= 1, cfa
    assert np.mean(out == truth) > 0.99
    assert ("pattern %s, shifted by %d row" % (cfa, dy)) in note and ("and %d column" % dx) in note
    # and the debayering (load_dataset.bayer_planes) then reads R from the R sites
    planes = load_dataset.bayer_planes(out)
    np.testing.assert_array_equal(planes[..., 2], out[0::2, 0::2])


def test_a_missing_phone_or_dslr_folder_lists_the_folders_that_exist(demo_data):
    for phone, dslr, needles in (("mediatek/", "fujifilm/", ["train RAW folder", "holds fujifilm/, mediatek_raw/",
                                                               "set phone_dir="]),
                                 ("mediatek_raw/", "dslr/", ["train target folder", "set dslr_dir="])):
        with pytest.raises(UsageError) as err:
            load_dataset.paired_names(demo_data, "train", phone, dslr)
        for needle in needles:
            assert needle in str(err.value), str(err.value)


def test_a_missing_folder_names_the_folders_there_are(tmp_path):
    (tmp_path / "test" / "b").mkdir(parents=True)
    (tmp_path / "test" / "a").mkdir()
    (tmp_path / "test" / "file.txt").write_text("x")
    with pytest.raises(UsageError, match=r"holds a/, b/; set test_dir= to one of them"):
        load_dataset.require_folder(str(tmp_path / "test" / "c"), "test RAW", "test_dir")
    with pytest.raises(UsageError, match=r"holds no folders"):
        load_dataset.require_folder(str(tmp_path / "test" / "a" / "x"), "test RAW", "test_dir")
    with pytest.raises(UsageError, match=r"nor does its parent folder .*nope.* \(check the path"):
        load_dataset.require_folder(str(tmp_path / "nope" / "x"), "test RAW", "test_dir")
    load_dataset.require_folder(str(tmp_path / "test" / "a"), "test RAW", "test_dir")  # there: no error
