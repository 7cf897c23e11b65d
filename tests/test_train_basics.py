"""train_model.py, the everyday run: the seed's defaults, help, the checkpoints, log and preview
PNGs a run writes, its TensorBoard events, resuming from restore_iter, arch=punet without VGG, the
same seed giving the same run. Each case runs the script as a user types it (a subprocess), on
whichever stack runs pytest."""
import os
import shutil

import numpy as np
import pytest
from conftest import (
    LOG_LINE,
    SMALL,
    ckpt_reader,
    kv_words,
    log_lines,
    network_names,
    run_script,
    save_random_checkpoint,
    train_losses,
)
from PIL import Image

import train_model
from isp.checkpoints import ckpt_prefix
from isp.previews import label_band_height
from isp.tfimport import import_tf

TRAIN_DEFAULTS = dict(dataset_dir="raw_images/", model_dir="models/", result_dir="results/",
                      vgg_dir="vgg_pretrained/imagenet-vgg-verydeep-19.mat", dslr_dir="fujifilm/",
                      phone_dir="mediatek_raw/", arch="model", num_maps_base=16, restore_iter=None,
                      patch_w=256, patch_h=256, batch_size=32, train_size=5000, learning_rate=5e-5,
                      eval_step=1000, num_train_iters=100000)


def test_script_defaults_match_the_seed():
    train = {a.name: a.default for a in train_model.ARGS}
    for key, value in TRAIN_DEFAULTS.items():
        assert train[key] == value, key


@pytest.mark.parametrize("flag", ["help=True", "--help"])
def test_help_lists_every_key(flag):
    proc = run_script("train_model.py", flag)
    assert proc.returncode == 0, proc.stderr
    for arg in train_model.ARGS:
        assert arg.name in proc.stdout
        assert "=" + str(arg.default) in proc.stdout


def test_training_writes_checkpoints_and_logs(trained):
    model_dir, proc = trained
    files = sorted(os.listdir(model_dir))
    for it in (2, 4):
        assert "model_iteration_%d.ckpt.index" % it in files
        assert "model_iteration_%d.ckpt.data-00000-of-00001" % it in files
    assert "logs_model_0-4.txt" in files
    steps = [LOG_LINE.match(l) for l in log_lines(os.path.join(model_dir, "logs_model_0-4.txt"))]
    assert all(steps) and [int(m.group(1)) for m in steps] == [2, 4]
    assert all(float(m.group(2)) > 0 for m in steps)  # the VGG content loss really ran
    assert not any(n.endswith(".tmp") for n in files)
    for it in (2, 4):  # save_mid_imgs: 4 validation crops as rows of RAW preview | output | target
        preview = Image.open(os.path.join(model_dir, "results", "model_iteration_%d_val.png" % it))
        # below a band naming the iteration, the PSNR and the columns (the size grew by it on purpose)
        assert preview.size == (3 * 68 - 4, 4 * 68 - 4 + label_band_height()) and preview.mode == "RGB"


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
    # the same PSNR as the log
    assert "psnr %.2f" % scalars["val/psnr"][1][1] in log_lines(os.path.join(model_dir, "logs_model_0-4.txt"))[1]
    for tag in ("val/input_preview", "val/output", "val/target"):
        assert [s for s, _ in images[tag]] == [2, 4], tag
        img = images[tag][0][1]
        assert (img.height, img.width) == (64, 4 * 68 - 4)
        assert img.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
    # weights moved between the two checkpoints
    a, b = ckpt_reader(os.path.join(model_dir, "model_iteration_2.ckpt")), ckpt_reader(os.path.join(model_dir, "model_iteration_4.ckpt"))
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
    assert [LOG_LINE.match(l).group(1) for l in log_lines(os.path.join(model_dir, "logs_model_4-6.txt"))] == ["6"]
    assert not os.path.exists(os.path.join(model_dir, "model_iteration_2.ckpt.meta"))
    # with a negligible learning rate, iteration 6 continues from iteration 4's weights
    a = ckpt_reader(os.path.join(model_dir, "model_iteration_4.ckpt"))
    b = ckpt_reader(os.path.join(model_dir, "model_iteration_6.ckpt"))
    for name in network_names(a.get_variable_to_shape_map()):
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


def test_same_seed_gives_the_same_first_ten_losses(demo_data, vgg_mat, tmp_path):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        model_dir = str(tmp_path / name)
        proc = run_script("train_model.py", *kv_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir,
                                                         content_loss=True, vgg_dir=vgg_mat, batch_size=4,
                                                         num_train_iters=10, eval_step=10, summary_step=1,
                                                         seed=seed)))
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs[name] = train_losses(model_dir)
    assert [s for s, _ in runs["a"]] == list(range(1, 11))
    assert runs["a"] == runs["b"]  # bit-identical losses
    ckpt_a = ckpt_reader(os.path.join(str(tmp_path / "a"), "model_iteration_10.ckpt"))
    ckpt_b = ckpt_reader(os.path.join(str(tmp_path / "b"), "model_iteration_10.ckpt"))
    for name in ckpt_a.get_variable_to_shape_map():  # and bit-identical weights
        assert np.array_equal(ckpt_a.get_tensor(name), ckpt_b.get_tensor(name)), name
    assert runs["a"] != runs["c"]  # and the seed matters


def test_init_from_starts_a_fresh_run_from_a_checkpoints_network_weights(demo_data, tmp_path):
    """init_from=<checkpoint>: the run starts from its weights (a negligible learning rate keeps
    them); with restore_iter=latest it applies while model_dir has no checkpoint, and once one
    is there (the printed resume command) the run resumes and says init_from is not used."""
    os.makedirs(str(tmp_path / "pretrained"))
    init = save_random_checkpoint(str(tmp_path / "pretrained" / "model_pretrained.ckpt"), "model", 16, seed=3)
    model_dir = str(tmp_path / "m")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, num_train_iters=1, eval_step=1,
                   learning_rate=1e-12, tensorboard=False, init_from=init, restore_iter="latest")
    proc = run_script("train_model.py", *kv_words(options))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "initialised from %s" % init in proc.stdout
    saved, ref = ckpt_reader(ckpt_prefix(model_dir, "model", 1)), ckpt_reader(init)
    names = sorted(ref.get_variable_to_shape_map())
    assert names and network_names(saved.get_variable_to_shape_map()) == names  # the network's weights, and Adam's
    assert int(saved.get_tensor("global_step")) == 1  # state from the start (one step)
    for name in names:
        assert np.max(np.abs(saved.get_tensor(name) - ref.get_tensor(name))) <= 1e-6, name
    proc = run_script("train_model.py", *kv_words(dict(options, num_train_iters=2)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "init_from=%s is not used: the run resumes from %s" % (init, ckpt_prefix(model_dir, "model", 1)) in proc.stdout
    assert "restored %s" % ckpt_prefix(model_dir, "model", 1) in proc.stdout and "initialised from" not in proc.stdout
