"""Issue 5: TFLite in FP32 / FP16 / INT8 (convert_tflite.py, pb2tflite.sh) and inference_tflite.py."""
import csv
import os
import re
import shutil

import numpy as np
import pytest

from conftest import assert_usage_error, run_script
from utils import import_tf

tf = import_tf()
import tensorflow  # noqa: E402
from inference_tflite import GraphModel, TFLiteModel, dequantize, quantize  # noqa: E402

TF2 = int(tensorflow.__version__.split(".")[0]) >= 2


@pytest.fixture(scope="module")
def graph64(trained, tmp_path_factory):
    """The 4-iteration arch=model checkpoint frozen for 64x64 photos (the demo validation size)."""
    src, _ = trained
    model_dir = str(tmp_path_factory.mktemp("tfl") / "models")
    shutil.copytree(src, model_dir)
    proc = run_script("test_model.py", "model_dir=" + model_dir, "restore_iter=4", "img_h=64", "img_w=64",
                      "test_image=False", "runs=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return os.path.join(model_dir, "model_iteration_4.pb")


@pytest.fixture(scope="module")
def converted(graph64, demo_data):
    """FP32 (through the baseline's pb2tflite.sh command line), FP16 and, on TF 2.x, INT8."""
    out = {}
    stem = graph64[:-3]
    proc = run_script("pb2tflite.sh", graph64, stem + ".tflite", "1,32,32,4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out["fp32"] = stem + ".tflite"
    proc = run_script("convert_tflite.py", "pb=" + graph64, "precision=fp16")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out["fp16"] = stem + "_fp16.tflite"
    if TF2:
        proc = run_script("pb2tflite.sh", graph64, stem + "_int8.tflite", "precision=int8",
                          "dataset_dir=" + demo_data, "calib_size=8")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "uint8 input/output, calibrated on 8 training RAW inputs" in proc.stdout
        out["int8"] = stem + "_int8.tflite"
    for path in out.values():
        assert os.path.getsize(path) > 0
    return out


def _val_inputs(demo_data):
    import load_dataset
    names = load_dataset.paired_names(demo_data, "val", "mediatek_raw/", "fujifilm/")
    raw, rgb = load_dataset.load_pairs(demo_data, "val", "mediatek_raw/", "fujifilm/", names, 64, 64)
    return load_dataset.to_float(raw, rgb)


def test_fp32_tflite_equals_the_graph_on_the_validation_patches(graph64, converted, demo_data):
    x, _ = _val_inputs(demo_data)
    graph, fp32 = GraphModel(tf, graph64), TFLiteModel(tf, converted["fp32"])
    assert fp32.kind == "fp32" and fp32.shape == (1, 32, 32, 4)
    worst = max(float(np.max(np.abs(fp32.run(x[i:i + 1]) - graph.run(x[i:i + 1])))) for i in range(len(x)))
    assert worst <= 1e-4, worst
    # and the printed check says the same
    proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"], "reference=" + graph64,
                      "raw_dir=" + os.path.join(demo_data, "val", "mediatek_raw"),
                      "target_dir=" + os.path.join(demo_data, "val", "fujifilm"), "runs=2", "threads=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "parity (float model, max-abs <= 0.0001): yes" in proc.stdout
    assert re.search(r"mean over 4 images with targets: PSNR [\d.]+ dB  SSIM [\d.]+", proc.stdout)
    assert re.search(r"latency of .* \(fp32; input 1x32x32x4; threads (1|default.*)\): median [\d.]+ ms over 2 runs",
                     proc.stdout), proc.stdout


def test_fp16_stores_half_precision_weights(converted):
    fp16 = TFLiteModel(tf, converted["fp16"])
    assert fp16.kind.startswith("fp16")
    assert os.path.getsize(converted["fp16"]) < 0.75 * os.path.getsize(converted["fp32"])


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


@pytest.mark.skipif(not TF2, reason="INT8 conversion needs TF 2.x")
def test_int8_io_types_and_quantisation_round_trip(converted, graph64, demo_data, tmp_path):
    model = TFLiteModel(tf, converted["int8"])
    assert model.inp["dtype"] == np.uint8 and model.out["dtype"] == np.uint8
    out = str(tmp_path / "s8.tflite")
    proc = run_script("convert_tflite.py", "pb=" + graph64, "out=" + out, "precision=int8", "int8_io=int8",
                      "dataset_dir=" + demo_data, "calib_size=4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    s8 = TFLiteModel(tf, out)
    assert s8.inp["dtype"] == np.int8 and s8.out["dtype"] == np.int8
    x, _ = _val_inputs(demo_data)
    for m in (model, s8):
        scale, zero = m.inp["quantization"]
        q = quantize(x, scale, zero, m.inp["dtype"])
        assert q.dtype == m.inp["dtype"]
        inside = x <= (np.iinfo(q.dtype).max - zero) * scale  # values the input range covers
        assert np.max(np.abs(dequantize(q, scale, zero) - x)[inside]) <= scale / 2 + 1e-7
        y = m.run(x[:1])
        assert y.dtype == np.float32 and 0 <= y.min() and y.max() <= 1.0 + 1e-6
    # int8 and uint8 models agree (same calibration data apart from its size)
    assert np.max(np.abs(model.run(x[:1]) - s8.run(x[:1]))) < 0.1


def test_quantize_dequantize_round_trip():
    x = np.linspace(-0.1, 1.1, 1001).astype(np.float32)
    for dtype, zero in ((np.uint8, 0), (np.int8, -128)):
        scale = 1.0 / 255
        q = quantize(x, scale, zero, dtype)
        assert q.dtype == dtype and q.min() == np.iinfo(dtype).min and q.max() == np.iinfo(dtype).max  # clipped
        back = dequantize(q, scale, zero)
        inside = (x >= 0) & (x <= 1)
        assert np.max(np.abs(back - x)[inside]) <= scale / 2 + 1e-7


def test_int8_on_tf1_is_a_clear_error(graph64, demo_data, tmp_path):
    if TF2:
        pytest.skip("TF 2.x converts INT8 (tested above)")
    out = str(tmp_path / "x.tflite")
    proc = run_script("convert_tflite.py", "pb=" + graph64, "out=" + out, "precision=int8", "dataset_dir=" + demo_data)
    assert_usage_error(proc, "precision=int8 needs the TF 2.x converter", "DEPTH_TO_SPACE")
    assert not os.path.exists(out)


def test_save_images_writes_pngs_and_a_csv(converted, demo_data, tmp_path):
    res = str(tmp_path / "res")
    proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"], "save_images=True", "result_dir=" + res,
                      "raw_dir=" + os.path.join(demo_data, "val", "mediatek_raw"),
                      "target_dir=" + os.path.join(demo_data, "val", "fujifilm"), "runs=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    tag = "model_iteration_4"
    with open(os.path.join(res, tag + "_metrics.csv")) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["image", "psnr_db", "ssim", "ref_psnr_db", "ref_max_abs"] and len(rows) == 5
    from PIL import Image
    for row in rows[1:]:
        stem = os.path.splitext(row[0])[0]
        assert Image.open(os.path.join(res, "%s_%s.png" % (stem, tag))).size == (64, 64)
        assert Image.open(os.path.join(res, "%s_%s_vs_target.png" % (stem, tag))).size == (2 * 64 + 4, 64)
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
    assert proc.returncode == 0 and "mean over 1 images with targets" in proc.stdout, proc.stderr[-2000:]
    val_raw = os.path.join(demo_data, "val", "mediatek_raw")
    cases = [
        ("inference_tflite.py", ["tflite=" + str(tmp_path / "none.tflite"), "raw_dir=" + val_raw], "not found"),
        ("inference_tflite.py", ["tflite=" + graph64, "raw_dir=" + val_raw], "cannot load"),
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


def test_benchmark_precision_mode_prints_a_row_per_precision(trained, demo_data):
    src, _ = trained
    proc = run_script("benchmark.py", "mode=precision", "archs=model", "ckpt=" + os.path.join(src, "model_iteration_4.ckpt"),
                      "dataset_dir=" + demo_data, "img_h=64", "img_w=96", "runs=1", "calib_size=4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {m.group(1): m for m in re.finditer(
        r"^(FP32|FP16|INT8) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) +(\S+) +(\S+)$", proc.stdout, re.M)}
    assert sorted(rows) == sorted(["FP32", "FP16"] + (["INT8"] if TF2 else [])), proc.stdout
    assert float(rows["FP32"].group(8)) <= 1e-4  # max-abs of the FP32 .tflite against the graph
    assert float(rows["FP16"].group(2)) < float(rows["FP32"].group(2))  # smaller file
    assert "quality on 4 validation images of 64x64" in proc.stdout
    assert_usage_error(run_script("benchmark.py", "mode=precision", "ckpt=" + os.path.join(src, "nope.ckpt")),
                       "no such checkpoint")


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
    import load_dataset
    from PIL import Image
    from test_dng import sensor_mosaic, write_dng
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
        images[kind] = [np.asarray(Image.open(os.path.join(res, n.replace(".png", "_model_iteration_4.png"))))
                        for n in names]
    assert len(printed["dng"]) == len(names) + 1 and printed["dng"] == printed["png"]  # per image and the mean
    for a, b in zip(images["dng"], images["png"]):
        assert a.shape == (64, 64, 3)
        np.testing.assert_array_equal(a, b)
