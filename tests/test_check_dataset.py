"""check_dataset.py against known truth (make_demo_data.py's shifts.csv and its pairs spoilt on
purpose), its file checks and outputs; targets in JPEG, the Zurich RAW-to-RGB layout end to end
(make_demo_data.py dslr_format=jpg val_split=test, train_model.py val_split=test, test_model.py on
RAWs without targets) and train_model.py exclude=."""
import csv
import os
import shutil

import numpy as np
import pytest
from conftest import SMALL, assert_usage_error, kv_words, run_script
from PIL import Image
from scipy import ndimage

from isp import dataset_check
from isp import load_dataset
from isp import unprocess
from isp.errors import UsageError
from make_demo_data import make_dataset

SHIFT = 3.0  # demo misalignment of up to 3 px: the check must find each pair's own
ZURICH = {"dslr_dir": "canon/", "phone_dir": "huawei_raw/"}


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def truth_data(tmp_path_factory):
    """40 training pairs of 256x256 (the demo's own size) shifted by up to SHIFT px, 3 of them spoilt."""
    out = str(tmp_path_factory.mktemp("truth") / "data")
    make_dataset(out, train_count=40, val_count=2, test_count=1, patch_size=256, test_h=64, test_w=64, seed=0,
                 progress=False, dng=False, shift=SHIFT, bad_pairs=3)
    return out


@pytest.fixture(scope="module")
def checked(truth_data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("check") / "report")
    proc = run_script("check_dataset.py", "dataset_dir=" + truth_data, "split=train,val", "out=" + out,
                      "truth=" + os.path.join(truth_data, "shifts.csv"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_shifts_are_found_within_half_a_pixel_and_bad_pairs_are_the_worst(truth_data, checked):
    out, proc = checked
    truth = {(r["split"], r["name"]): r for r in read_csv(os.path.join(truth_data, "shifts.csv"))}
    rows = read_csv(os.path.join(out, "pairs.csv"))
    assert [(r["split"], r["name"]) for r in rows] == [k for k in truth if k[0] != "test"]
    assert {"split", "name", "shift_x", "shift_y", "corr", "clipped", "score", "flags"} <= set(rows[0])
    good = [r for r in rows if not truth[(r["split"], r["name"])]["bad"]]
    errors = np.array([max(abs(float(r["shift_" + a] or "nan") - float(truth[(r["split"], r["name"])]["shift_" + a]))
                           for a in "xy") for r in good])
    assert len(good) == 39 and np.mean(errors <= 0.5) >= 0.95, sorted(errors)[-5:]
    assert max(abs(float(truth[(r["split"], r["name"])]["shift_x"])) for r in good) > 1.5  # shifts to find
    spoilt = {"train/" + r["name"]: r["bad"] for r in truth.values() if r["bad"]}
    assert sorted(spoilt.values()) == ["blown exposure", "other scene", "shift 20 px"]
    listed = proc.stdout.split("the worst (contact sheet")[1].splitlines()[1:9]
    worst = [line.split()[0] for line in listed]
    assert set(spoilt) <= set(worst), (spoilt, proc.stdout)
    with open(os.path.join(out, "exclude.txt")) as f:
        excluded = f.read().split()
    assert set(spoilt) <= set(excluded) and len(excluded) <= 8
    by_name = {"train/" + r["name"]: r for r in rows if r["split"] == "train"}
    kinds = {kind: by_name[name] for name, kind in spoilt.items()}
    moved = kinds["shift 20 px"]
    assert "shift" in moved["flags"] and abs(float(moved["shift_x"]) - float(truth[("train", moved["name"])]["shift_x"])) < 0.5
    assert "corr" in kinds["other scene"]["flags"] and "clipped" in kinds["blown exposure"]["flags"]
    assert "white level 1023 (10-bit" in proc.stdout and "pairs/s on this machine" in proc.stdout
    assert "pairs spoilt on purpose among the 8 worst: 3 of 3" in proc.stdout  # truth=: the same verdict printed
    assert "%d of 39 pairs within 0.5 px" % np.sum(errors <= 0.5) in proc.stdout
    with Image.open(os.path.join(out, "worst_pairs.jpg")) as sheet:
        assert sheet.format == "JPEG" and sheet.size[1] > 8 * 192


def test_file_problems_are_all_counted_in_one_pass(demo_data, tmp_path):
    root = str(tmp_path / "d")
    shutil.copytree(demo_data, root)
    train = os.path.join(root, "train")
    os.remove(os.path.join(train, "fujifilm", "0.png"))  # a RAW without a target
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(os.path.join(train, "mediatek_raw", "1.png"))  # 8-bit
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(os.path.join(train, "fujifilm", "2.png"))  # size
    with open(os.path.join(train, "fujifilm", "3.png"), "r+b") as f:
        f.truncate(100)  # truncated
    out = str(tmp_path / "report")
    proc = run_script("check_dataset.py", "dataset_dir=" + root, "out=" + out, "worst=4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["name"]: r for r in read_csv(os.path.join(out, "pairs.csv")) if r["split"] == "train"}
    assert rows["0.png"]["problem"] == "no target: RAW without a target"
    assert rows["1.png"]["problem"].startswith("RAW not 16-bit Bayer: ") and "16-bit PNG" in rows["1.png"]["problem"]
    assert rows["2.png"]["problem"] == "sizes differ: RAW is 64x64 but its target is 32x32"
    assert rows["3.png"]["problem"].startswith("unreadable: cannot read RGB PNG")
    assert all(not r["problem"] for name, r in rows.items() if name not in ("0.png", "1.png", "2.png", "3.png"))
    assert "file problems: RAW not 16-bit Bayer 1; no target 1; sizes differ 1; unreadable 1" in proc.stdout
    with open(os.path.join(out, "exclude.txt")) as f:
        assert {"train/0.png", "train/1.png", "train/2.png", "train/3.png"} <= set(f.read().split())
    # the files of a check are never replaced unasked
    before = {n: os.path.getmtime(os.path.join(out, n)) for n in os.listdir(out)}
    proc = run_script("check_dataset.py", "dataset_dir=" + root, "out=" + out)
    assert_usage_error(proc, "already holds pairs.csv, exclude.txt, worst_pairs.jpg", "overwrite=True")
    assert {n: os.path.getmtime(os.path.join(out, n)) for n in os.listdir(out)} == before


def test_bad_arguments_are_one_line(demo_data, tmp_path):
    out = str(tmp_path / "r")
    for words, needle in ((["split=train,train"], "name each split folder once"),
                          (["split=nope"], "nor does nope/ in dataset folder"),
                          (["dslr_dir=canon/"], "set dslr_dir= to one of them"),
                          (["min_corr=1"], "must be below 1")):
        proc = run_script("check_dataset.py", "dataset_dir=" + demo_data, "out=" + out, *words)
        assert_usage_error(proc, needle)
        assert not os.path.exists(out)


def test_jpeg_targets_pair_by_stem_and_a_mixed_folder_is_one_line(tmp_path):
    root = str(tmp_path / "z")
    make_dataset(root, train_count=3, val_count=1, test_count=1, patch_size=32, test_h=32, test_w=32, seed=0,
                 progress=False, dng=False, dslr_format="jpg", **ZURICH)
    assert sorted(os.listdir(os.path.join(root, "train", "canon"))) == ["0.jpg", "1.jpg", "2.jpg"]
    names = load_dataset.paired_names(root, "train", "huawei_raw/", "canon/")
    assert names == ["0.png", "1.png", "2.png"]
    raw, rgb = load_dataset.load_pairs(root, "train", "huawei_raw/", "canon/", names, 32, 32)
    assert rgb.shape == (3, 32, 32, 3) and rgb.dtype == np.uint8
    with Image.open(os.path.join(root, "train", "canon", "1.jpg")) as img:
        assert img.format == "JPEG"
        np.testing.assert_array_equal(rgb[1], np.asarray(img))
    assert load_dataset.find_target(os.path.join(root, "test", "canon"), "1.dng").endswith("1.jpg")
    Image.fromarray(rgb[0]).save(os.path.join(root, "train", "canon", "extra.png"))
    with pytest.raises(UsageError) as err:
        load_dataset.paired_names(root, "train", "huawei_raw/", "canon/")
    assert "mixes image formats (3 .jpg, 1 .png); keep one format per folder" in str(err.value)
    os.remove(os.path.join(root, "train", "canon", "extra.png"))
    os.remove(os.path.join(root, "train", "canon", "2.jpg"))
    with pytest.raises(UsageError) as err:
        load_dataset.paired_names(root, "train", "huawei_raw/", "canon/")
    assert "1 RAW without a target, e.g. ['2.png']" in str(err.value)
    assert load_dataset.paired_names(root, "train", "huawei_raw/", "canon/", exclude={"2.png"}) == ["0.png", "1.png"]


@pytest.fixture(scope="module")
def zurich(tmp_path_factory):
    """The Zurich RAW-to-RGB layout: train/ and test/ patches (JPEG targets in canon/), full-resolution
    test RAWs in test/huawei_full_resolution/ without targets."""
    out = str(tmp_path_factory.mktemp("zurich") / "raw_images")
    make_dataset(out, train_count=12, val_count=4, test_count=1, patch_size=64, test_h=128, test_w=192, seed=0,
                 progress=False, dng=False, dslr_format="jpg", val_split="test",
                 test_dir="huawei_full_resolution/", **ZURICH)
    return out


def test_zurich_layout_trains_and_tests_end_to_end(zurich, tmp_path):
    assert sorted(os.listdir(zurich)) == [".make_demo_data", "shifts.csv", "test", "train"]
    assert sorted(os.listdir(os.path.join(zurich, "test"))) == ["canon", "huawei_full_resolution", "huawei_raw"]
    models = str(tmp_path / "models")  # outputs named as the seed names them (no folder tag)
    train = dict(SMALL, dataset_dir=zurich, model_dir=models, tensorboard=False, **ZURICH)
    proc = run_script("train_model.py", *kv_words(train))
    assert_usage_error(proc, "val RAW folder", "does not exist, nor does val/", "(it holds test/, train/)",
                       "val_split=test")
    proc = run_script("train_model.py", *kv_words(dict(train, val_split="test")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert os.path.exists(os.path.join(models, "model_iteration_2.ckpt.index"))
    results = str(tmp_path / "r")
    proc = run_script("test_model.py", "dataset_dir=" + zurich, "test_dir=huawei_full_resolution/",
                      "model_dir=" + models, "result_dir=" + results, "img_h=full", "img_w=full", "save=False",
                      "runs=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PSNR/SSIM not computed" in proc.stdout
    assert os.path.isfile(os.path.join(results, "1_model_iteration_2_huawei_full_resolution_full.png"))


def test_exclude_leaves_pairs_out_and_unknown_names_are_one_line(zurich, tmp_path):
    exclude = str(tmp_path / "exclude.txt")
    with open(exclude, "w") as f:
        f.write("train/3.png\n# a comment\n\ntest/1.png\n")
    found, other = load_dataset.read_exclude(exclude, zurich, ("train", "test"), "huawei_raw/", "canon/")
    assert found == {"train": {"3.png"}, "test": {"1.png"}} and other == 0
    assert load_dataset.read_exclude(exclude, zurich, ("train", "val"), "huawei_raw/", "canon/")[1] == 1
    rng = np.random.RandomState(0)
    raw, _ = load_dataset.load_training_batch(zurich, "huawei_raw/", "canon/", 11, 64, 64, rng, warn=False,
                                              exclude={"3.png"})
    every = load_dataset.load_pairs(zurich, "train", "huawei_raw/", "canon/", ["%d.png" % i for i in range(12)], 64, 64)[0]
    kept = {bytes(r) for r in raw}
    assert len(kept) == 11 and bytes(every[3]) not in kept
    models = str(tmp_path / "m")
    train = dict(SMALL, dataset_dir=zurich, model_dir=models, tensorboard=False, val_split="test", **ZURICH)
    proc = run_script("train_model.py", *kv_words(dict(train, exclude=exclude)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "exclude=%s: leaving out 1 training and 1 validation pairs" % exclude in proc.stdout
    for text, needle in (("train/99.png\n", "line 1: train/99.png is neither a RAW in"),
                         ("train\n", "line 1: 'train' is not of the form split/name"),
                         ("val/1.png\n", "names split 'val', which %s does not hold" % zurich)):
        with open(exclude, "w") as f:
            f.write(text)
        proc = run_script("train_model.py", *kv_words(dict(train, exclude=exclude, model_dir=str(tmp_path / "n"))))
        assert_usage_error(proc, needle)
        assert not os.path.exists(str(tmp_path / "n"))
    proc = run_script("train_model.py", *kv_words(dict(train, exclude=str(tmp_path / "none.txt"),
                                                     model_dir=str(tmp_path / "n"))))
    assert_usage_error(proc, "exclude=%s: cannot read it" % (tmp_path / "none.txt"))


def test_the_sign_convention_on_a_pair_moved_by_hand():
    """A target whose content lies 5 px right of and 2 px below its RAW's: shift_x = +5, shift_y = +2
    (independently of make_demo_data.py's bookkeeping)."""
    rng = np.random.RandomState(0)
    scene = ndimage.gaussian_filter(rng.rand(160, 160, 3), sigma=(3, 3, 0))
    scene = ((scene - scene.min()) / (scene.max() - scene.min()) * 255).astype(np.uint8)
    raw = unprocess.inverse_isp(scene[16:144, 16:144], rng)
    moved = scene[16 - 2:144 - 2, 16 - 5:144 - 5]  # target[y, x] = scene[y - 2, x - 5]: content right and down
    row = dataset_check.measure(raw, moved)
    assert abs(row["shift_x"] - 5) < 0.3 and abs(row["shift_y"] - 2) < 0.3, row
    assert row["corr"] > 0.9
