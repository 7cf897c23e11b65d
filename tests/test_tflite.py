"""isp/tflite.py: the interpreter wrapper against the graph, and quantisation of inputs and outputs."""
import os
import re

import numpy as np
import pytest
from conftest import run_script, val_inputs
from PIL import Image

from isp import tflite
from isp.errors import UsageError
from isp.tfimport import import_tf
from isp.tflite import GraphModel, TFLiteModel, dequantize, quantize

tf = import_tf()


def test_fp32_tflite_equals_the_graph_on_the_validation_patches(graph64, converted, demo_data):
    x, _ = val_inputs(demo_data)
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


def test_quantize_dequantize_round_trip():
    x = np.linspace(-0.1, 1.1, 1001).astype(np.float32)
    for dtype, zero in ((np.uint8, 0), (np.int8, -128)):
        scale = 1.0 / 255
        q = quantize(x, scale, zero, dtype)
        assert q.dtype == dtype and q.min() == np.iinfo(dtype).min and q.max() == np.iinfo(dtype).max  # clipped
        back = dequantize(q, scale, zero)
        inside = (x >= 0) & (x <= 1)
        assert np.max(np.abs(back - x)[inside]) <= scale / 2 + 1e-7


def test_calibration_inputs_take_one_raw_each(tmp_path):
    """An INT8 calibration input larger than the training RAWs is one RAW, mirror-tiled (one light
    and exposure, as in a photo), not a patchwork of several; a smaller one is a crop of one."""
    folder = tmp_path / "train" / "mediatek_raw"
    folder.mkdir(parents=True)
    for i, level in enumerate((100, 900)):  # two flat RAWs, told apart by their level
        Image.fromarray(np.full((16, 24), level, np.uint16)).save(str(folder / ("%d.png" % i)))
    levels = set()
    for shape in ((1, 20, 30, 4), (1, 4, 6, 4)):
        inputs = list(tflite.calibration_inputs(str(tmp_path), "mediatek_raw/", shape, 6, seed=0))
        assert [x.shape for x in inputs] == [shape] * 6
        for x in inputs:
            assert len(np.unique(x)) == 1, "one RAW per calibration input"
            levels.add(float(x.flat[0]))
    assert len(levels) == 2  # both RAWs are drawn


def _failing_interpreter(monkeypatch, printed, err):
    """An interpreter that prints `printed` from C++ (straight to file descriptor 2) and raises `err`
    while it loads, as TFLite's does; returns the list of the keywords it was made with."""
    made = []

    class Failing:
        def __init__(self, model_path=None, model_content=None, num_threads=None):
            made.append(num_threads)
            os.write(2, printed.encode())
            raise err

    monkeypatch.setattr(tflite, "interpreter_class", lambda tf: (Failing, "fake"))
    return made


def test_a_failed_load_names_tflites_own_reason_even_when_the_exception_is_empty(tmp_path, monkeypatch):
    path = tmp_path / "m.tflite"
    path.write_bytes(b"TFL3")
    made = _failing_interpreter(monkeypatch, "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
                                "ERROR: Didn't find op for builtin opcode 'FANCY' version '9'\n", ValueError(""))
    with pytest.raises(UsageError) as err:
        TFLiteModel(tf, str(path), threads=2)
    assert str(err.value) == ("cannot load %r as a TFLite model: ERROR: Didn't find op for builtin opcode "
                              "'FANCY' version '9'" % str(path))
    assert made == [2]
    _failing_interpreter(monkeypatch, "", RuntimeError("\n"))  # nothing said anywhere: the exception's type
    with pytest.raises(UsageError, match=r"as a TFLite model: RuntimeError$"):
        TFLiteModel(tf, str(path))
    _failing_interpreter(monkeypatch, "ERROR: the tensor arena is too small\n", RuntimeError("Failed to allocate"))
    with pytest.raises(UsageError, match=r"model: Failed to allocate; ERROR: the tensor arena is too small$"):
        TFLiteModel(tf, str(path))


def test_a_type_error_inside_the_interpreter_is_not_retried_or_hidden(tmp_path, monkeypatch):
    path = tmp_path / "m.tflite"
    path.write_bytes(b"TFL3")
    made = _failing_interpreter(monkeypatch, "", TypeError("a bug inside the interpreter"))
    with pytest.raises(TypeError, match="a bug inside"):
        TFLiteModel(tf, str(path), threads=1)
    assert made == [1]
