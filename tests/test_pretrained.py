"""The pretrained arch=model that ships in models/original/ (orig=True), how it is remade
(make_pretrained.py, checkpoints.export_weights) and the side-by-side picture of two runs
(compare_results.py)."""
import csv
import os

import numpy as np
from PIL import Image

from isp import model
from isp.checkpoints import ckpt_prefix, export_weights
from conftest import ROOT, assert_usage_error, ckpt_reader, run_script, save_image
from isp.tfimport import import_tf

PRETRAINED = os.path.join(ROOT, "models", "original", "model_pretrained.ckpt")


def network_variables(arch, num_maps_base):
    """{name: shape} of the variables model.build makes for arch."""
    tf = import_tf()
    with tf.Graph().as_default():
        model.build(arch, tf.placeholder(tf.float32, [1, None, None, 4]), num_maps_base)
        return {v.op.name: v.shape.as_list() for v in tf.global_variables()}


def test_the_committed_checkpoint_is_the_network_model_py_builds_variable_for_variable():
    # A change of arch=model that forgets to retrain the pretrained network fails here:
    # python make_pretrained.py overwrite=True remakes it.
    reader = ckpt_reader(PRETRAINED)
    stored = {name: list(shape) for name, shape in reader.get_variable_to_shape_map().items()}
    assert stored == network_variables("model", 16)
    for name in stored:
        assert np.all(np.isfinite(reader.get_tensor(name))), name
    note = open(PRETRAINED + ".txt").read().splitlines()
    assert "not MAI21" in note[0] and "make_pretrained.py" in note[1]


def test_orig_true_renders_the_test_scenes_and_says_what_the_weights_are(demo_data, tmp_path):
    proc = run_script("test_model.py", "orig=True", "model_dir=" + os.path.join(ROOT, "models"),
                      "dataset_dir=" + demo_data, "result_dir=" + str(tmp_path), "img_h=full", "img_w=full",
                      "save=False", "runs=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "orig=True: arch=model num_maps_base=16" in proc.stdout and "not MAI21" in proc.stdout
    assert "mean over 1 image" in proc.stdout
    assert os.path.isfile(str(tmp_path / "1_model_pretrained_full.png"))
    assert not [f for f in os.listdir(os.path.dirname(PRETRAINED)) if f.endswith((".pb", ".meta"))]


def test_export_weights_writes_the_network_read_back_into_the_graph_model_py_builds(trained, tmp_path):
    model_dir, _ = trained
    src = ckpt_prefix(model_dir, "model", 4)
    dst = str(tmp_path / "weights.ckpt")
    export_weights(import_tf(), "model", 16, src, dst)
    full, light = ckpt_reader(src), ckpt_reader(dst)
    names = set(light.get_variable_to_shape_map())
    assert names == set(network_variables("model", 16))
    for name in names:
        assert np.array_equal(full.get_tensor(name), light.get_tensor(name)), name
    assert sorted(os.listdir(str(tmp_path))) == ["weights.ckpt.data-00000-of-00001", "weights.ckpt.index"]


def test_make_pretrained_never_replaces_the_checkpoint_unasked(tmp_path):
    out = str(tmp_path / "mine.ckpt")
    for suffix in (".index", ".data-00000-of-00001"):
        with open(out + suffix, "w") as f:
            f.write("keep")
    proc = run_script("make_pretrained.py", "out=" + out, "work_dir=" + str(tmp_path / "work"))
    assert_usage_error(proc, out, "overwrite=True")
    assert open(out + ".index").read() == "keep" and not os.path.exists(str(tmp_path / "work"))
    assert_usage_error(run_script("make_pretrained.py", "out=" + str(tmp_path / "mine")), ".ckpt")


def fake_run(result_dir, run, scores, size=(24, 32), value=0.5):
    """What test_model.py leaves for a run: <image>_<run>.png and <run>_metrics.csv."""
    with open(os.path.join(result_dir, "%s_metrics.csv" % run), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "psnr_db", "ssim", "inference_ms"])
        for name, (psnr, ssim) in scores.items():
            w.writerow([name, psnr, ssim, "1.0"])
            save_image(os.path.join(result_dir, "%s_%s.png" % (name[:-4], run)),
                       np.full(size + (3,), int(255 * value), np.uint8))


def test_compare_results_puts_runs_side_by_side_with_their_scores(tmp_path):
    res, targets = tmp_path / "results", tmp_path / "targets"
    res.mkdir()
    targets.mkdir()
    fake_run(str(res), "a", {"1.png": (18.5, 0.7), "2.png": (19.0, 0.71)}, value=0.2)
    fake_run(str(res), "b", {"1.png": (21.25, 0.72), "2.png": (25.5, 0.8)}, value=0.8)
    save_image(str(targets / "1.png"), np.zeros((24, 32, 3), np.uint8))
    save_image(str(targets / "2.png"), np.zeros((24, 32, 3), np.uint8))
    out = str(tmp_path / "cmp.png")
    words = ["compare_results.py", "result_dir=" + str(res), "runs=a,b", "labels=early,late",
             "target_dir=" + str(targets), "out=" + out, "shrink=1"]
    proc = run_script(*words)
    assert proc.returncode == 0, proc.stderr
    assert "2 images, early | late | target" in proc.stdout
    img = np.asarray(Image.open(out))
    assert img.shape[1] >= 3 * 32 and img.shape[0] >= 2 * 24
    grey = img.reshape(-1, 3)[:, 0]
    assert (np.abs(grey.astype(int) - 51) <= 1).sum() >= 2 * 24 * 32  # run a's pixels in both rows
    assert (np.abs(grey.astype(int) - 204) <= 1).sum() >= 2 * 24 * 32
    before = open(out, "rb").read()
    assert_usage_error(run_script(*words), out, "overwrite=True")
    assert open(out, "rb").read() == before
    assert_usage_error(run_script(*(words[:2] + ["runs=a,c", "out=" + str(tmp_path / "x.png")])),
                       "c_metrics.csv")
    assert not os.path.exists(str(tmp_path / "x.png"))


def test_make_pretrained_refuses_a_work_dir_made_with_other_keys(tmp_path):
    # its note would otherwise quote this command's keys for data or weights made with others
    data = tmp_path / "work" / "data"
    data.mkdir(parents=True)
    (data / ".complete").write_text("train_count=1000 val_count=48 seed=0\n")
    proc = run_script("make_pretrained.py", "work_dir=" + str(tmp_path / "work"), "out=" + str(tmp_path / "p.ckpt"),
                      "seed=1")
    assert_usage_error(proc, "seed=0, not train_count=1000 val_count=48 seed=1", "work_dir=")
    (data / ".complete").write_text("train_count=1000 val_count=48 seed=1\n")
    (tmp_path / "work" / "run_recipe.txt").write_text("learning_rate=0.0002 seed=1\n")
    proc = run_script("make_pretrained.py", "work_dir=" + str(tmp_path / "work"), "out=" + str(tmp_path / "p.ckpt"),
                      "seed=1")
    assert_usage_error(proc, "training run", "learning_rate=0.0002 seed=1, not learning_rate=0.0001 seed=1")
    assert sorted(os.listdir(str(tmp_path))) == ["work"]
