"""Training: a few iterations with the content loss, checkpoints, logs, resume, bad input."""
import os
import re
import shutil

import numpy as np

from conftest import run_script
from utils import import_tf

LOG_LINE = re.compile(r"step (\d+) \| training loss: [\d.]+ \| validation: loss [\d.]+, content ([\d.]+), "
                      r"mse [\d.]+, psnr ([\d.]+), ms-ssim [\d.]+")


def _reader(prefix):
    tf = import_tf()
    return tf.train.NewCheckpointReader(prefix)


def test_training_writes_checkpoints_and_logs(trained):
    model_dir, proc = trained
    files = sorted(os.listdir(model_dir))
    for it in (2, 4):
        assert "model_iteration_%d.ckpt.index" % it in files
        assert "model_iteration_%d.ckpt.data-00000-of-00001" % it in files
    assert "logs_0-4.txt" in files
    with open(os.path.join(model_dir, "logs_0-4.txt")) as f:
        lines = f.read().splitlines()
    steps = [LOG_LINE.match(l) for l in lines]
    assert all(steps) and [int(m.group(1)) for m in steps] == [2, 4]
    assert all(float(m.group(2)) > 0 for m in steps)  # the VGG content loss really ran
    assert not any(n.endswith(".tmp") for n in files)
    from PIL import Image
    for it in (2, 4):  # save_mid_imgs: 4 validation crops as rows of RAW preview | output | target
        preview = Image.open(os.path.join(model_dir, "results", "model_iteration_%d_val.png" % it))
        assert preview.size == (3 * 68 - 4, 4 * 68 - 4) and preview.mode == "RGB"


def test_tensorboard_events_hold_scalars_images_and_graph(trained):
    model_dir, _ = trained
    tf = import_tf()
    logdir = os.path.join(model_dir, "tensorboard", "model_0-4")
    files = [f for f in os.listdir(logdir) if "tfevents" in f]
    assert len(files) == 1
    scalars, images, graphs = {}, {}, 0
    for event in tf.train.summary_iterator(os.path.join(logdir, files[0])):
        graphs += event.HasField("graph_def")
        for value in event.summary.value:
            if value.HasField("image"):
                images.setdefault(value.tag, []).append((event.step, value.image))
            elif value.HasField("simple_value"):
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    assert graphs == 1
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3, 4]
    for tag in ("val/loss", "val/content", "val/mse", "val/psnr", "val/ssim", "val/ms_ssim"):
        assert [s for s, _ in scalars[tag]] == [2, 4], tag
    assert scalars["val/content"][0][1] > 0
    with open(os.path.join(model_dir, "logs_0-4.txt")) as f:  # the same PSNR as the log
        assert "psnr %.2f" % scalars["val/psnr"][1][1] in f.read().splitlines()[1]
    for tag in ("val/input_preview", "val/output", "val/target"):
        assert [s for s, _ in images[tag]] == [2, 4], tag
        img = images[tag][0][1]
        assert (img.height, img.width) == (64, 4 * 68 - 4)
        assert img.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
    # weights moved between the two checkpoints
    a, b = _reader(os.path.join(model_dir, "model_iteration_2.ckpt")), _reader(os.path.join(model_dir, "model_iteration_4.ckpt"))
    name = "generator/head/weights"
    assert not np.array_equal(a.get_tensor(name), b.get_tensor(name))


def test_resume_from_restore_iter(trained, demo_data, vgg_mat, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    proc = run_script("train_model.py", "dataset_dir=" + demo_data, "model_dir=" + model_dir,
                      "result_dir=" + str(tmp_path / "r"),
                      "vgg_dir=" + vgg_mat, "patch_w=64", "patch_h=64", "batch_size=4",
                      "train_size=12", "eval_step=2", "num_train_iters=6", "restore_iter=4",
                      "learning_rate=1e-12")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "restored" in proc.stdout
    with open(os.path.join(model_dir, "logs_4-6.txt")) as f:
        assert [LOG_LINE.match(l).group(1) for l in f.read().splitlines()] == ["6"]
    assert not os.path.exists(os.path.join(model_dir, "model_iteration_2.ckpt.meta"))
    # with a negligible learning rate, iteration 6 continues from iteration 4's weights
    a = _reader(os.path.join(model_dir, "model_iteration_4.ckpt"))
    b = _reader(os.path.join(model_dir, "model_iteration_6.ckpt"))
    for name in a.get_variable_to_shape_map():
        np.testing.assert_allclose(a.get_tensor(name), b.get_tensor(name), atol=1e-6)


def test_punet_trains_without_vgg(demo_data, tmp_path):
    model_dir = str(tmp_path / "p")
    proc = run_script("train_model.py", "dataset_dir=" + demo_data, "model_dir=" + model_dir,
                      "result_dir=" + str(tmp_path / "r"), "arch=punet", "num_maps_base=4", "content_loss=False", "patch_w=64", "patch_h=64",
                      "batch_size=2", "train_size=4", "eval_step=2", "num_train_iters=2",
                      "vgg_dir=/nonexistent.mat")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert os.path.exists(os.path.join(model_dir, "punet_iteration_2.ckpt.index"))
    assert "warning: train_size" not in proc.stderr
