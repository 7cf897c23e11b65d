"""dng2png.py: DNG in (real DNG files written by tifffile, read back through rawpy/LibRaw), the MAI21
RAW layout out; refusals."""
import os
import re

import numpy as np
import pytest
from conftest import assert_usage_error, run_script, sensor_mosaic, write_dng
from PIL import Image

import load_dataset
from errors import UsageError


def test_dng2png_writes_mai21_pngs_and_says_the_shift(truth, tmp_path):
    src = tmp_path / "dcim"
    src.mkdir()
    for cfa in ("RGGB", "GRBG", "GBRG", "BGGR"):
        write_dng(str(src / ("IMG_%s.DNG" % cfa)), sensor_mosaic(truth, cfa), cfa)
    out = str(tmp_path / "png")
    proc = run_script("dng2png.py", "input=" + str(src), "output=" + out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for cfa in ("RGGB", "GRBG", "GBRG", "BGGR"):
        img = Image.open(os.path.join(out, "IMG_%s.png" % cfa))
        assert img.mode.startswith("I;16") or img.mode == "I"
        arr = np.asarray(img).astype(int)
        assert arr.shape == truth.shape and np.max(np.abs(arr - truth)) <= 1
        dy, dx = divmod(cfa.index("R"), 2)
        assert re.search(r"IMG_%s\.DNG -> .*: pattern %s, shifted by %d rows? and %d columns? to RGGB" % (cfa, cfa, dy, dx),
                         proc.stdout), proc.stdout
    assert load_dataset.read_raw(os.path.join(out, "IMG_GRBG.png")).shape == truth.shape
    # a single file works too
    one = str(tmp_path / "one")
    proc = run_script("dng2png.py", "input=" + str(src / "IMG_BGGR.DNG"), "output=" + one)
    assert proc.returncode == 0 and os.listdir(one) == ["IMG_BGGR.png"], proc.stderr[-2000:]


def _xtrans(path, truth):
    pattern = "GGRGGBGGBGGRBRGRBGGGBGGRGGRGGBRBGBRG"  # Fujifilm's 6x6 X-Trans layout
    return write_dng(path, sensor_mosaic(truth, "RGGB"), pattern, repeat=(6, 6))


def _linear(path, truth):
    return write_dng(path, np.zeros(truth.shape + (3,), np.uint16), photometric=34892)


def _four_colour(path, truth):
    return write_dng(path, sensor_mosaic(truth, "RGGB"), "CYGM", planes="CYMG")


def _unreadable(path, truth):
    with open(path, "wb") as f:
        f.write(b"II*\x00 this is not a DNG")
    return path


@pytest.mark.parametrize("make,needle", [
    (_xtrans, "6x6 colour filter pattern (X-Trans?)"),
    (_linear, "no Bayer mosaic (a linear DNG or a Foveon/stacked sensor"),
    (_four_colour, "not an RGB Bayer pattern"),
    (_unreadable, "cannot read"),
])
def test_refusals_are_one_line_and_write_nothing(make, needle, truth, tmp_path):
    src = tmp_path / "dcim"
    src.mkdir()
    write_dng(str(src / "a_good.dng"), sensor_mosaic(truth, "RGGB"))
    bad = make(str(src / "b_bad.dng"), truth)
    with pytest.raises(UsageError) as err:
        load_dataset.read_dng(bad)
    assert needle in str(err.value)
    out = str(tmp_path / "png")
    proc = run_script("dng2png.py", "input=" + str(src), "output=" + out)
    assert_usage_error(proc, needle, "b_bad.dng")
    assert not os.path.exists(out)  # not even the good file's PNG


def test_missing_input(tmp_path):
    assert_usage_error(run_script("dng2png.py", "input=" + str(tmp_path / "none")), "does not exist")
    assert_usage_error(run_script("dng2png.py", "input=" + str(tmp_path)), "holds no .dng files")
    assert_usage_error(run_script("dng2png.py"), "give input=")
