"""Issue 6: every bad input is one line + exit 2 with nothing written; kill -9 and resume; NaN
stops training without saving it; same seed, same losses. Each case runs the script as a user
types it (a subprocess), on whichever stack runs pytest."""
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

from conftest import ROOT, _is_tf_noise, assert_usage_error, run_script
from test_train import LOG_LINE, _reader

RAW_SUB, RGB_SUB = "mediatek_raw", "fujifilm"
SMALL = {"patch_w": 64, "patch_h": 64, "batch_size": 2, "train_size": 12, "num_train_iters": 2,
         "content_loss": False}


def _words(options):
    return ["%s=%s" % kv for kv in options.items()]


def _first(folder):
    return os.path.join(folder, sorted(os.listdir(folder))[0])


def _truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:  # the header survives: only decoding finds it
        f.write(data[:len(data) // 2])


def _save(path, array):
    Image.fromarray(array).save(path)


# dataset damage: (description, function(dataset_root) -> the file it broke or None)
def _drop_target(root):
    os.remove(_first(os.path.join(root, "train", RGB_SUB)))


def _raw_8bit(root):
    path = _first(os.path.join(root, "train", RAW_SUB))
    _save(path, np.zeros((64, 64), np.uint8))
    return path


def _raw_rgb(root):
    path = _first(os.path.join(root, "val", RAW_SUB))
    _save(path, np.zeros((64, 64, 3), np.uint8))
    return path


def _raw_wrong_size(root):
    path = _first(os.path.join(root, "train", RAW_SUB))
    _save(path, np.zeros((64, 96), np.uint16))
    return path


def _raw_truncated(root):
    path = _first(os.path.join(root, "train", RAW_SUB))
    _truncate(path)
    return path


def _target_truncated(root):
    path = _first(os.path.join(root, "val", RGB_SUB))
    _truncate(path)
    return path


def _not_a_png(root):
    path = _first(os.path.join(root, "val", RAW_SUB))
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
    proc = run_script("train_model.py", *_words(options), cwd=str(tmp_path))
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
    proc = run_script("train_model.py", *_words(dict(base, model_dir=src, restore_iter=3, num_train_iters=8)))
    assert_usage_error(proc, "model_iteration_3.ckpt", "existing model checkpoints: 2, 4")
    # restore_iter beyond num_train_iters
    proc = run_script("train_model.py", *_words(dict(base, model_dir=src, restore_iter=4, num_train_iters=4)))
    assert_usage_error(proc, "restore_iter=4 is not below num_train_iters=4")
    # a checkpoint of another num_maps_base, and one of the other arch under this arch's name
    other = str(tmp_path / "other")
    _checkpoint_copy(src, other, "model_iteration_2.ckpt", "model_iteration_2.ckpt")
    _checkpoint_copy(src, other, "model_iteration_2.ckpt", "punet_iteration_2.ckpt")
    before = sorted(os.listdir(other))
    proc = run_script("train_model.py", *_words(dict(base, model_dir=other, restore_iter=2, num_train_iters=3,
                                                     num_maps_base=32)))
    assert_usage_error(proc, "does not fit arch=model num_maps_base=32: it was made with arch=model num_maps_base=16")
    proc = run_script("train_model.py", *_words(dict(base, model_dir=other, restore_iter=2, num_train_iters=3,
                                                     arch="punet")))
    assert_usage_error(proc, "does not fit arch=punet num_maps_base=16: it was made with arch=model num_maps_base=16")
    assert sorted(os.listdir(other)) == before and not os.path.exists(base["result_dir"])


def test_test_model_bad_files_and_folders(trained, demo_data, tmp_path):
    model_dir, _ = trained
    root = str(tmp_path / "data")
    shutil.copytree(demo_data, root)
    a_file = str(tmp_path / "a_file")
    with open(a_file, "w") as f:
        f.write("x")
    base = {"dataset_dir": root, "model_dir": model_dir, "result_dir": str(tmp_path / "res"),
            "img_h": 128, "img_w": 192}
    cases = [({"img_w": 0}, "positive integer"), ({"img_w": 191}, "img_w=191 is not a multiple of 2"),
             ({"result_dir": a_file + "/res"}, "cannot create result_dir")]
    for change, needle in cases:
        assert_usage_error(run_script("test_model.py", *_words(dict(base, **change))), needle)
    test_raw = _first(os.path.join(root, "test", "fujifilm_full_resolution"))
    _save(test_raw, np.zeros((128, 192), np.uint8))
    assert_usage_error(run_script("test_model.py", *_words(base)), "not a single-channel 16-bit PNG",
                       os.path.basename(test_raw))
    _save(test_raw, np.zeros((128, 192), np.uint16))
    _truncate(test_raw)
    assert_usage_error(run_script("test_model.py", *_words(base)), "cannot read RAW PNG", test_raw)
    assert not os.path.exists(base["result_dir"])


def test_train_size_larger_than_the_data_warns_and_uses_all(demo_data, tmp_path):
    proc = run_script("train_model.py", *_words(dict(SMALL, dataset_dir=demo_data, train_size=500, num_train_iters=1,
                                                     model_dir=str(tmp_path / "m"), tensorboard=False)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "warning: train_size=500 but only 12 training images exist; using all" in proc.stderr


# ---------------------------------------------------------------------------------------------
# faults


def _latest(model_dir):
    import train_model
    have = train_model.existing_iterations(model_dir, "model")
    return have[-1] if have else 0


def _check_nothing_unreadable(model_dir):
    """Every checkpoint that counts as complete restores with finite weights; every log line is whole."""
    import train_model
    for it in train_model.existing_iterations(model_dir, "model"):
        reader = _reader(train_model.ckpt_prefix(model_dir, "model", it))
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
        cmd = [sys.executable, os.path.join(ROOT, "train_model.py")] + _words(dict(options, num_train_iters=10 ** 6))
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
    proc = run_script("train_model.py", *_words(dict(options, num_train_iters=last + 3)), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "restored %s" % os.path.join(model_dir, "model_iteration_%d.ckpt" % last) in proc.stdout
    with open(os.path.join(model_dir, "logs_%d-%d.txt" % (last, last + 3))) as f:
        assert [int(LOG_LINE.match(l).group(1)) for l in f] == [last + 1, last + 2, last + 3]
    _check_nothing_unreadable(model_dir)
    assert not [n for n in os.listdir(model_dir) if n.startswith(".tmp-") or n.endswith(".tmp")]
    # nothing left to do: restore_iter=latest says so and exits 0
    proc = run_script("train_model.py", *_words(dict(options, num_train_iters=last + 3)), cwd=str(tmp_path))
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
    import train_model
    assert train_model.existing_iterations(model_dir, "model") == [2, 4]
    proc = run_script("train_model.py", *_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir,
                                                     restore_iter="latest", num_train_iters=5, tensorboard=False)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model_iteration_4.ckpt" in proc.stdout
    assert not [n for n in os.listdir(model_dir) if n.startswith(".tmp-") or n.endswith(".tmp")]
    assert train_model.existing_iterations(model_dir, "model") == [2, 4, 5]


def _error_lines(proc):
    return [l for l in proc.stderr.splitlines() if l.strip() and not _is_tf_noise(l)]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    before = {n: open(os.path.join(model_dir, n), "rb").read() for n in os.listdir(model_dir) if ".ckpt" in n}
    # a learning rate of 1e30 makes the weights overflow after the first update
    proc = run_script("train_model.py", *_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir,
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
    proc = run_script("train_model.py", *_words(dict(SMALL, dataset_dir=demo_data, model_dir=fresh, num_train_iters=20,
                                                     eval_step=1, learning_rate=1e30, tensorboard=False)))
    assert proc.returncode == 1 and "became NaN/Inf at iteration 1;" in _error_lines(proc)[0], proc.stderr
    assert "last good checkpoint: none" in proc.stderr
    _check_nothing_unreadable(fresh)
    assert _latest(fresh) == 0


def _train_losses(model_dir, tag="train/loss"):
    from utils import import_tf
    tf = import_tf()
    logdir = os.path.join(model_dir, "tensorboard", "model_0-10")
    (events,) = [os.path.join(logdir, f) for f in os.listdir(logdir) if "tfevents" in f]
    return [(e.step, v.simple_value) for e in tf.train.summary_iterator(events) for v in e.summary.value
            if v.tag == tag]


def test_same_seed_gives_the_same_first_ten_losses(demo_data, vgg_mat, tmp_path):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        model_dir = str(tmp_path / name)
        proc = run_script("train_model.py", *_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir,
                                                         content_loss=True, vgg_dir=vgg_mat, batch_size=4,
                                                         num_train_iters=10, eval_step=10, summary_step=1,
                                                         seed=seed)))
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs[name] = _train_losses(model_dir)
    assert [s for s, _ in runs["a"]] == list(range(1, 11))
    assert runs["a"] == runs["b"]  # bit-identical losses
    ckpt_a = _reader(os.path.join(str(tmp_path / "a"), "model_iteration_10.ckpt"))
    ckpt_b = _reader(os.path.join(str(tmp_path / "b"), "model_iteration_10.ckpt"))
    for name in ckpt_a.get_variable_to_shape_map():  # and bit-identical weights
        assert np.array_equal(ckpt_a.get_tensor(name), ckpt_b.get_tensor(name)), name
    assert runs["a"] != runs["c"]  # and the seed matters
