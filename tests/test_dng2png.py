"""dng2png.py: DNG in (real DNG files written by tifffile, read back through rawpy/LibRaw), the MAI21
RAW layout out; refusals."""
import os
import re

import numpy as np
import pytest
from conftest import assert_usage_error, run_script, save_random_checkpoint, sensor_mosaic, write_dng
from PIL import Image

from isp import dng
from isp import load_dataset
from isp.errors import UsageError
from make_demo_data import MARKER, make_dataset


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


@pytest.mark.parametrize("cfa", ["RGGB", "GRBG", "GBRG", "BGGR"])
def test_a_scene_as_a_sensor_of_any_layout_reads_back_less_its_alignment_crop(cfa, truth, tmp_path):
    """dng.sensor_mosaic puts an RGGB-aligned scene on a sensor of another layout at the same size;
    read back, it is the scene without the row/column the alignment costs."""
    path = dng.write_dng(str(tmp_path / "a.dng"), dng.sensor_mosaic(truth, cfa, (256, 250, 260, 256), 4095), cfa,
                         (256, 250, 260, 256), 4095)
    mosaic, note = load_dataset.read_dng(path)
    dy, dx = divmod(cfa.index("R"), 2)
    h, w = truth.shape[0] - 2 * dy, truth.shape[1] - 2 * dx
    assert note.endswith("%dx%d" % (w, h)), note
    np.testing.assert_array_equal(mosaic, truth[:h, :w])


def test_the_demo_data_gives_dngs_to_try_and_the_readme_command_runs_on_them(tmp_path):
    """make_demo_data.py writes its test scenes also as a GRBG phone's DNGs (test/dng/<n>.dng):
    dng2png.py gives back the demo's RAW PNG (1 column less: the RGGB alignment; Bayer planes
    equal), and the README's `test_model.py test_dir=dng img_h=full img_w=full` runs on them, where
    the RAW PNGs' own size would not fit."""
    out = str(tmp_path / "raw_images")
    proc = run_script("make_demo_data.py", "out=" + out, "train_count=2", "val_count=1", "test_count=2",
                      "patch_size=32", "test_h=128", "test_w=192")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "test_dir=dng img_h=full img_w=full" in proc.stdout
    assert sorted(os.listdir(os.path.join(out, "test", "dng"))) == ["1.dng", "2.dng"]
    with open(os.path.join(out, MARKER)) as f:
        assert {"test/dng/1.dng", "test/dng/2.dng"} <= set(f.read().split())
    png = str(tmp_path / "png")
    proc = run_script("dng2png.py", "input=" + os.path.join(out, "test", "dng"), "output=" + png)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pattern GRBG, shifted by 0 rows and 1 column to RGGB" in proc.stdout and "190x128" in proc.stdout
    for n in (1, 2):
        raw = load_dataset.read_raw(os.path.join(out, "test", "fujifilm_full_resolution", "%d.png" % n))
        back = load_dataset.read_raw(os.path.join(png, "%d.png" % n))
        assert back.shape == (128, 190)
        assert np.max(np.abs(load_dataset.bayer_planes(back).astype(int)
                             - load_dataset.bayer_planes(raw[:, :190]).astype(int))) <= 1
    # a model on the DNGs, as the README shows it (a random checkpoint: only that it runs)
    models = tmp_path / "models"
    models.mkdir()
    save_random_checkpoint(str(models / "model_iteration_1.ckpt"), "model", 16)
    base = ["dataset_dir=" + out, "test_dir=dng", "model_dir=" + str(models), "save=False", "runs=1"]
    res = str(tmp_path / "results")
    proc = run_script("test_model.py", *base + ["img_h=full", "img_w=full", "result_dir=" + res])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "holds DNG files" in proc.stdout
    for n in (1, 2):  # its output picture of each (whatever the result files' naming)
        (name,) = [f for f in os.listdir(res) if f.startswith("%d_" % n) and f.endswith(".png") and "vs_target" not in f]
        assert np.asarray(Image.open(os.path.join(res, name))).shape == (128, 190, 3)
    # the RAW PNGs' size does not fit them: the reason the README says full
    proc = run_script("test_model.py", *base + ["img_h=128", "img_w=192", "result_dir=" + str(tmp_path / "never")])
    assert_usage_error(proc, "1.dng", "smaller than img_w x img_h")
    # dng=False: no DNGs
    make_dataset(str(tmp_path / "no_dng"), train_count=1, val_count=1, test_count=1, patch_size=32, test_h=64,
                 test_w=64, progress=False, dng=False)
    assert not os.path.exists(str(tmp_path / "no_dng" / "test" / "dng"))
