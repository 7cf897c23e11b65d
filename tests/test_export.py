"""test_model.py (PSNR/SSIM, latency, result PNGs, frozen graph), ckpt2pb.py, pb2tflite.sh."""
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED_FIXTURE, assert_usage_error, run_script
from utils import import_tf

tf = import_tf()
import load_dataset  # noqa: E402


def _run_pb(pb, x):
    graph_def = tf.GraphDef()
    with open(pb, "rb") as f:
        graph_def.ParseFromString(f.read())
    with tf.Graph().as_default():
        tf.import_graph_def(graph_def, name="")
        with tf.Session() as sess:
            return sess.run("output_l0:0", {"Placeholder:0": x})


def _run_tflite(path, x):
    interp = tf.lite.Interpreter(model_path=path)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    assert list(inp["shape"]) == list(x.shape)
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    return interp.get_tensor(out["index"])


@pytest.fixture(scope="module")
def tested(trained, demo_data, tmp_path_factory):
    """test_model.py on the trained checkpoint at the test RAW's full size (128x192)."""
    model_dir, _ = trained
    result_dir = str(tmp_path_factory.mktemp("results"))
    proc = run_script("test_model.py", "dataset_dir=" + demo_data, "model_dir=" + model_dir,
                      "result_dir=" + result_dir, "img_h=128", "img_w=192", "runs=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return model_dir, result_dir, proc


def test_test_model_reports_and_writes(tested, demo_data):
    model_dir, result_dir, proc = tested
    out = proc.stdout
    assert "restored %s" % os.path.join(model_dir, "model_iteration_4.ckpt") in out  # last checkpoint
    per_image = re.search(r"1\.png\s+PSNR ([\d.]+) dB\s+SSIM ([-\d.]+)", out)
    mean = re.search(r"mean over 1 images: PSNR ([\d.]+) dB\s+SSIM ([-\d.]+)", out)
    assert per_image and mean and per_image.group(1) == mean.group(1)
    assert re.search(r"latency at 192x128 \(input 1x64x96x4\): median [\d.]+ ms over 2 runs", out)
    png = os.path.join(result_dir, "1_model_iteration_4.png")
    result = np.asarray(Image.open(png))
    assert result.shape == (128, 192, 3) and result.dtype == np.uint8
    # the printed PSNR is the PSNR of the written PNG against the target
    target = load_dataset.read_rgb(os.path.join(demo_data, "test", "fujifilm", "1.png"))
    mse = np.mean((result / 255.0 - target / 255.0) ** 2)
    assert abs(10 * np.log10(1 / mse) - float(per_image.group(1))) < 0.01
    # the frozen graph gives the same image
    raw = load_dataset.read_raw(os.path.join(demo_data, "test", "fujifilm_full_resolution", "1.png"))
    x = load_dataset.extract_bayer_channels(raw)[None]
    pb = os.path.join(model_dir, "model_iteration_4.pb")
    from_pb = (np.clip(_run_pb(pb, x)[0], 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.abs(from_pb.astype(int) - result.astype(int)).max() <= 1
    assert os.path.exists(os.path.join(model_dir, "model_iteration_4.ckpt.meta"))
    # output | target side by side, and a CSV row per image
    side = np.asarray(Image.open(os.path.join(result_dir, "1_model_iteration_4_vs_target.png")))
    assert side.shape == (128, 2 * 192 + 4, 3)
    np.testing.assert_array_equal(side[:, :192], result)
    np.testing.assert_array_equal(side[:, 196:], target)
    import csv
    with open(os.path.join(result_dir, "model_iteration_4_metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["image"] for r in rows] == ["1.png"]
    assert abs(float(rows[0]["psnr_db"]) - float(per_image.group(1))) < 0.01
    assert abs(float(rows[0]["ssim"]) - float(per_image.group(2))) < 1e-4
    assert float(rows[0]["inference_ms"]) > 0


def test_ckpt2pb_and_tflite_match_the_graph(tested, tmp_path):
    model_dir, _, _ = tested
    out_pb = str(tmp_path / "again.pb")
    proc = run_script("ckpt2pb.py", "--in_path", os.path.join(model_dir, "model_iteration_4.ckpt"),
                      "--out_path", out_pb, "--out_nodes", "output_l0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    x = np.random.RandomState(1).rand(1, 64, 96, 4).astype(np.float32)
    ref = _run_pb(os.path.join(model_dir, "model_iteration_4.pb"), x)
    np.testing.assert_allclose(_run_pb(out_pb, x), ref, atol=1e-6)
    tfl = str(tmp_path / "m.tflite")
    proc = run_script("pb2tflite.sh", out_pb, tfl, "1,64,96,4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert np.abs(_run_tflite(tfl, x) - ref).max() < 1e-4


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
    assert "mean over 1 images" in proc.stdout
    pb = str(model_dir / "original" / "punet_pretrained.pb")
    ref = np.load(os.path.join(SHARED_FIXTURE, "punet_reference_io.npz"))
    assert np.abs(_run_pb(pb, ref["input"]) - ref["output"]).max() < 1e-5
    tfl = str(model_dir / "original" / "punet_pretrained.tflite")
    proc = run_script("pb2tflite.sh", pb, tfl, "1,64,96,4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert np.abs(_run_tflite(tfl, ref["input"]) - ref["output"]).max() < 1e-4
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
    ]
    for change, needle in cases:
        words = ["%s=%s" % kv for kv in dict(base, **change).items()]
        assert_usage_error(run_script("test_model.py", *words), needle)
        assert not os.path.exists(base["result_dir"]), change
    assert_usage_error(run_script("ckpt2pb.py", "--in_path", os.path.join(model_dir, "model_iteration_2.ckpt"),
                                  "--out_path", str(tmp_path / "x.pb")), "has no meta graph")
    assert_usage_error(run_script("pb2tflite.sh", str(tmp_path / "none.pb"), str(tmp_path / "x.tflite")), "not found")
    assert not os.path.exists(str(tmp_path / "x.pb")) and not os.path.exists(str(tmp_path / "x.tflite"))
