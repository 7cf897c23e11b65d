"""export_challenge.py: the challenge's pair (model_none.tflite, model.tflite) from a checkpoint, and
arch=model's tile file (model_tiled.tflite; its rendering: tests/test_tiles.py)."""
import os
import re

import numpy as np
import pytest
from conftest import assert_usage_error, run_checkpoint, run_script, tf2_python

from isp.tfimport import import_tf, tf_major
from isp.tflite import TFLiteModel

tf = import_tf()


def test_the_pair_is_written_checked_and_never_overwritten(trained, tmp_path):
    """From the 4-iteration checkpoint, at 128x192 for model.tflite (on TF 1.15: written by the TF
    2.x stack, then loaded and run by TF 1.15's interpreter)."""
    model_dir, _ = trained
    out = str(tmp_path / "challenge")
    words = ["export_challenge.py", "model_dir=" + model_dir, "restore_iter=4", "out_dir=" + out, "img_h=128",
             "img_w=192", "check_sizes=96x64,160x96", "runs=2", "threads=1"]
    proc = run_script(*words, python=tf2_python())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"model_none.tflite +Placeholder \[1, -1, -1, 4\] -> output_l0 \[1, -1, -1, 3\]; vs the TF "
                     r"graph: max-abs \S+ at 96x64, max-abs \S+ at 160x96", proc.stdout), proc.stdout
    assert re.search(r"model.tflite +Placeholder \[1, 64, 96, 4\] -> output_l0 \[1, 128, 192, 3\]; vs the TF "
                     r"graph: max-abs \S+ at 192x128", proc.stdout), proc.stdout
    for name in ("model_none.tflite", "model.tflite"):
        size = re.search(r"wrote .*%s: ([\d.]+) KiB, CPU latency at 192x128 \(input 1x64x96x4\): median [\d.]+ ms "
                         r"over 2 runs \(LiteRT " % re.escape(name), proc.stdout)
        assert size, proc.stdout
        assert abs(float(size.group(1)) - os.path.getsize(os.path.join(out, name)) / 1024.0) <= 0.05  # KiB: 1024 bytes
    assert sorted(os.listdir(out)) == ["model.tflite", "model_none.tflite", "model_tiled.tflite"]  # arch=model: the tile file
    prefix = os.path.join(model_dir, "model_iteration_4.ckpt")
    rng = np.random.RandomState(7)
    fixed = TFLiteModel(tf, os.path.join(out, "model.tflite"))
    assert not fixed.dynamic and fixed.shape == (1, 64, 96, 4)
    assert fixed.inp["name"] == "Placeholder" and fixed.out["name"] == "output_l0"
    x = rng.rand(1, 64, 96, 4).astype(np.float32)
    assert np.max(np.abs(fixed.run(x) - run_checkpoint(prefix, "model", 16, x))) <= 1e-4
    anysize = TFLiteModel(tf, os.path.join(out, "model_none.tflite"))
    assert anysize.dynamic and anysize.inp["name"] == "Placeholder" and anysize.out["name"] == "output_l0"
    for h, w in ((40, 24), (24, 72)):
        x = rng.rand(1, h, w, 4).astype(np.float32)
        assert np.max(np.abs(anysize.run(x) - run_checkpoint(prefix, "model", 16, x))) <= 1e-4
    # the same command again: the user's files stay as they are
    before = {n: os.path.getmtime(os.path.join(out, n)) for n in os.listdir(out)}
    assert_usage_error(run_script(*words, python=tf2_python()), "model_none.tflite already exists", "overwrite=True")
    assert {n: os.path.getmtime(os.path.join(out, n)) for n in os.listdir(out)} == before


def test_on_tf1_it_says_to_use_tf2_and_writes_nothing(trained, tmp_path):
    if tf_major() >= 2:
        pytest.skip("TF 2.x writes the pair (tested above)")
    model_dir, _ = trained
    out = str(tmp_path / "challenge")
    assert_usage_error(run_script("export_challenge.py", "model_dir=" + model_dir, "out_dir=" + out, "img_h=128",
                                  "img_w=192"), "needs the TF 2.x converter", ".venv/bin/python")
    assert not os.path.exists(out)


def test_bad_arguments(trained, tmp_path):
    model_dir, _ = trained
    out = str(tmp_path / "c")
    for words, needle in ((["check_sizes=96x64"], "at least two different sizes"),
                          (["check_sizes=96by64,1x2"], "give WxH photo sizes"),
                          (["arch=punet", "check_sizes=96x48,160x96"], "check_sizes height=48 is not a multiple of 32"),
                          (["img_w=191"], "img_w=191 is not a multiple of 2"),
                          (["restore_iter=99"], "no checkpoint")):
        assert_usage_error(run_script("export_challenge.py", "model_dir=" + model_dir, "out_dir=" + out, *words),
                           needle)
    assert not os.path.exists(out)
