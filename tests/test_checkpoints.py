"""isp/checkpoints.py: frozen graphs and meta graphs cross the stacks (TF 1.15 <-> TF 2.x): written by
the other stack's Python, imported and run here with the same output."""
import numpy as np
from conftest import (
    other_python,
    run_checkpoint,
    run_pb,
    run_script,
    save_random_checkpoint,
)

from isp.checkpoints import strip_default_attrs
from isp.tfimport import import_tf

tf = import_tf()


def test_graphs_written_by_the_other_stack_run_here(tmp_path):
    """arch=punet (MaxPool: TF 2.x adds an `explicit_paddings` attribute TF 1.15 does not know):
    the other stack's test_model.py save=True writes .meta, .pb and _none.pb from a checkpoint made
    here; this stack imports the .pb files, and freezes the .meta with ckpt2pb.py: same output as
    the checkpoint's graph built here (<= 1e-5)."""
    prefix = save_random_checkpoint(str(tmp_path / "punet_iteration_1.ckpt"), "punet", 4, seed=1)
    proc = run_script("test_model.py", "arch=punet", "num_maps_base=4", "model_dir=" + str(tmp_path),
                      "test_image=False", "img_h=64", "img_w=64", "runs=1", python=other_python())
    assert proc.returncode == 0, proc.stderr[-2000:]
    rng = np.random.RandomState(8)
    x = rng.rand(1, 32, 32, 4).astype(np.float32)
    ref = run_checkpoint(prefix, "punet", 4, x)
    np.testing.assert_allclose(run_pb(str(tmp_path / "punet_iteration_1_64x64.pb"), x), ref, atol=1e-5)  # at 64x64 the name carries the size
    y = rng.rand(1, 48, 32, 4).astype(np.float32)
    np.testing.assert_allclose(run_pb(str(tmp_path / "punet_iteration_1_none.pb"), y),
                               run_checkpoint(prefix, "punet", 4, y), atol=1e-5)
    here = str(tmp_path / "here.pb")
    proc = run_script("ckpt2pb.py", "--in_path", prefix, "--out_path", here)
    assert proc.returncode == 0, proc.stderr[-2000:]
    np.testing.assert_allclose(run_pb(here, x), ref, atol=1e-5)


def test_strip_default_attrs_drops_only_default_values():
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [1, 8, 8, 4], name="Placeholder")
        tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME", name="pool")
    full = {n.name: n for n in graph.as_graph_def().node}
    stripped = {n.name: n for n in strip_default_attrs(tf, graph.as_graph_def()).node}
    assert set(stripped) == set(full)
    pool = stripped["pool"].attr
    assert "explicit_paddings" not in pool and "data_format" not in pool  # their defaults: [] and NHWC
    assert pool["padding"].s == b"SAME" and list(pool["ksize"].list.i) == [1, 2, 2, 1]
