"""train_model.py: checkpoints, logs, TensorBoard, resume; every bad input is one line + exit 2 with
nothing written; kill -9 and resume; NaN stops training without saving it; same seed, same losses;
the patch pool re-drawn in the background (issue 15).
Each case runs the script as a user types it (a subprocess), on whichever stack runs pytest."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import load_dataset
import train_model
from checkpoints import ckpt_prefix, existing_iterations
from previews import label_band_height
from conftest import (LOG_LINE, RAW_SUB, RGB_SUB, ROOT, SMALL, _is_tf_noise, assert_usage_error, ckpt_reader,
                      first_file, kv_words, lines_read_while_running, run_script, save_image, truncate_file)
from tfimport import import_tf
from train_log import read_log_lines

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
    with open(os.path.join(model_dir, "logs_model_0-4.txt")) as f:
        lines = f.read().splitlines()
    steps = [LOG_LINE.match(l) for l in lines]
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
    with open(os.path.join(model_dir, "logs_model_0-4.txt")) as f:  # the same PSNR as the log
        assert "psnr %.2f" % scalars["val/psnr"][1][1] in f.read().splitlines()[1]
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
    with open(os.path.join(model_dir, "logs_model_4-6.txt")) as f:
        assert [LOG_LINE.match(l).group(1) for l in f.read().splitlines()] == ["6"]
    assert not os.path.exists(os.path.join(model_dir, "model_iteration_2.ckpt.meta"))
    # with a negligible learning rate, iteration 6 continues from iteration 4's weights
    a = ckpt_reader(os.path.join(model_dir, "model_iteration_4.ckpt"))
    b = ckpt_reader(os.path.join(model_dir, "model_iteration_6.ckpt"))
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


# dataset damage: (description, function(dataset_root) -> the file it broke or None)
def _drop_target(root):
    os.remove(first_file(os.path.join(root, "train", RGB_SUB)))


def _replace_first_raw(root, split, image):
    path = first_file(os.path.join(root, split, RAW_SUB))
    save_image(path, image)
    return path


def _raw_8bit(root):
    return _replace_first_raw(root, "train", np.zeros((64, 64), np.uint8))


def _raw_rgb(root):
    return _replace_first_raw(root, "val", np.zeros((64, 64, 3), np.uint8))


def _raw_wrong_size(root):
    return _replace_first_raw(root, "train", np.zeros((64, 96), np.uint16))


def _raw_truncated(root):
    path = first_file(os.path.join(root, "train", RAW_SUB))
    truncate_file(path)
    return path


def _target_truncated(root):
    path = first_file(os.path.join(root, "val", RGB_SUB))
    truncate_file(path)
    return path


def _not_a_png(root):
    path = first_file(os.path.join(root, "val", RAW_SUB))
    with open(path, "w") as f:
        f.write("not an image\n")
    return path


def _empty_raw_folder(root):
    for name in os.listdir(os.path.join(root, "val", RAW_SUB)):
        os.remove(os.path.join(root, "val", RAW_SUB, name))


def _empty_dataset(root):
    shutil.rmtree(os.path.join(root, "train"))
    shutil.rmtree(os.path.join(root, "val"))


TRAIN_CASES = [
    # (options changed, dataset damage, words the one line must hold)
    ({"patch_width": 64}, None, ["unknown argument 'patch_width'", "did you mean 'patch_w'?"]),
    ({"batch_size": "eight"}, None, ["bad value 'eight' for 'batch_size'"]),
    ({"learning_rate": "1e-4x"}, None, ["bad value '1e-4x' for 'learning_rate'"]),
    ({"tensorboard": "maybe"}, None, ["bad value 'maybe' for 'tensorboard'", "True/False"]),
    ({"patch_w": 0}, None, ["'patch_w'", "positive integer"]),
    ({"batch_size": -4}, None, ["'batch_size'", "positive integer"]),
    ({"num_train_iters": 0}, None, ["'num_train_iters'", "positive integer"]),
    ({"eval_step": -1}, None, ["'eval_step'", "positive integer"]),
    ({"train_size": 0}, None, ["'train_size'", "positive integer"]),
    ({"restore_iter": -3}, None, ["restore_iter must be a non-negative"]),
    ({"seed": -1}, None, ["seed=-1: the seed must be an integer from 0 to 2**32 - 1, or None"]),
    ({"load_workers": -1}, None, ["bad value '-1' for 'load_workers'", "integer >= 0"]),
    ({"patch_w": 63}, None, ["patch_w=63 is not a multiple of 2", "arch=model"]),
    ({"arch": "punet", "patch_h": 48}, None, ["patch_h=48 is not a multiple of 32", "try 32"]),
    ({"patch_w": 128}, None, ["larger than image", "lower patch_w/patch_h"]),
    ({"arch": "unet"}, None, ["unknown arch 'unet'"]),
    ({"num_maps_base": 15}, None, ["num_maps_base=15: arch=model needs an even number"]),
    ({"dataset_dir": "{tmp}/nowhere"}, None, ["dataset folder", "does not exist", "make_demo_data.py"]),
    ({}, _empty_dataset, ["train RAW folder", "does not exist"]),
    ({}, _empty_raw_folder, ["val RAW folder", "holds no PNG files"]),
    ({}, _drop_target, ["train RAW and target folders hold different files", "1 RAW without a target"]),
    ({}, _raw_8bit, ["not a single-channel 16-bit PNG", "{broken}"]),
    ({}, _raw_rgb, ["not a single-channel 16-bit PNG", "{broken}"]),
    ({}, _raw_wrong_size, ["{broken}", "is 96x64 but its target is 64x64"]),
    ({}, _raw_truncated, ["cannot read RAW PNG", "{broken}", "truncated"]),
    ({}, _target_truncated, ["cannot read RGB PNG", "{broken}"]),
    ({}, _not_a_png, ["cannot read RAW PNG", "{broken}"]),
    ({"content_loss": True, "vgg_dir": "{tmp}/none.mat"}, None, ["none.mat", "content_loss=False"]),
    ({"model_dir": "{file}/models"}, None, ["cannot create model_dir", "is not a folder"]),
    ({"model_dir": "{file}"}, None, ["cannot create model_dir", "is not a folder"]),
    ({"save_mid_imgs": True, "result_dir": "{file}/results"}, None, ["cannot create result_dir"]),
]


@pytest.mark.parametrize("change,damage,needles", TRAIN_CASES,
                         ids=["%d-%s" % (i, next(iter(c[0]), None) or c[1].__name__.strip("_"))
                              for i, c in enumerate(TRAIN_CASES)])
def test_train_bad_input_is_one_line_exit_2_nothing_written(change, damage, needles, demo_data, tmp_path):
    root = str(tmp_path / "data")
    shutil.copytree(demo_data, root)
    broken = damage(root) if damage else None
    a_file = str(tmp_path / "a_file")
    with open(a_file, "w") as f:
        f.write("x")
    fill = {"tmp": str(tmp_path), "file": a_file, "broken": broken}
    options = dict(SMALL, dataset_dir=root, model_dir=str(tmp_path / "models"),
                   result_dir=str(tmp_path / "results"))
    options.update({k: str(v).format(**fill) for k, v in change.items()})
    before = sorted(os.listdir(str(tmp_path)))
    proc = run_script("train_model.py", *kv_words(options), cwd=str(tmp_path))
    assert_usage_error(proc, *[n.format(**fill) for n in needles])
    assert sorted(os.listdir(str(tmp_path))) == before  # no model_dir, result_dir or anything else


def _checkpoint_copy(src, dst, old, new):
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        if name.startswith(old):
            shutil.copy(os.path.join(src, name), os.path.join(dst, name.replace(old, new)))


def test_train_checkpoint_errors(trained, demo_data, tmp_path):
    src, _ = trained
    base = dict(SMALL, dataset_dir=demo_data, result_dir=str(tmp_path / "r"), save_mid_imgs=True)
    # restore_iter with no such checkpoint: the error lists the ones that exist
    proc = run_script("train_model.py", *kv_words(dict(base, model_dir=src, restore_iter=3, num_train_iters=8)))
    assert_usage_error(proc, "model_iteration_3.ckpt", "existing model checkpoints: 2, 4")
    # restore_iter beyond num_train_iters
    proc = run_script("train_model.py", *kv_words(dict(base, model_dir=src, restore_iter=4, num_train_iters=4)))
    assert_usage_error(proc, "restore_iter=4 is not below num_train_iters=4")
    # a checkpoint of another num_maps_base, and one of the other arch under this arch's name
    other = str(tmp_path / "other")
    _checkpoint_copy(src, other, "model_iteration_2.ckpt", "model_iteration_2.ckpt")
    _checkpoint_copy(src, other, "model_iteration_2.ckpt", "punet_iteration_2.ckpt")
    before = sorted(os.listdir(other))
    proc = run_script("train_model.py", *kv_words(dict(base, model_dir=other, restore_iter=2, num_train_iters=3,
                                                     num_maps_base=32)))
    assert_usage_error(proc, "does not fit arch=model num_maps_base=32: it was made with arch=model num_maps_base=16")
    proc = run_script("train_model.py", *kv_words(dict(base, model_dir=other, restore_iter=2, num_train_iters=3,
                                                     arch="punet")))
    assert_usage_error(proc, "does not fit arch=punet num_maps_base=16: it was made with arch=model num_maps_base=16")
    assert sorted(os.listdir(other)) == before and not os.path.exists(base["result_dir"])


def test_train_size_larger_than_the_data_warns_and_uses_all(demo_data, tmp_path):
    proc = run_script("train_model.py", *kv_words(dict(SMALL, dataset_dir=demo_data, train_size=500, num_train_iters=1,
                                                     model_dir=str(tmp_path / "m"), tensorboard=False)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "warning: train_size=500 but only 12 training images exist; using all" in proc.stderr


def _latest(model_dir):
    have = existing_iterations(model_dir, "model")
    return have[-1] if have else 0


def _check_nothing_unreadable(model_dir):
    """Every checkpoint that counts as complete restores with finite weights; every log line is whole."""
    for it in existing_iterations(model_dir, "model"):
        reader = ckpt_reader(ckpt_prefix(model_dir, "model", it))
        for name in reader.get_variable_to_shape_map():
            assert np.all(np.isfinite(reader.get_tensor(name))), (it, name)
    logged = 0
    for name in os.listdir(model_dir):
        if name.startswith("logs_") and name.endswith(".txt"):
            with open(os.path.join(model_dir, name)) as f:
                text = f.read()
            assert text.endswith("\n") or not text, name
            for line in text.splitlines():
                assert LOG_LINE.match(line), (name, line)
                logged = max(logged, int(LOG_LINE.match(line).group(1)))
    # the log line is written after its checkpoint: nothing logged is ever missing a checkpoint
    assert _latest(model_dir) >= logged


def test_kill_9_at_different_moments_then_resume(demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, result_dir=str(tmp_path / "r"),
                   save_mid_imgs=True, eval_step=1, summary_step=1, seed=0, restore_iter="latest")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    last = 0
    for delay in (0.0, 0.013, 0.05, 0.11, 0.23, 0.4):
        cmd = [sys.executable, os.path.join(ROOT, "train_model.py")] + kv_words(dict(options, num_train_iters=10 ** 6))
        proc = subprocess.Popen(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, universal_newlines=True)
        try:
            deadline = time.time() + 300
            while _latest(model_dir) <= last and proc.poll() is None and time.time() < deadline:
                time.sleep(0.005)  # wait until this run has saved one checkpoint: it is mid-run
            assert proc.poll() is None, "training ended before it was killed"
            time.sleep(delay)
        finally:
            proc.send_signal(signal.SIGKILL)
            out = proc.communicate()[0]
        assert proc.returncode == -signal.SIGKILL
        if last:  # it went on from the newest checkpoint the previous kill left
            assert "restored %s" % os.path.join(model_dir, "model_iteration_%d.ckpt" % last) in out, out
        _check_nothing_unreadable(model_dir)
        assert _latest(model_dir) > last
        last = _latest(model_dir)
    proc = run_script("train_model.py", *kv_words(dict(options, num_train_iters=last + 3)), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "restored %s" % os.path.join(model_dir, "model_iteration_%d.ckpt" % last) in proc.stdout
    with open(os.path.join(model_dir, "logs_model_%d-%d.txt" % (last, last + 3))) as f:
        assert [int(LOG_LINE.match(l).group(1)) for l in f] == [last + 1, last + 2, last + 3]
    _check_nothing_unreadable(model_dir)
    assert not [n for n in os.listdir(model_dir) if n.startswith(".tmp-") or n.endswith(".tmp")]
    # nothing left to do: restore_iter=latest says so and exits 0
    proc = run_script("train_model.py", *kv_words(dict(options, num_train_iters=last + 3)), cwd=str(tmp_path))
    assert proc.returncode == 0 and "nothing to train" in proc.stdout, proc.stderr[-2000:]


def test_stale_temporaries_of_a_killed_save_are_removed(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    # what a kill during a save leaves: a temporary checkpoint; its iteration does not count
    _checkpoint_copy(src, model_dir, "model_iteration_4.ckpt", ".tmp-model_iteration_6.ckpt")
    os.mkdir(os.path.join(model_dir, ".tmp-model_iteration_6.ckpt_temp"))
    # and a half-written copy of an earlier run's log (another restore_iter, so another name)
    with open(os.path.join(model_dir, "logs_0-1000000.txt.tmp"), "w") as f:
        f.write("step 2 | training lo")
    assert existing_iterations(model_dir, "model") == [2, 4]
    proc = run_script("train_model.py", *kv_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir,
                                                     restore_iter="latest", num_train_iters=5, tensorboard=False)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model_iteration_4.ckpt" in proc.stdout
    assert not [n for n in os.listdir(model_dir) if n.startswith(".tmp-") or n.endswith(".tmp")]
    assert existing_iterations(model_dir, "model") == [2, 4, 5]


def _error_lines(proc):
    return [l for l in proc.stderr.splitlines() if l.strip() and not _is_tf_noise(l)]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    before = {n: open(os.path.join(model_dir, n), "rb").read() for n in os.listdir(model_dir) if ".ckpt" in n}
    # a learning rate of 1e30 makes the weights overflow after the first update
    proc = run_script("train_model.py", *kv_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir,
                                                     restore_iter=4, num_train_iters=20, eval_step=2,
                                                     learning_rate=1e30, tensorboard=False)))
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = _error_lines(proc)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    match = re.search(r"became NaN/Inf at iteration (\d+); stopped without saving \(last good checkpoint: (.*)\)",
                      lines[0])
    assert match, lines[0]
    assert int(match.group(1)) in (5, 6) and match.group(2) == os.path.join(model_dir, "model_iteration_4.ckpt")
    after = {n: open(os.path.join(model_dir, n), "rb").read() for n in os.listdir(model_dir) if ".ckpt" in n}
    assert after == before  # no new checkpoint, the old ones untouched
    # validating every iteration: the update that overflows is caught before it is saved
    fresh = str(tmp_path / "fresh")
    proc = run_script("train_model.py", *kv_words(dict(SMALL, dataset_dir=demo_data, model_dir=fresh, num_train_iters=20,
                                                     eval_step=1, learning_rate=1e30, tensorboard=False)))
    assert proc.returncode == 1 and "became NaN/Inf at iteration 1;" in _error_lines(proc)[0], proc.stderr
    assert "last good checkpoint: none" in proc.stderr
    _check_nothing_unreadable(fresh)
    assert _latest(fresh) == 0


def _train_losses(model_dir, tag="train/loss"):
    tf = import_tf()
    logdir = os.path.join(model_dir, "tensorboard", "model_0-10")
    (events,) = [os.path.join(logdir, f) for f in os.listdir(logdir) if "tfevents" in f]
    return [(e.step, v.simple_value) for e in tf.train.summary_iterator(events) for v in e.summary.value
            if v.tag == tag]


def test_same_seed_gives_the_same_first_ten_losses(demo_data, vgg_mat, tmp_path):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        model_dir = str(tmp_path / name)
        proc = run_script("train_model.py", *kv_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir,
                                                         content_loss=True, vgg_dir=vgg_mat, batch_size=4,
                                                         num_train_iters=10, eval_step=10, summary_step=1,
                                                         seed=seed)))
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs[name] = _train_losses(model_dir)
    assert [s for s, _ in runs["a"]] == list(range(1, 11))
    assert runs["a"] == runs["b"]  # bit-identical losses
    ckpt_a = ckpt_reader(os.path.join(str(tmp_path / "a"), "model_iteration_10.ckpt"))
    ckpt_b = ckpt_reader(os.path.join(str(tmp_path / "b"), "model_iteration_10.ckpt"))
    for name in ckpt_a.get_variable_to_shape_map():  # and bit-identical weights
        assert np.array_equal(ckpt_a.get_tensor(name), ckpt_b.get_tensor(name)), name
    assert runs["a"] != runs["c"]  # and the seed matters


def test_a_second_fresh_run_or_a_branch_never_replaces_an_earlier_run(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    before = sorted(os.listdir(model_dir))
    base = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, tensorboard=False)
    proc = run_script("train_model.py", *kv_words(base))  # a fresh run where arch=model's run is
    assert_usage_error(proc, "already holds an arch=model run (checkpoints of iterations 2, 4; logs_model_0-4.txt",
                       "restore_iter=latest", "another model_dir=", "overwrite=True")
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter=2, num_train_iters=3)))  # a branch
    assert_usage_error(proc, "restore_iter=2:", "later arch=model checkpoints (checkpoints of iteration 4",
                       "restore_iter=latest", "overwrite=True")
    assert sorted(os.listdir(model_dir)) == before
    # asked for: the branch removes the later checkpoint and the runs that started after iteration 2
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter=2, num_train_iters=3, overwrite=True)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "overwrite=True: removed model_iteration_4.ckpt" in proc.stdout
    assert existing_iterations(model_dir, "model") == [2, 3]
    assert {"logs_model_0-4.txt", "logs_model_2-3.txt"} <= set(os.listdir(model_dir))
    # another arch beside it is not an earlier run of its own: its log names its arch
    proc = run_script("train_model.py", *kv_words(dict(base, arch="punet", num_maps_base=4, num_train_iters=1)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.isfile(os.path.join(model_dir, "logs_punet_0-1.txt"))
    assert existing_iterations(model_dir, "model") == [2, 3]


# ---------------------------------------------------------------------------------------------
# issue 16: damaged checkpoints, two runs in one model_dir, SIGTERM/SIGINT, files found bad late,
# a full disk


def _cut_short(prefix):
    (data,) = [p for p in os.listdir(os.path.dirname(prefix)) if p.startswith(os.path.basename(prefix) + ".data-")]
    truncate_file(os.path.join(os.path.dirname(prefix), data))
    return os.path.join(os.path.dirname(prefix), data)


def test_damaged_checkpoint_is_named_or_skipped_for_the_one_before(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    data = _cut_short(ckpt_prefix(model_dir, "model", 4))
    base = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=2, num_train_iters=6, tensorboard=False)
    before = sorted(os.listdir(model_dir))
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter=4)))
    assert_usage_error(proc, "checkpoint %s is damaged" % ckpt_prefix(model_dir, "model", 4), data,
                       "Read less bytes than requested", "existing: 2, 4")
    assert sorted(os.listdir(model_dir)) == before  # nothing written
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter="latest")))
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = [l for l in _error_lines(proc) if l.startswith("warning:")]
    assert len(warnings) == 1 and "model_iteration_4.ckpt is damaged" in warnings[0], proc.stderr
    assert "restored %s" % ckpt_prefix(model_dir, "model", 2) in proc.stdout
    with open(os.path.join(model_dir, "logs_model_2-6.txt")) as f:
        assert [int(LOG_LINE.match(l).group(1)) for l in f] == [4, 6]
    _check_nothing_unreadable(model_dir)  # iteration 4 was written again, whole


def _start_training(options, tmp_path, stderr=subprocess.DEVNULL):
    cmd = [sys.executable, os.path.join(ROOT, "train_model.py")] + kv_words(options)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    return subprocess.Popen(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=stderr,
                            universal_newlines=True)


def _wait_for_log_step(proc, model_dir, step, timeout=300):
    """Wait until the run has logged `step` (it is then in its training loop)."""
    path = os.path.join(model_dir, "logs_model_0-%d.txt" % 10 ** 6)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(path):
            with open(path) as f:
                if any(LOG_LINE.match(l) and int(LOG_LINE.match(l).group(1)) >= step for l in f):
                    return
        time.sleep(0.01)
    raise AssertionError("the run did not log step %d (exit code %s)" % (step, proc.poll()))


def test_second_run_in_one_model_dir_stops_and_kill_9_leaves_no_stale_lock(demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=1, tensorboard=False, seed=0,
                   num_train_iters=10 ** 6)
    first = _start_training(options, tmp_path)
    try:
        _wait_for_log_step(first, model_dir, 1)
        proc = run_script("train_model.py", *kv_words(dict(options, restore_iter="latest")), cwd=str(tmp_path))
        assert_usage_error(proc, "model_dir %r is in use by another training run" % model_dir,
                           "pid %d:" % first.pid, "train_model.py")
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    # the kernel dropped the dead run's lock: the same command now trains
    last = _latest(model_dir)
    proc = run_script("train_model.py", *kv_words(dict(options, restore_iter="latest", num_train_iters=last + 1)),
                      cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "restored %s" % ckpt_prefix(model_dir, "model", last) in proc.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_saves_the_current_iteration_then_resume(signum, demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    name = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT"}[signum]
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=7, tensorboard=False, seed=0,
                   num_train_iters=10 ** 6)
    proc = _start_training(options, tmp_path, stderr=subprocess.PIPE)
    with lines_read_while_running(proc.stderr, proc) as lines:
        _wait_for_log_step(proc, model_dir, 7)
        time.sleep(0.2)  # some steps past the save of iteration 7
        proc.send_signal(signum)
        proc.wait(timeout=300)
    assert proc.returncode == 128 + signum, "".join(lines)[-2000:]
    said = [l for l in lines if "stopped by %s after iteration" % name in l]
    assert len(said) == 1 and "Traceback" not in "".join(lines), "".join(lines)
    match = re.search(r"after iteration (\d+), saved as (\S+); resume with: (.*)$", said[0])
    done = int(match.group(1))
    assert match.group(2) == ckpt_prefix(model_dir, "model", done) and _latest(model_dir) == done
    assert match.group(3).startswith("python train_model.py ") and match.group(3).endswith(" restore_iter=latest")
    assert "model_dir=%s" % model_dir in match.group(3)
    with open(os.path.join(model_dir, "logs_model_0-%d.txt" % 10 ** 6)) as f:
        last_line = f.read().splitlines()[-1]
    assert int(LOG_LINE.match(last_line).group(1)) == done
    if done % 7:  # not a regular save: the log line says what it was
        assert last_line.endswith("| interrupt save (%s)" % name), last_line
    _check_nothing_unreadable(model_dir)
    assert not [n for n in os.listdir(model_dir) if n.startswith(".tmp-") or n.endswith(".tmp")]
    # resume it the way the line says
    proc = run_script("train_model.py", *kv_words(dict(options, restore_iter="latest", num_train_iters=done + 1)),
                      cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "restored %s" % ckpt_prefix(model_dir, "model", done) in proc.stdout
    assert _latest(model_dir) == done + 1


def test_a_second_signal_stops_at_once(demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=3, tensorboard=False,
                   num_train_iters=10 ** 6)
    proc = _start_training(options, tmp_path, stderr=subprocess.PIPE)
    with lines_read_while_running(proc.stderr, proc) as lines:
        _wait_for_log_step(proc, model_dir, 3)
        proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 120
        while not any("finishing the current step" in l for l in lines) and time.time() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
    assert any("SIGTERM: finishing the current step" in l for l in lines), "".join(lines)
    assert proc.returncode == -signal.SIGTERM, "".join(lines)[-2000:]  # killed by the second one
    assert not any("stopped by SIGTERM" in l for l in lines)
    _check_nothing_unreadable(model_dir)


def test_training_files_found_bad_after_the_start_are_skipped_up_to_1_percent(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    data = str(tmp_path / "data")
    shutil.copytree(demo_data, data)
    raws = os.path.join(data, "train", RAW_SUB)
    names = sorted(os.listdir(raws))
    truncate_file(os.path.join(raws, names[3]))  # header fine, data cut short
    # a resumed run's patches (like every re-draw) skip it: 1 of 12 files is allowed (1%, at least one)
    base = dict(SMALL, dataset_dir=data, model_dir=model_dir, eval_step=2, tensorboard=False)
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter=4, num_train_iters=6)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = [l for l in _error_lines(proc) if l.startswith("warning:")]
    assert len(warnings) == 1, proc.stderr
    assert "skipping training file %s" % names[3] in warnings[0] and "cannot read RAW PNG" in warnings[0]
    assert "1 of 12 training files skipped so far, the run stops above 1 (1%)" in warnings[0]
    with open(os.path.join(model_dir, "logs_model_4-6.txt")) as f:
        assert f.read().splitlines()[-1].endswith("| skipped 1 bad training file")
    # a second bad file is more than the share: one line naming both, exit 2, nothing written
    truncate_file(os.path.join(raws, names[7]))
    before = sorted(os.listdir(model_dir))
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter=6, num_train_iters=8)))
    assert_usage_error(proc, "2 of the 12 training files cannot be decoded, more than 1% (at most 1 may be skipped)",
                       names[3], names[7], "restore_iter=latest")
    assert sorted(os.listdir(model_dir)) == before


@pytest.mark.parametrize("what", ["checkpoint", "log"])
def test_a_full_disk_while_saving_is_one_line_and_leaves_the_earlier_checkpoints(what, demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    cmd = [sys.executable, os.path.join(ROOT, "tests", "enospc_harness.py")] + kv_words(
        dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=2, num_train_iters=6, tensorboard=False))
    proc = subprocess.run(cmd, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", ENOSPC_AT="4", ENOSPC_WHAT=what),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = _error_lines(proc)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "No space left on device" in lines[0] and "resume with restore_iter=latest" in lines[0], lines[0]
    if what == "checkpoint":
        assert "cannot write checkpoint %s" % ckpt_prefix(model_dir, "model", 4) in lines[0]
        assert existing_iterations(model_dir, "model") == [2]
    else:
        assert "cannot append to the log" in lines[0]
        assert existing_iterations(model_dir, "model") == [2, 4]
    with open(os.path.join(model_dir, "logs_model_0-6.txt")) as f:
        assert [int(LOG_LINE.match(l).group(1)) for l in f] == [2]
    assert not [n for n in os.listdir(model_dir) if n.startswith(".tmp-") or n.endswith(".tmp")], os.listdir(model_dir)
    _check_nothing_unreadable(model_dir)


# ---------------------------------------------------------------------------------------------
# issue 15: the patch pool is re-drawn in the background. tests/pool_harness.py runs the script
# with the pool re-drawn every few iterations instead of every 1000, and records each pool built
# (its iteration, a digest of its patches, the thread that built it) and the loader's threads still
# alive when the process ends.

POOL_HARNESS = os.path.join(ROOT, "tests", "pool_harness.py")


def _pooled_command(options, dump, every):
    cmd = [sys.executable, POOL_HARNESS] + kv_words(options)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", POOL_EVERY=str(every), POOL_DUMP=dump)
    return cmd, env


def _run_pooled(options, dump, every, cwd):
    cmd, env = _pooled_command(options, dump, every)
    return subprocess.run(cmd, cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=600)


def _dumped(dump):
    """(the pools built, in order, as dicts; the loader threads alive at each exit)."""
    with open(dump) as f:
        records = [json.loads(line) for line in f]
    return [r for r in records if "pool" in r], [r["threads_at_exit"] for r in records if "threads_at_exit" in r]


@pytest.fixture(scope="module")
def pooled_runs(demo_data, tmp_path_factory):
    """The same seeded run to iteration 10, pools re-drawn every 3 iterations, loaded in the loop
    (load_workers=0) and in the background (load_workers=2): {workers: (model_dir, dump, process)}."""
    base = tmp_path_factory.mktemp("pooled")
    runs = {}
    for workers in (0, 2):
        model_dir, dump = str(base / ("m%d" % workers)), str(base / ("pools%d.jsonl" % workers))
        options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, train_size=6, num_train_iters=10,
                       eval_step=5, summary_step=1, seed=0, load_workers=workers)
        runs[workers] = (model_dir, dump, _run_pooled(options, dump, 3, base))
    return runs


def test_the_background_loader_gives_the_same_pools_and_losses_as_loading_in_the_loop(pooled_runs):
    for workers, (model_dir, dump, proc) in pooled_runs.items():
        assert proc.returncode == 0, proc.stderr[-2000:]
        pools, exits = _dumped(dump)
        assert [p["pool"] for p in pools] == [0, 3, 6, 9]  # re-drawn at every multiple of the period
        assert [p["n"] for p in pools] == [6] * 4
        built_by = [p["thread"] for p in pools]
        assert built_by == (["MainThread"] * 4 if workers == 0 else ["MainThread", "pool-loader-3", "pool-loader-6",
                                                                       "pool-loader-9"]), built_by
        assert exits == [[]]  # no loader thread outlives a normal end
        # the wait at each re-draw: in TensorBoard at the re-draw's iteration, and in the log lines
        assert [s for s, _ in _train_losses(model_dir, "train/data_wait_s")] == [3, 6, 9]
        rows = read_log_lines(os.path.join(model_dir, "logs_model_0-10.txt"))
        assert [r["step"] for r in rows] == [5, 10] and all(r["data_wait_s"] is not None for r in rows)
    (_, dump0, _), (_, dump2, _) = pooled_runs[0], pooled_runs[2]
    assert [p["sha"] for p in _dumped(dump0)[0]] == [p["sha"] for p in _dumped(dump2)[0]]  # the same patches
    assert len(set(p["sha"] for p in _dumped(dump0)[0])) == 4  # and each pool its own
    losses0, losses2 = _train_losses(pooled_runs[0][0]), _train_losses(pooled_runs[2][0])
    assert [s for s, _ in losses0] == list(range(1, 11))
    assert losses0 == losses2  # bit-identical


def test_a_resumed_run_trains_on_the_pools_the_uninterrupted_run_had(pooled_runs, demo_data, tmp_path):
    src, dump, _ = pooled_runs[2]
    model_dir = str(tmp_path / "m")
    _checkpoint_copy(src, model_dir, "model_iteration_5.ckpt", "model_iteration_5.ckpt")  # as if killed after 5
    resumed = str(tmp_path / "pools.jsonl")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, train_size=6, num_train_iters=10,
                   eval_step=5, seed=0, load_workers=2, restore_iter=5, tensorboard=False)
    proc = _run_pooled(options, resumed, 3, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pools, exits = _dumped(resumed)
    # from iteration 5 it trains on the pool of iteration 3 (the period counts from 0, not from the start)
    assert [p["pool"] for p in pools] == [3, 6, 9] and exits == [[]]
    uninterrupted = {p["pool"]: p["sha"] for p in _dumped(dump)[0]}
    assert [p["sha"] for p in pools] == [uninterrupted[p["pool"]] for p in pools]


def test_the_loader_stops_when_the_loop_ends_in_an_error_or_by_sigterm(demo_data, tmp_path):
    # an error inside the loop (a NaN at iteration 1) while the next pool is being built
    dump = str(tmp_path / "nan.jsonl")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=str(tmp_path / "nan"), num_train_iters=20, eval_step=1,
                   learning_rate=1e30, tensorboard=False, load_workers=2)
    proc = _run_pooled(options, dump, 2, tmp_path)
    assert proc.returncode == 1 and "became NaN/Inf at iteration 1;" in _error_lines(proc)[0], proc.stderr
    assert len(_error_lines(proc)) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert _dumped(dump)[1] == [[]]
    # SIGTERM with pools built in the background all the time: saved, stopped, no thread left
    model_dir, dump = str(tmp_path / "term"), str(tmp_path / "term.jsonl")
    cmd, env = _pooled_command(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=7, seed=0,
                                    tensorboard=False, load_workers=2, num_train_iters=10 ** 6), dump, 2)
    proc = subprocess.Popen(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    with lines_read_while_running(proc.stderr, proc) as lines:
        _wait_for_log_step(proc, model_dir, 7)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, "".join(lines)[-2000:]
    assert sum("stopped by SIGTERM after iteration" in l for l in lines) == 1, "".join(lines)
    assert "Traceback" not in "".join(lines)
    pools, exits = _dumped(dump)
    assert exits == [[]] and len(pools) >= 4 and [p["pool"] for p in pools] == list(range(0, 2 * len(pools), 2))
    _check_nothing_unreadable(model_dir)


def _pool_names(demo_data, iteration, train_size):
    """The training files the pool of `iteration` draws (seed 0, no file known bad)."""
    names = load_dataset.paired_names(demo_data, "train", RAW_SUB, RGB_SUB)
    return load_dataset.draw_training_pool(names, train_size, train_model.PoolDraws({}, 0).rng(iteration))[0]


def test_a_bad_file_met_by_the_background_loader_is_skipped_or_stops_the_run_in_one_line(demo_data, tmp_path):
    # files that the second pool draws and the first does not: the start-up check cannot see them
    later = [n for n in _pool_names(demo_data, 2, 6) if n not in _pool_names(demo_data, 0, 6)]
    assert len(later) >= 2, later
    data = str(tmp_path / "data")
    shutil.copytree(demo_data, data)
    raws = os.path.join(data, "train", RAW_SUB)
    truncate_file(os.path.join(raws, later[0]))
    model_dir, dump = str(tmp_path / "m"), str(tmp_path / "pools.jsonl")
    base = dict(SMALL, dataset_dir=data, train_size=6, eval_step=2, seed=0, tensorboard=False, load_workers=2)
    proc = _run_pooled(dict(base, model_dir=model_dir, num_train_iters=4), dump, 2, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = [l for l in _error_lines(proc) if l.startswith("warning:")]
    assert "Traceback" not in proc.stderr and len(warnings) == 1, proc.stderr
    warning = warnings[0]
    assert warning.startswith("warning: skipping training file %s (cannot read RAW PNG" % later[0]), warning
    assert "1 of 12 training files skipped so far, the run stops above 1 (1%)" in warning
    pools, exits = _dumped(dump)
    assert [(p["pool"], p["thread"], p["new_bad"], p["n"]) for p in pools] == [
        (0, "MainThread", [], 6), (2, "pool-loader-2", [later[0]], 5)] and exits == [[]]
    with open(os.path.join(model_dir, "logs_model_0-4.txt")) as f:
        lines = f.read().splitlines()
    assert "skipped" not in lines[0] and lines[1].endswith("| skipped 1 bad training file"), lines
    # a second one in the same pool is more than the share: one line naming both, at the swap
    truncate_file(os.path.join(raws, later[1]))
    model_dir, dump = str(tmp_path / "m2"), str(tmp_path / "pools2.jsonl")
    proc = _run_pooled(dict(base, model_dir=model_dir, num_train_iters=6), dump, 2, tmp_path)
    assert_usage_error(proc, "2 of the 12 training files cannot be decoded, more than 1% (at most 1 may be skipped)",
                       later[0], later[1], "restore_iter=latest")
    assert existing_iterations(model_dir, "model") == [2] and _dumped(dump)[1] == [[]]
    _check_nothing_unreadable(model_dir)
