"""Photos larger than a fixed-size .tflite and odd-sized RAWs, as typed: crop=True says what it cut,
in the output and in the file names; the time is broken down; SSIM is computed in bands (the graph
never holds a photo-sized array) with the whole image's value; the latency's runs are bounded where
runs= is not given; an odd RAW is taken the same way by test_model.py and inference_tflite.py (its
last row/column dropped, with the same note). Sizes in file names are W x H as printed, and a file
named in the older H x W order is still read as of its size."""
import os
import shutil

import numpy as np
import pytest
from conftest import assert_usage_error, run_script, save_image, save_random_checkpoint

import inference_tflite
from isp.archs import size_tag, size_tags
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


def test_sizes_in_names_are_width_by_height_and_older_height_by_width_names_are_read(tmp_path):
    assert size_tag(512, 768) == "_768x512" and size_tag(1920, 1088) == "_1088x1920"  # (h, w): W x H
    assert size_tag(1088, 1920) == ""  # the default 1920x1088 keeps the seed's names
    assert size_tags(512, 768) == ["_768x512", "_512x768"] and size_tags(64, 64) == ["_64x64"]
    assert size_tags(1088, 1920) == [""]
    # whether a .tflite's name gives its size is judged against the size the file declares
    tag = inference_tflite.evaluation_tag
    shape = (1, 256, 384, 4)  # a 768x512 photo's input
    assert tag("models/m_768x512.tflite", "raw", shape) == "m_768x512_tflite_raw"
    assert tag("models/m_512x768.tflite", "raw", shape) == "m_512x768_tflite_raw"  # written before: H x W
    assert tag("models/m_512x768_fp16.tflite", "raw", shape) == "m_512x768_fp16_tflite_raw"
    assert tag("models/m.tflite", "raw", shape) == "m_tflite_raw_768x512"
    # a name that gives another size than the file's keeps it, and the file's size is added
    assert tag("models/m_1024x768.tflite", "raw", shape) == "m_1024x768_tflite_raw_768x512"
    assert tag("models/m_768x512.tflite", "raw", (1, 384, 256, 4)) == "m_768x512_tflite_raw"  # 512x768, H x W
    # the any-size model beside a fixed-size one: the size dropped from the name in either order
    for name in ("m_512x768_fp16.tflite", "m_none_fp16.tflite"):
        (tmp_path / name).write_bytes(b"x")
    found = inference_tflite.any_size_beside(str(tmp_path / "m_512x768_fp16.tflite"))
    assert found == str(tmp_path / "m_none_fp16.tflite")


def test_a_fixed_size_file_named_height_by_width_is_read_as_its_size(graph64, larger, demo_data, tmp_path):
    """The any-size graph converted at 96x64 is named _96x64; the same file under the name it had
    before (_64x96) runs without its size added to the outputs' names, and a size mismatch names
    the any-size model beside it."""
    raw, target = larger  # 97x65, read as 96x64
    models = tmp_path / "models"  # named models: the folder is left out of the output names
    models.mkdir()
    pb = str(models / "model_iteration_4_none.pb")
    shutil.copy(os.path.join(os.path.dirname(graph64), "model_iteration_4_none.pb"), pb)
    proc = run_script("convert_tflite.py", "pb=" + pb, "input_shape=1,32,48,4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    new = str(models / "model_iteration_4_96x64.tflite")
    assert "wrote %s (" % new in proc.stdout
    old = str(models / "model_iteration_4_64x96.tflite")
    shutil.copy(new, old)
    res = str(tmp_path / "res")
    for path in (new, old):
        proc = run_script("inference_tflite.py", "tflite=" + path, "raw_dir=" + raw, "target_dir=" + target,
                          "save_images=True", "result_dir=" + res, "runs=1")
        assert proc.returncode == 0, proc.stderr[-2000:]
    tags = ["model_iteration_4_%s_tflite_raw" % size for size in ("96x64", "64x96")]  # no size added to either
    assert sorted(os.listdir(res)) == sorted(part % t for t in tags
                                             for part in ("1_%s.png", "1_%s_vs_target.png", "%s_metrics.csv"))
    # a RAW of another size: the any-size model beside the old-named file is found
    any_size = str(models / "model_iteration_4_none.tflite")
    with open(any_size, "wb") as f:  # only its name matters here
        f.write(b"x")
    test_raw = os.path.join(demo_data, "test", "fujifilm_full_resolution")  # 192x128 RAWs
    assert_usage_error(run_script("inference_tflite.py", "tflite=" + old, "raw_dir=" + test_raw, "runs=1"),
                       "was converted for 96x64 (input 1x32x48x4)",
                       "run the any-size model beside it (tflite=%s)" % any_size)
