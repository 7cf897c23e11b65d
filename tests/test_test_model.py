"""test_model.py: PSNR/SSIM, latency, result PNGs, frozen graph; orig=True; DNG folders; bad input."""
import csv
import os
import re
import shutil

import numpy as np
import pytest
from conftest import (
    SHARED_FIXTURE,
    assert_usage_error,
    first_file,
    kv_words,
    run_checkpoint,
    run_pb,
    run_script,
    run_tflite,
    save_image,
    save_random_checkpoint,
    sensor_mosaic,
    truncate_file,
    write_dng,
)
from PIL import Image

from isp import load_dataset
import test_model
from convert_tflite import default_out
from isp.evaluate import full_size
from isp.previews import label_band_height
from isp.tfimport import import_tf
from isp.tflite import read_graph

TEST_DEFAULTS = dict(dataset_dir="raw_images/", test_dir="fujifilm_full_resolution/",
                     model_dir="models/", result_dir="results/", arch="model", num_maps_base=16,
                     orig=False, restore_iter=None, img_h=1088, img_w=1920, use_gpu=True, save=True,
                     test_image=True, dslr_dir="fujifilm/")


def test_script_defaults_match_the_seed():
    test = {a.name: a.default for a in test_model.ARGS}
    for key, value in TEST_DEFAULTS.items():
        assert test[key] == value, key


def test_test_model_reports_and_writes(tested, demo_data):
    model_dir, result_dir, proc = tested
    out = proc.stdout
    assert "restored %s" % os.path.join(model_dir, "model_iteration_4.ckpt") in out  # last checkpoint
    per_image = re.search(r"1\.png\s+PSNR ([\d.]+) dB\s+SSIM ([-\d.]+)", out)
    mean = re.search(r"mean over 1 image: PSNR ([\d.]+) dB\s+SSIM ([-\d.]+)", out)
    assert per_image and mean and per_image.group(1) == mean.group(1)
    assert re.search(r"latency at 192x128 \(input 1x64x96x4\): median [\d.]+ ms over 2 runs", out)
    png = os.path.join(result_dir, "1_model_iteration_4_192x128.png")  # the size is not the default: in the name
    result = np.asarray(Image.open(png))
    assert result.shape == (128, 192, 3) and result.dtype == np.uint8
    # the printed PSNR is the PSNR of the written PNG against the target
    target = load_dataset.read_rgb(os.path.join(demo_data, "test", "fujifilm", "1.png"))
    mse = np.mean((result / 255.0 - target / 255.0) ** 2)
    assert abs(10 * np.log10(1 / mse) - float(per_image.group(1))) < 0.01
    # the frozen graph gives the same image
    raw = load_dataset.read_raw(os.path.join(demo_data, "test", "fujifilm_full_resolution", "1.png"))
    x = load_dataset.extract_bayer_channels(raw)[None]
    pb = os.path.join(model_dir, "model_iteration_4_192x128.pb")
    from_pb = (np.clip(run_pb(pb, x)[0], 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.abs(from_pb.astype(int) - result.astype(int)).max() <= 1
    assert os.path.exists(os.path.join(model_dir, "model_iteration_4.ckpt.meta"))
    # output | target side by side, and a CSV row per image
    side = np.asarray(Image.open(os.path.join(result_dir, "1_model_iteration_4_192x128_vs_target.png")))
    band = label_band_height()  # the labels (output, target, PSNR) above: the images below them (on purpose)
    assert side.shape == (band + 128, 2 * 192 + 4, 3)
    assert side[:band].min() < 100  # there is text in the band
    side = side[band:]
    np.testing.assert_array_equal(side[:, :192], result)
    np.testing.assert_array_equal(side[:, 196:], target)
    with open(os.path.join(result_dir, "model_iteration_4_192x128_metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["image"] for r in rows] == ["1.png"]
    assert abs(float(rows[0]["psnr_db"]) - float(per_image.group(1))) < 0.01
    assert abs(float(rows[0]["ssim"]) - float(per_image.group(2))) < 1e-4
    assert float(rows[0]["inference_ms"]) > 0


@pytest.mark.skipif(not os.path.isdir(SHARED_FIXTURE), reason="../shared/fixtures/punet_reference is absent in this clone")
def test_orig_punet_checkpoint_to_tflite(demo_data, tmp_path):
    """orig=True loads models/original/punet_pretrained.ckpt; its .pb and .tflite give the reference output."""
    model_dir = tmp_path / "models"
    (model_dir / "original").mkdir(parents=True)
    for name in os.listdir(SHARED_FIXTURE):
        if name.startswith("punet_pretrained.ckpt"):
            shutil.copy(os.path.join(SHARED_FIXTURE, name), str(model_dir / "original" / name))
    proc = run_script("test_model.py", "arch=punet", "orig=True", "dataset_dir=" + demo_data,
                      "model_dir=" + str(model_dir), "result_dir=" + str(tmp_path / "r"),
                      "img_h=128", "img_w=192", "runs=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "mean over 1 image:" in proc.stdout
    pb = str(model_dir / "original" / "punet_pretrained_192x128.pb")  # not the default size: in the name
    ref = np.load(os.path.join(SHARED_FIXTURE, "punet_reference_io.npz"))
    assert np.abs(run_pb(pb, ref["input"]) - ref["output"]).max() < 1e-5
    tfl = str(model_dir / "original" / "punet_pretrained.tflite")
    proc = run_script("pb2tflite.sh", pb, tfl, "1,64,96,4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert np.abs(run_tflite(tfl, ref["input"]) - ref["output"]).max() < 1e-4
    # the PUNET weights offered as arch=model's: one line saying what they are
    for name in os.listdir(str(model_dir / "original")):
        if name.startswith("punet_pretrained.ckpt."):
            shutil.copy(str(model_dir / "original" / name), str(model_dir / "original" / name.replace("punet", "model")))
    proc = run_script("test_model.py", "arch=model", "orig=True", "dataset_dir=" + demo_data,
                      "model_dir=" + str(model_dir), "result_dir=" + str(tmp_path / "r2"), "img_h=128", "img_w=192")
    assert_usage_error(proc, "does not fit arch=model num_maps_base=16: it was made with arch=punet num_maps_base=16")


def test_test_model_bad_inputs(trained, demo_data, tmp_path):
    model_dir, _ = trained
    empty = str(tmp_path / "empty_models")
    os.mkdir(empty)
    base = {"dataset_dir": demo_data, "model_dir": model_dir, "result_dir": str(tmp_path / "res"),
            "img_h": 128, "img_w": 192}
    cases = [
        ({"model_dir": empty}, "no model checkpoint"),
        ({"model_dir": empty, "orig": True}, "orig=True but"),
        ({"restore_iter": 7}, "existing model checkpoints: 2, 4"),
        ({"dataset_dir": str(tmp_path / "nope")}, "does not exist"),
        ({"img_h": 256}, "smaller than img_w x img_h"),
        ({"arch": "punet", "img_h": 100}, "multiple of 32"),
        ({"num_maps_base": 8}, "does not fit arch=model num_maps_base=8: it was made with arch=model num_maps_base=16"),
        ({"arch": "punet", "restore_iter": 4}, "no checkpoint"),
        # the messages name the fix
        ({"arch": "punet"}, "holds arch=model checkpoints (2, 4): pass arch=model"),
        ({"dslr_dir": "fujifim/"}, "target folder", "does not exist", "holds dng/, fujifilm/, fujifilm_full_resolution/",
         "set dslr_dir="),
        ({"img_h": "full"}, "img_h=full needs img_w=full"),
    ]
    for change, *needles in cases:
        words = ["%s=%s" % kv for kv in dict(base, **change).items()]
        assert_usage_error(run_script("test_model.py", *words), *needles)
        assert not os.path.exists(base["result_dir"]), change
    assert_usage_error(run_script("ckpt2pb.py", "--in_path", os.path.join(model_dir, "model_iteration_2.ckpt"),
                                  "--out_path", str(tmp_path / "x.pb")), "has no meta graph")
    assert_usage_error(run_script("pb2tflite.sh", str(tmp_path / "none.pb"), str(tmp_path / "x.tflite")), "not found")
    assert not os.path.exists(str(tmp_path / "x.pb")) and not os.path.exists(str(tmp_path / "x.tflite"))


def test_test_model_bad_files_and_folders(trained, demo_data, tmp_path):
    model_dir, _ = trained
    root = str(tmp_path / "data")
    shutil.copytree(demo_data, root)
    a_file = str(tmp_path / "a_file")
    with open(a_file, "w") as f:
        f.write("x")
    base = {"dataset_dir": root, "model_dir": model_dir, "result_dir": str(tmp_path / "res"),
            "img_h": 128, "img_w": 192}
    cases = [({"img_w": 0}, "positive integer"), ({"img_w": 191}, "img_w=191 is not a multiple of 2"),
             ({"result_dir": a_file + "/res"}, "cannot create result_dir")]
    for change, needle in cases:
        assert_usage_error(run_script("test_model.py", *kv_words(dict(base, **change))), needle)
    test_raw = first_file(os.path.join(root, "test", "fujifilm_full_resolution"))
    save_image(test_raw, np.zeros((128, 192), np.uint8))
    assert_usage_error(run_script("test_model.py", *kv_words(base)), "not a single-channel 16-bit PNG",
                       os.path.basename(test_raw))
    save_image(test_raw, np.zeros((128, 192), np.uint16))
    truncate_file(test_raw)
    assert_usage_error(run_script("test_model.py", *kv_words(base)), "cannot read RAW PNG", test_raw)
    assert not os.path.exists(base["result_dir"])


def test_test_model_runs_straight_on_a_dng_folder(trained, demo_data, tmp_path):
    """The demo test scene as a GRBG phone's DNG: test_model.py on the DNG folder gives exactly
    what it gives on dng2png.py's PNGs, and the RAW it sees is the original mosaic."""
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
        results[sub] = np.asarray(Image.open(os.path.join(res, "1_model_iteration_4_%s_192x128.png" % sub)))
        assert results[sub].shape == (128, 192, 3)
    assert "holds DNG files: each is converted as dng2png.py does" in stdout["phone_dng"]
    assert "DNG" not in stdout["phone_png"]
    np.testing.assert_array_equal(results["phone_dng"], results["phone_png"])
    # a DNG smaller than img_w x img_h: one line, nothing written
    proc = run_script("test_model.py", "dataset_dir=" + str(root), "test_dir=phone_dng", "model_dir=" + model_dir,
                      "result_dir=" + str(tmp_path / "never"), "img_h=256", "img_w=192", "save=False")
    assert_usage_error(proc, "1.dng", "smaller than img_w x img_h")
    assert not os.path.exists(str(tmp_path / "never"))


def test_none_pb_runs_at_sizes_it_was_never_frozen_for(tested):
    """save=True also writes <checkpoint>_none.pb, input [1, None, None, 4]: at two sizes other
    than the one test_model.py ran at (192x128), it gives the checkpoint's output."""
    model_dir, _, proc = tested
    pb = os.path.join(model_dir, "model_iteration_4_none.pb")
    assert "wrote the frozen graph %s for any size" % pb in proc.stdout
    assert read_graph(import_tf(), pb)[1] == (1, None, None, 4)
    rng = np.random.RandomState(3)
    for h, w in ((48, 80), (80, 32)):
        x = rng.rand(1, h, w, 4).astype(np.float32)
        np.testing.assert_allclose(run_pb(pb, x), run_checkpoint(pb[:-len("_none.pb")] + ".ckpt", "model", 16, x),
                                   atol=1e-5)


def test_punet_none_pb(tmp_path):
    """arch=punet too (its transposed convolutions take their output size from the input's)."""
    prefix = save_random_checkpoint(str(tmp_path / "punet_iteration_1.ckpt"), "punet", 4)
    proc = run_script("test_model.py", "arch=punet", "num_maps_base=4", "model_dir=" + str(tmp_path),
                      "test_image=False", "img_h=64", "img_w=64", "runs=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.isfile(prefix + ".meta") and os.path.isfile(str(tmp_path / "punet_iteration_1_64x64.pb"))
    pb = str(tmp_path / "punet_iteration_1_none.pb")
    rng = np.random.RandomState(4)
    for h, w in ((48, 32), (32, 64)):  # photos of 96x64 and 64x128: multiples of 32, as PUNET needs
        x = rng.rand(1, h, w, 4).astype(np.float32)
        np.testing.assert_allclose(run_pb(pb, x), run_checkpoint(prefix, "punet", 4, x), atol=1e-5)


def test_full_size_on_a_folder_of_mixed_sizes_with_an_odd_one(trained, demo_data, tmp_path):
    """img_h=full img_w=full: each RAW at its own size (cropped only to even sizes for arch=model),
    an odd-sized RAW cropped to even with a note; restore_iter=latest; no frozen graph (no one size)."""
    model_dir, _ = trained
    raw = load_dataset.read_raw(os.path.join(demo_data, "test", "fujifilm_full_resolution", "1.png"))
    rgb = load_dataset.read_rgb(os.path.join(demo_data, "test", "fujifilm", "1.png"))
    data = tmp_path / "data"
    (data / "test" / "raws").mkdir(parents=True)
    (data / "test" / "targets").mkdir(parents=True)
    for name, (h, w) in (("big.png", (128, 192)), ("small.png", (96, 130)), ("odd.png", (97, 131))):
        save_image(str(data / "test" / "raws" / name), np.ascontiguousarray(raw[:h, :w]))
        save_image(str(data / "test" / "targets" / name), np.ascontiguousarray(rgb[:h, :w]))
    res = str(tmp_path / "res")
    before = sorted(os.listdir(model_dir))
    proc = run_script("test_model.py", "dataset_dir=" + str(data), "test_dir=raws", "dslr_dir=targets",
                      "model_dir=" + model_dir, "result_dir=" + res, "img_h=full", "img_w=full",
                      "restore_iter=latest", "runs=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "note: RAW 'odd.png' is 131x97 (odd); its last row and column are dropped" in proc.stdout
    assert "mean over 3 images" in proc.stdout and "no frozen graph of a fixed size" in proc.stdout
    for name, size in (("big", (192, 128)), ("small", (130, 96)), ("odd", (130, 96))):
        assert Image.open(os.path.join(res, "%s_model_iteration_4_raws_full.png" % name)).size == size
    # no fixed-size export; only the any-size graph, which every save=True writes
    assert sorted(os.listdir(model_dir)) == sorted(set(before) | {"model_iteration_4_none.pb"})
    assert full_size(97, 131, 32) == (96, 128) and full_size(97, 131, 2) == (96, 130)  # punet: multiples of 32


def test_exports_of_two_sizes_coexist_and_pb2tflite_names_after_the_pb(trained, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "models")
    shutil.copytree(src, model_dir)
    for h, w in ((1088, 1920), (64, 96)):
        proc = run_script("test_model.py", "model_dir=" + model_dir, "restore_iter=4", "img_h=%d" % h, "img_w=%d" % w,
                          "test_image=False", "runs=1", cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stderr[-2000:]
    default, small = (os.path.join(model_dir, "model_iteration_4%s.pb" % t) for t in ("", "_96x64"))
    x = np.zeros((1, 32, 48, 4), np.float32)
    assert run_pb(small, x).shape == (1, 64, 96, 3)
    assert run_pb(default, np.zeros((1, 544, 960, 4), np.float32)).shape == (1, 1088, 1920, 3)  # not replaced
    # pb2tflite.sh with only the .pb: the output is named after it (not models/original/punet_pretrained.tflite)
    proc = run_script("pb2tflite.sh", small, "precision=fp16", cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.isfile(os.path.join(model_dir, "model_iteration_4_96x64_fp16.tflite"))
    proc = run_script("pb2tflite.sh", small, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert run_tflite(os.path.join(model_dir, "model_iteration_4_96x64.tflite"), x).shape == (1, 64, 96, 3)
    assert not os.path.exists(str(tmp_path / "models" / "original"))
    assert default_out("m/x_none.pb", "fp16", (1, 256, 384, 4)) == "m/x_768x512_fp16.tflite"  # a dynamic graph's
    assert default_out("m/x_none.pb", "fp32", (1, 544, 960, 4)) == "m/x.tflite"
    proc = run_script("pb2tflite.sh", "--help")
    assert proc.returncode == 0 and "pb2tflite.sh [GRAPH.pb] [OUT.tflite]" in proc.stdout and "precision" in proc.stdout


def test_test_model_damaged_checkpoint_is_named_or_skipped_for_the_one_before(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m" / "models")  # named models: outputs named as the default model_dir's
    shutil.copytree(src, model_dir)
    data = os.path.join(model_dir, "model_iteration_4.ckpt.data-00000-of-00001")
    truncate_file(data)
    base = {"dataset_dir": demo_data, "model_dir": model_dir, "result_dir": str(tmp_path / "res"),
            "img_h": 128, "img_w": 192, "runs": 1, "save": False}
    proc = run_script("test_model.py", *kv_words(dict(base, restore_iter=4)))
    assert_usage_error(proc, "checkpoint %s is damaged" % os.path.join(model_dir, "model_iteration_4.ckpt"), data,
                       "existing: 2, 4")
    assert not os.path.exists(base["result_dir"])
    # restore_iter=None (the newest): a warning naming the damaged one, then the one before it
    proc = run_script("test_model.py", *kv_words(base))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "warning: checkpoint %s is damaged" % os.path.join(model_dir, "model_iteration_4.ckpt") in proc.stderr
    assert "restored %s" % os.path.join(model_dir, "model_iteration_2.ckpt") in proc.stdout
    assert os.path.exists(os.path.join(base["result_dir"], "model_iteration_2_192x128_metrics.csv"))
