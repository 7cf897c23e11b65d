"""ckpt2pb.py: a checkpoint with its meta graph -> the same frozen graph test_model.py writes."""
import os

import numpy as np
from conftest import run_pb, run_script, run_tflite


def test_ckpt2pb_and_tflite_match_the_graph(tested, tmp_path):
    model_dir, _, _ = tested
    out_pb = str(tmp_path / "again.pb")
    proc = run_script("ckpt2pb.py", "--in_path", os.path.join(model_dir, "model_iteration_4.ckpt"),
                      "--out_path", out_pb, "--out_nodes", "output_l0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    x = np.random.RandomState(1).rand(1, 64, 96, 4).astype(np.float32)
    ref = run_pb(os.path.join(model_dir, "model_iteration_4_192x128.pb"), x)
    np.testing.assert_allclose(run_pb(out_pb, x), ref, atol=1e-6)
    tfl = str(tmp_path / "m.tflite")
    proc = run_script("pb2tflite.sh", out_pb, tfl, "1,64,96,4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert np.abs(run_tflite(tfl, x) - ref).max() < 1e-4
