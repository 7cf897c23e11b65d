"""Photos larger than a fixed-size .tflite and odd-sized RAWs (issue 45, items 6 and 7), as typed:
crop=True says what it cut, in the output and in the file names; the time is broken down; SSIM is
computed in bands (the graph never holds a photo-sized array) with the whole image's value; the
latency's runs are bounded where runs= is not given; an odd RAW is taken the same way by
test_model.py and inference_tflite.py (its last row/column dropped, with the same note)."""
import os

import numpy as np
import pytest
from conftest import run_script, save_image, save_random_checkpoint

import inference_tflite
from isp.evaluate import SsimMeter
from isp.tfimport import import_tf


@pytest.fixture(scope="module")
def larger(demo_data, tmp_path_factory):
    """A 65x97 RAW (odd: read as 64x96) and its target, cut from the demo's 128x192 test scene."""
    root = tmp_path_factory.mktemp("larger")
    from PIL import Image
    test = os.path.join(demo_data, "test")
    raw = np.asarray(Image.open(os.path.join(test, "fujifilm_full_resolution", "1.png")))[:65, :97]
    rgb = np.asarray(Image.open(os.path.join(test, "fujifilm", "1.png")))[:65, :97]
    for sub, arr in (("raw", raw), ("target", rgb)):
        os.makedirs(str(root / sub))
        save_image(str(root / sub / "1.png"), np.ascontiguousarray(arr))
    return str(root / "raw"), str(root / "target")


def test_crop_says_what_it_cut_and_the_time_is_broken_down(converted, larger, tmp_path):
    raw, target = larger
    res = str(tmp_path / "res")
    proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"], "raw_dir=" + raw, "target_dir=" + target,
                      "crop=True", "save_images=True", "result_dir=" + res, "runs=2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert ("crop=True: 1 of 1 RAW is larger than the model's 64x64: only their top-left 64x64 is processed and "
            "scored (outputs named _crop): 1.png 96x64") in out
    assert "(top-left 64x64 of 96x64)  PSNR" in out
    tag = "model_iteration_4_64x64_tflite_raw_crop"
    assert sorted(os.listdir(res)) == sorted(["1_%s.png" % tag, "1_%s_vs_target.png" % tag, tag + "_metrics.csv"])
    time_line = [l for l in out.splitlines() if l.startswith("time: ")]
    assert len(time_line) == 1 and " s in all: " in time_line[0], out
    assert "median" in out and "over 2 runs," in out  # runs given: as given


def test_an_odd_raw_is_taken_alike_by_both_scripts(converted, larger, tmp_path):
    raw, target = larger
    note = "note: RAW '1.png' is 97x65 (odd); its last row and column are dropped to keep the 2x2 Bayer grid: 96x64"
    proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"], "raw_dir=" + raw, "target_dir=" + target,
                      "crop=True", "runs=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count(note) == 1
    models = tmp_path / "models"
    models.mkdir()
    save_random_checkpoint(str(models / "model_iteration_1.ckpt"), "model", 4)
    data = os.path.dirname(raw)
    proc = run_script("test_model.py", "num_maps_base=4", "dataset_dir=" + os.path.dirname(data), "model_dir=" + str(models),
                      "test_dir=" + raw, "dslr_dir=" + target, "img_h=full", "img_w=full", "save=False", "runs=1",
                      "result_dir=" + str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count(note) == 1


def test_latency_runs_are_bounded_only_where_not_given():
    assert inference_tflite.latency_runs(10, False, 2.0) == 3  # a large photo: about 5 s, at least 3
    assert inference_tflite.latency_runs(10, False, 0.6) == 8
    assert inference_tflite.latency_runs(10, False, 0.01) == 10
    assert inference_tflite.latency_runs(10, True, 2.0) == 10  # runs= given: as given
    assert inference_tflite.latency_runs(2, False, 9.0) == 2


def test_ssim_in_bands_is_the_whole_images_and_what_it_runs_is_band_sized():
    tf = import_tf()
    rng = np.random.RandomState(0)
    target = rng.rand(300, 200, 3).astype(np.float32)
    out = np.clip(target + rng.normal(0, 0.1, target.shape), 0, 1).astype(np.float32)
    whole = SsimMeter(tf)
    whole.BAND = 10 ** 6  # one band: tf.image.ssim on the whole image
    banded = SsimMeter(tf)
    banded.BAND = 64
    fed = []  # the rows of each band the (any-size) graph runs on: its arrays are that size
    run = banded._run
    banded._run = lambda a, b: fed.append(a.shape[0]) or run(a, b)
    assert abs(banded(out, target) - whole(out, target)) < 1e-5
    assert len(fed) > 1 and max(fed) <= 64 + SsimMeter.WINDOW - 1, fed
    whole.close()
    banded.close()
