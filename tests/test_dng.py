"""Issue 8: DNG in (real DNG files written by tifffile, read back through rawpy/LibRaw), the MAI21
RAW layout out, and test_model.py straight on a DNG folder."""
import os
import re

import numpy as np
import pytest
import tifffile
from PIL import Image

from conftest import assert_usage_error, run_script
from utils import UsageError

import dng2png  # noqa: E402

COLOR = {"R": 0, "G": 1, "B": 2, "C": 3, "M": 4, "Y": 5}
BLACK = (60, 64, 72, 68)  # per 2x2 position: top-left, top-right, bottom-left, bottom-right
WHITE = 4156


def write_dng(path, mosaic, cfa="RGGB", black=BLACK, white=WHITE, photometric=32803, repeat=(2, 2),
              planes="RGB"):
    """A real DNG: the tags LibRaw needs for a CFA image (DNG version, CFA pattern and layout,
    black level per 2x2 position, white level, a colour matrix)."""
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),              # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),              # DNGBackwardVersion
        (50708, "s", 0, "Test Phone", True),              # UniqueCameraModel
        (33421, "H", 2, repeat, True),                    # CFARepeatPatternDim
        (33422, "B", len(cfa), tuple(COLOR[c] for c in cfa), True),  # CFAPattern
        (50710, "B", len(planes), tuple(COLOR[c] for c in planes), True),  # CFAPlaneColor
        (50711, "H", 1, 1, True),                         # CFALayout: rectangular
        (50713, "H", 2, (2, 2), True),                    # BlackLevelRepeatDim
        (50714, "H", 4, tuple(black), True),              # BlackLevel
        (50717, "H", 1, white, True),                     # WhiteLevel
        (50721, "2i", 9, (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1), True),  # ColorMatrix1
    ]
    tifffile.imwrite(path, mosaic, photometric=photometric, extratags=tags, subfiletype=0)
    return path


def sensor_mosaic(truth, cfa, black=BLACK, white=WHITE, seed=0):
    """The mosaic a sensor with `cfa` records for an RGGB-aligned 10-bit `truth`: the truth sits
    one row/column in where R is not top-left; each site gets its position's black level plus the
    value scaled to white; the extra row/column is noise."""
    dy, dx = divmod(cfa.index("R"), 2)
    h, w = truth.shape
    raw = np.random.RandomState(seed).randint(0, white, (h + 2, w + 2)).astype(np.float64)
    ys, xs = np.mgrid[0:h + 2, 0:w + 2]
    blacks = np.array(black, np.float64).reshape(2, 2)[ys % 2, xs % 2]
    inner = truth * (white - blacks[dy:dy + h, dx:dx + w]) / 1023.0 + blacks[dy:dy + h, dx:dx + w]
    raw[dy:dy + h, dx:dx + w] = np.round(inner)
    return raw[:h + dy, :w + dx].astype(np.uint16)


@pytest.fixture(scope="module")
def truth():
    return np.random.RandomState(7).randint(0, 1024, (64, 96)).astype(np.uint16)


@pytest.mark.parametrize("cfa", ["RGGB", "GRBG", "GBRG", "BGGR"])
def test_every_bayer_arrangement_lands_as_rggb(cfa, truth, tmp_path):
    path = write_dng(str(tmp_path / ("%s.dng" % cfa)), sensor_mosaic(truth, cfa), cfa)
    out, note = dng2png.read_dng(path)
    dy, dx = divmod(cfa.index("R"), 2)
    assert out.dtype == np.uint16 and out.shape == truth.shape
    # black levels subtracted per site, white scaled to 1023: back to the truth within rounding
    assert np.max(np.abs(out.astype(int) - truth.astype(int))) <= 1, cfa
    assert np.mean(out == truth) > 0.99
    assert ("pattern %s, shifted by %d row" % (cfa, dy)) in note and ("and %d column" % dx) in note
    # and the debayer order of formats.md then reads R from the R sites
    import load_dataset
    planes = load_dataset.bayer_planes(out)
    np.testing.assert_array_equal(planes[..., 2], out[0::2, 0::2])


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
    import load_dataset  # the training code reads them as it reads the challenge's RAWs
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
        dng2png.read_dng(bad)
    assert needle in str(err.value)
    out = str(tmp_path / "png")
    proc = run_script("dng2png.py", "input=" + str(src), "output=" + out)
    assert_usage_error(proc, needle, "b_bad.dng")
    assert not os.path.exists(out)  # not even the good file's PNG


def test_missing_input(tmp_path):
    assert_usage_error(run_script("dng2png.py", "input=" + str(tmp_path / "none")), "does not exist")
    assert_usage_error(run_script("dng2png.py", "input=" + str(tmp_path)), "holds no .dng files")
    assert_usage_error(run_script("dng2png.py"), "give input=")


def test_test_model_runs_straight_on_a_dng_folder(trained, demo_data, tmp_path):
    """The demo test scene as a GRBG phone's DNG: test_model.py on the DNG folder gives exactly
    what it gives on dng2png.py's PNGs, and the RAW it sees is the original mosaic."""
    import load_dataset
    model_dir, _ = trained
    scene = load_dataset.read_raw(os.path.join(demo_data, "test", "fujifilm_full_resolution", "1.png"))
    root = tmp_path / "data"
    dng_dir = root / "test" / "phone_dng"
    dng_dir.mkdir(parents=True)
    write_dng(str(dng_dir / "1.dng"), sensor_mosaic(scene, "GRBG"), "GRBG")
    proc = run_script("dng2png.py", "input=" + str(dng_dir), "output=" + str(root / "test" / "phone_png"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert np.max(np.abs(load_dataset.read_raw(str(root / "test" / "phone_png" / "1.png")).astype(int)
                         - scene.astype(int))) <= 1
    results, stdout = {}, {}
    for sub in ("phone_dng", "phone_png"):
        res = str(tmp_path / ("res_" + sub))
        proc = run_script("test_model.py", "dataset_dir=" + str(root), "test_dir=" + sub, "model_dir=" + model_dir,
                          "result_dir=" + res, "img_h=128", "img_w=192", "save=False", "runs=1")
        assert proc.returncode == 0, proc.stderr[-2000:]
        stdout[sub] = proc.stdout
        results[sub] = np.asarray(Image.open(os.path.join(res, "1_model_iteration_4.png")))
        assert results[sub].shape == (128, 192, 3)
    assert "holds DNG files: each is converted as dng2png.py does" in stdout["phone_dng"]
    assert "DNG" not in stdout["phone_png"]
    np.testing.assert_array_equal(results["phone_dng"], results["phone_png"])
    # a DNG smaller than img_w x img_h: one line, nothing written
    proc = run_script("test_model.py", "dataset_dir=" + str(root), "test_dir=phone_dng", "model_dir=" + model_dir,
                      "result_dir=" + str(tmp_path / "never"), "img_h=256", "img_w=192", "save=False")
    assert_usage_error(proc, "1.dng", "smaller than img_w x img_h")
    assert not os.path.exists(str(tmp_path / "never"))
