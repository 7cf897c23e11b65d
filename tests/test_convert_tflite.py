"""convert_tflite.py and pb2tflite.sh: FP32, FP16 and INT8 models; the Python pb2tflite.sh runs."""
import os
import shutil

import numpy as np
import pytest
from conftest import ROOT, assert_usage_error, run_checkpoint, run_script, val_inputs

from isp import load_dataset
from isp.tfimport import import_tf, tf_major
from isp.tflite import TFLiteModel, dequantize, quantize

tf = import_tf()
TF2 = tf_major() >= 2


def _fake_python(path, says):
    """An executable that prints who it is and its arguments, standing in for an interpreter."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write('#!/bin/sh\necho "%s $*"\n' % says)
    os.chmod(path, 0o755)


def test_pb2tflite_finds_the_projects_python_by_itself(tmp_path):
    """PYTHON wins; else the .venv/bin/python beside the script; else python3 (a copy of the script
    beside stand-in interpreters that say which one ran)."""
    here = tmp_path / "project"
    here.mkdir()
    shutil.copy(os.path.join(ROOT, "pb2tflite.sh"), str(here / "pb2tflite.sh"))
    path_dir = str(tmp_path / "bin")
    _fake_python(os.path.join(path_dir, "python3"), "python3 on PATH")
    _fake_python(str(here / ".venv" / "bin" / "python"), "the project's .venv")
    script = str(here / "pb2tflite.sh")
    env = {"PATH": path_dir + ":/usr/bin:/bin", "PYTHON": ""}  # the stand-in python3 first
    expected = "%s/convert_tflite.py pb=g.pb\n" % here
    assert run_script(script, "g.pb", env=env).stdout == "the project's .venv " + expected
    _fake_python(str(tmp_path / "mine"), "PYTHON")
    assert run_script(script, "g.pb", env=dict(env, PYTHON=str(tmp_path / "mine"))).stdout == "PYTHON " + expected
    shutil.rmtree(str(here / ".venv"))
    assert run_script(script, "g.pb", env=env).stdout == "python3 on PATH " + expected


@pytest.mark.skipif(not os.path.isfile(os.path.join(ROOT, ".venv", "bin", "python")), reason="no .venv set up")
def test_pb2tflite_runs_outside_an_activated_venv():
    """Without PYTHON and with no Python on PATH, the real script lists convert_tflite.py's keys
    (it ran the project's .venv/bin/python)."""
    proc = run_script("pb2tflite.sh", "--help", env={"PYTHON": "", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "key=value words (convert_tflite.py):" in proc.stdout and "precision" in proc.stdout.split("(convert_tflite.py):")[1]


def test_fp16_stores_half_precision_weights(converted):
    fp16 = TFLiteModel(tf, converted["fp16"])
    assert fp16.kind.startswith("fp16")
    assert os.path.getsize(converted["fp16"]) < 0.75 * os.path.getsize(converted["fp32"])


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
    x, _ = val_inputs(demo_data)
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


def test_int8_on_tf1_is_a_clear_error(graph64, demo_data, tmp_path):
    if TF2:
        pytest.skip("TF 2.x converts INT8 (tested above)")
    out = str(tmp_path / "x.tflite")
    proc = run_script("convert_tflite.py", "pb=" + graph64, "out=" + out, "precision=int8", "dataset_dir=" + demo_data)
    assert_usage_error(proc, "precision=int8 needs the TF 2.x converter", "DEPTH_TO_SPACE")
    assert not os.path.exists(out)


def _none_paths(tested):
    model_dir, _, _ = tested
    return os.path.join(model_dir, "model_iteration_4.ckpt"), os.path.join(model_dir, "model_iteration_4_none.pb")


def test_none_tflite_keeps_any_size(tested, none_tflite):
    """pb2tflite.sh X_none.pb X_none.tflite: [1, None, None, 4] -> [1, None, None, 3], equal to the
    checkpoint's graph at two sizes it was never frozen or converted for (on TF 1.15: a TF 2.x-made
    file in TF 1.15's interpreter)."""
    prefix, _ = _none_paths(tested)
    model = TFLiteModel(tf, none_tflite)
    assert model.dynamic and model.signature == (1, -1, -1, 4) and model.kind == "fp32"
    rng = np.random.RandomState(5)
    for h, w in ((48, 80), (80, 32), (48, 80)):  # and back: the resize goes both ways
        x = rng.rand(1, h, w, 4).astype(np.float32)
        y = model.run(x)
        assert y.shape == (1, 2 * h, 2 * w, 3)
        assert np.max(np.abs(y - run_checkpoint(prefix, "model", 16, x))) <= 1e-4


def test_none_pb_in_fp16_and_int8(tested, demo_data, tmp_path):
    """FP16 and INT8 keep any size too (TF 2.x; INT8 calibrates on 256x256 crops); on TF 1.15 the
    converter cannot keep it: a one-line error, nothing written."""
    prefix, pb = _none_paths(tested)
    if not TF2:
        out = str(tmp_path / "x_none.tflite")
        assert_usage_error(run_script("pb2tflite.sh", pb, out), "takes any input size", "cannot keep",
                           ".venv/bin/python")
        assert not os.path.exists(out)
        return
    # 40x56 inputs (a size it was never frozen for): uniform noise in [0, 1] for FP16; for INT8 a
    # crop of the test RAW's planes, since INT8 is calibrated on RAWs and clips inputs outside
    # their range (the noise's top reaches past the training RAWs' brightest planes). Measured on
    # TF 2.21: FP16 3e-4, INT8 0.009 (noise gave INT8 0.20 once calibrated on the demo RAWs)
    raw = load_dataset.read_raw(os.path.join(demo_data, "test", "fujifilm_full_resolution", "1.png"))
    inputs = {"fp16": np.random.RandomState(6).rand(1, 40, 56, 4).astype(np.float32),
              "int8": np.ascontiguousarray(load_dataset.extract_bayer_channels(raw)[None, 8:48, 16:72])}
    for precision, tol in (("fp16", 0.01), ("int8", 0.05)):
        x = inputs[precision]
        ref = run_checkpoint(prefix, "model", 16, x)
        out = str(tmp_path / ("none_%s.tflite" % precision))
        proc = run_script("pb2tflite.sh", pb, out, "precision=" + precision, "dataset_dir=" + demo_data, "calib_size=4")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "input 1xNonexNonex4 (any size)" in proc.stdout
        model = TFLiteModel(tf, out)
        assert model.dynamic and model.kind.startswith(precision)
        assert np.max(np.abs(model.run(x) - ref)) <= tol
