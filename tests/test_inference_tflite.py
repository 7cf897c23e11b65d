"""inference_tflite.py: PSNR/SSIM against targets and a reference, result images, bad input."""
import csv
import os
import re
import shutil

import numpy as np
import pytest
from conftest import (
    assert_usage_error,
    first_file,
    run_script,
    sensor_mosaic,
    write_dng,
)
from PIL import Image

from isp import load_dataset
from isp.previews import label_band_height
from isp.tfimport import tf_major

TF2 = tf_major() >= 2


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precisions_print_psnr_against_fp32_and_targets(precision, converted, demo_data):
    if precision not in converted:
        pytest.skip("INT8 conversion needs TF 2.x (tested to fail cleanly on TF 1.15 below)")
    proc = run_script("inference_tflite.py", "tflite=" + converted[precision], "reference=" + converted["fp32"],
                      "raw_dir=" + os.path.join(demo_data, "val", "mediatek_raw"),
                      "target_dir=" + os.path.join(demo_data, "val", "fujifilm"), "runs=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    vs_ref = re.search(r"vs reference .* over 4 images: mean PSNR ([\d.]+) dB, max-abs ([\d.e-]+)", proc.stdout)
    vs_target = re.search(r"mean over 4 images with targets: PSNR ([\d.]+) dB", proc.stdout)
    assert vs_ref and vs_target, proc.stdout
    assert float(vs_ref.group(1)) > (60 if precision == "fp16" else 30)
    assert "parity" not in proc.stdout  # the 1e-4 check is for float models only
    ref = run_script("inference_tflite.py", "tflite=" + converted["fp32"],
                     "raw_dir=" + os.path.join(demo_data, "val", "mediatek_raw"),
                     "target_dir=" + os.path.join(demo_data, "val", "fujifilm"), "runs=1")
    fp32_psnr = float(re.search(r"with targets: PSNR ([\d.]+) dB", ref.stdout).group(1))
    assert float(vs_target.group(1)) >= fp32_psnr - 1.0


def test_save_images_writes_pngs_and_a_csv(converted, demo_data, tmp_path):
    res = str(tmp_path / "res")
    proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"], "save_images=True", "result_dir=" + res,
                      "raw_dir=" + os.path.join(demo_data, "val", "mediatek_raw"),
                      "target_dir=" + os.path.join(demo_data, "val", "fujifilm"), "runs=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    tag = "model_iteration_4_64x64_tflite_mediatek_raw"  # file name (with its size), extension, folder
    with open(os.path.join(res, tag + "_metrics.csv")) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["image", "psnr_db", "ssim", "ref_psnr_db", "ref_max_abs", "model"] and len(rows) == 5
    assert {row[-1] for row in rows[1:]} == {os.path.abspath(converted["fp32"])}  # which model wrote them
    for row in rows[1:]:
        stem = os.path.splitext(row[0])[0]
        assert Image.open(os.path.join(res, "%s_%s.png" % (stem, tag))).size == (64, 64)
        # output | target below their labels and the PSNR (the height grew by the band on purpose)
        assert Image.open(os.path.join(res, "%s_%s_vs_target.png" % (stem, tag))).size == (2 * 64 + 4, 64 + label_band_height())
        printed = re.search(re.escape(row[0]) + r" +PSNR +([\d.]+) dB  SSIM ([\d.]+)", proc.stdout)
        assert abs(float(printed.group(1)) - float(row[1])) < 0.006
        assert abs(float(printed.group(2)) - float(row[2])) < 6e-5


def test_size_mismatch_and_other_bad_input(converted, graph64, demo_data, tmp_path):
    test_raw = os.path.join(demo_data, "test", "fujifilm_full_resolution")  # 128x192 RAWs
    proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"], "raw_dir=" + test_raw,
                      "result_dir=" + str(tmp_path / "r"), "save_images=True")
    assert_usage_error(proc, "is 192x128 but", "was converted for 64x64 (input 1x32x32x4)", "crop=True")
    assert not os.path.exists(str(tmp_path / "r"))
    proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"], "raw_dir=" + test_raw,
                      "target_dir=" + os.path.join(demo_data, "test", "fujifilm"), "crop=True", "runs=1")
    assert proc.returncode == 0 and "mean over 1 image with targets" in proc.stdout, proc.stderr[-2000:]
    val_raw = os.path.join(demo_data, "val", "mediatek_raw")
    os.mkdir(str(tmp_path / "bad"))  # not where the cases below must write nothing
    garbage_tflite = str(tmp_path / "bad" / "not_a_model.tflite")  # neither a .tflite nor named a frozen graph
    with open(garbage_tflite, "wb") as f:
        f.write(b"\x00" * 64)
    cases = [
        ("inference_tflite.py", ["tflite=" + str(tmp_path / "none.tflite"), "raw_dir=" + val_raw], "not found"),
        ("inference_tflite.py", ["tflite=" + graph64, "raw_dir=" + val_raw], "is a frozen graph, not a .tflite"),
        ("inference_tflite.py", ["tflite=" + garbage_tflite, "raw_dir=" + val_raw], "cannot load"),
        ("inference_tflite.py", ["tflite=" + converted["fp32"], "raw_dir=" + str(tmp_path)], "holds no PNG"),
        ("inference_tflite.py", ["tflite=" + converted["fp32"], "raw_dir=" + val_raw, "threads=0"], "threads"),
        ("inference_tflite.py", ["tflite=" + converted["fp32"], "raw_dir=" + val_raw,
                                 "reference=" + str(tmp_path / "none.pb")], "not found"),
        ("convert_tflite.py", ["pb=" + graph64, "precision=int4"], "use fp32, fp16 or int8"),
        ("convert_tflite.py", ["pb=" + graph64, "int8_io=int16"], "use uint8 or int8"),
        ("convert_tflite.py", ["pb=" + graph64, "input_shape=1,544,960,4"], "was frozen for input 1x32x32x4"),
        ("convert_tflite.py", ["pb=" + graph64, "input_shape=544,960"], "must look like 1,H/2,W/2,4"),
        ("convert_tflite.py", ["pb=" + converted["fp32"]], "not a frozen TensorFlow graph"),
        ("pb2tflite.sh", [str(tmp_path / "none.pb"), str(tmp_path / "x.tflite")], "not found"),
    ]
    if TF2:
        cases.append(("convert_tflite.py", ["pb=" + graph64, "precision=int8", "dataset_dir=" + str(tmp_path / "no")],
                      "does not exist"))
    for script, words, needle in cases:
        assert_usage_error(run_script(script, *words, cwd=str(tmp_path)), needle)
    assert not [n for n in os.listdir(str(tmp_path)) if n.endswith(".tflite")]


def test_a_truncated_raw_stops_before_any_result_is_written(converted, demo_data, tmp_path):
    raw_dir = str(tmp_path / "raw")
    shutil.copytree(os.path.join(demo_data, "val", "mediatek_raw"), raw_dir)
    last = os.path.join(raw_dir, sorted(os.listdir(raw_dir))[-1])
    with open(last, "rb") as f:
        data = f.read()
    with open(last, "wb") as f:
        f.write(data[:len(data) // 2])
    res = str(tmp_path / "res")
    proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"], "raw_dir=" + raw_dir,
                      "target_dir=" + os.path.join(demo_data, "val", "fujifilm"), "save_images=True", "result_dir=" + res)
    assert_usage_error(proc, "cannot read RAW PNG", last)
    assert not os.path.exists(res)


def test_a_dng_folder_runs_as_its_converted_pngs(converted, demo_data, tmp_path):
    """inference_tflite.py on a folder of a BGGR phone's DNGs (made from the demo validation RAWs)
    gives the same images and numbers as on the PNGs dng2png.py makes of them."""
    val_raw = os.path.join(demo_data, "val", "mediatek_raw")
    names = sorted(os.listdir(val_raw))[:2]
    dng_dir = tmp_path / "dng"
    dng_dir.mkdir()
    for name in names:
        scene = load_dataset.read_raw(os.path.join(val_raw, name))
        write_dng(str(dng_dir / name.replace(".png", ".dng")), sensor_mosaic(scene, "BGGR"), "BGGR")
    png_dir = tmp_path / "png"
    proc = run_script("dng2png.py", "input=" + str(dng_dir), "output=" + str(png_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed, images = {}, {}
    for kind, folder in (("dng", dng_dir), ("png", png_dir)):
        res = str(tmp_path / ("res_" + kind))
        proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"], "raw_dir=" + str(folder),
                          "target_dir=" + os.path.join(demo_data, "val", "fujifilm"), "save_images=True",
                          "result_dir=" + res, "runs=1")
        assert proc.returncode == 0, proc.stderr[-2000:]
        printed[kind] = re.findall(r"PSNR +([\d.]+) dB  SSIM ([\d.]+)", proc.stdout)
        images[kind] = [np.asarray(Image.open(os.path.join(res, n.replace(".png", "_model_iteration_4_64x64_tflite_%s.png" % kind))))
                        for n in names]
    assert len(printed["dng"]) == len(names) + 1 and printed["dng"] == printed["png"]  # per image and the mean
    for a, b in zip(images["dng"], images["png"]):
        assert a.shape == (64, 64, 3)
        np.testing.assert_array_equal(a, b)


def test_an_any_size_model_runs_each_image_at_its_own_size(none_tflite, tested, converted, demo_data, tmp_path):
    """A folder with RAWs of two sizes (128x192 and 96x160): the _none model resizes its input per
    image; PSNR/SSIM, parity with the _none.pb, latency as for a fixed-size model. A fixed-size
    model on the same folder keeps its size check."""
    model_dir, _, _ = tested
    src_raw = first_file(os.path.join(demo_data, "test", "fujifilm_full_resolution"))
    src_rgb = os.path.join(demo_data, "test", "fujifilm", os.path.basename(src_raw))
    raw_dir, rgb_dir, res = (str(tmp_path / d) for d in ("raw", "rgb", "res"))
    os.makedirs(raw_dir)
    os.makedirs(rgb_dir)
    raw, rgb = load_dataset.read_raw(src_raw), load_dataset.read_rgb(src_rgb)
    for name, (h, w) in (("big.png", (128, 192)), ("small.png", (96, 160))):
        Image.fromarray(np.ascontiguousarray(raw[:h, :w])).save(os.path.join(raw_dir, name))
        Image.fromarray(np.ascontiguousarray(rgb[:h, :w])).save(os.path.join(rgb_dir, name))
    proc = run_script("inference_tflite.py", "tflite=" + none_tflite, "raw_dir=" + raw_dir, "target_dir=" + rgb_dir,
                      "reference=" + os.path.join(model_dir, "model_iteration_4_none.pb"), "save_images=True",
                      "result_dir=" + res, "runs=2", "threads=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("big.png", "small.png"):
        assert re.search(re.escape(name) + r" +PSNR +[\d.]+ dB  SSIM [\d.]+  \| vs reference: PSNR", proc.stdout)
    assert "mean over 2 images with targets" in proc.stdout
    assert "parity (float model, max-abs <= 0.0001): yes" in proc.stdout
    assert re.search(r"latency of .* \(fp32; input 1x64x96x4 \(any size; at big.png's size\); threads (1|default.*)\): "
                     r"median [\d.]+ ms over 2 runs, (LiteRT|tf.lite)", proc.stdout), proc.stdout
    tag = "model_iteration_4_none_tflite_raw"
    assert Image.open(os.path.join(res, "big_%s.png" % tag)).size == (192, 128)
    assert Image.open(os.path.join(res, "small_%s.png" % tag)).size == (160, 96)
    with open(os.path.join(res, tag + "_metrics.csv")) as f:
        assert len(list(csv.reader(f))) == 3
    # a fixed-size model (1x32x32x4) on the same folder: the size check, nothing written
    res2 = str(tmp_path / "res2")
    assert_usage_error(run_script("inference_tflite.py", "tflite=" + converted["fp32"], "raw_dir=" + raw_dir,
                                  "target_dir=" + rgb_dir, "save_images=True", "result_dir=" + res2),
                       "was converted for 64x64")
    assert not os.path.exists(res2)
