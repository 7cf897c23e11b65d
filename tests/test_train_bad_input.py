"""train_model.py on bad input: every bad key, value, dataset or checkpoint is one line + exit 2
with nothing written; training files found bad after the start are skipped up to 1%."""
import os
import shutil
import sys

import numpy as np
import pytest
from conftest import (
    RAW_SUB,
    ROOT,
    RGB_SUB,
    SMALL,
    assert_usage_error,
    copy_checkpoint,
    error_lines,
    first_file,
    kv_words,
    log_lines,
    run_script,
    save_image,
    truncate_file,
)


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
    copy_checkpoint(src, other, "model_iteration_2.ckpt", "model_iteration_2.ckpt")
    copy_checkpoint(src, other, "model_iteration_2.ckpt", "punet_iteration_2.ckpt")
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
    warnings = [l for l in error_lines(proc) if l.startswith("warning:")]
    assert len(warnings) == 1, proc.stderr
    assert "skipping training file %s" % names[3] in warnings[0] and "cannot read RAW PNG" in warnings[0]
    assert "1 of 12 training files skipped so far, the run stops above 1 (1%)" in warnings[0]
    # the note among the line's fields (the run's first line also ends with the checkpoint's size)
    assert "skipped 1 bad training file" in log_lines(os.path.join(model_dir, "logs_model_4-6.txt"))[-1].split(" | ")
    # a second bad file is more than the share: one line naming both, exit 2, nothing written
    truncate_file(os.path.join(raws, names[7]))
    before = sorted(os.listdir(model_dir))
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter=6, num_train_iters=8)))
    assert_usage_error(proc, "2 of the 12 training files cannot be decoded, more than 1% (at most 1 may be skipped)",
                       names[3], names[7], "restore_iter=latest")
    assert sorted(os.listdir(model_dir)) == before


def test_init_from_errors(trained, demo_data, tmp_path):
    src, _ = trained
    init = os.path.join(src, "model_iteration_2.ckpt")
    model_dir = str(tmp_path / "m")
    base = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, tensorboard=False, init_from=init)
    # init_from starts a fresh run; restore_iter=N resumes one
    proc = run_script("train_model.py", *kv_words(dict(base, model_dir=src, restore_iter=2, num_train_iters=8)))
    assert_usage_error(proc, "init_from=%s starts a fresh run, but restore_iter=2 resumes one" % init)
    missing = str(tmp_path / "pretrained.ckpt")
    proc = run_script("train_model.py", *kv_words(dict(base, init_from=missing)))
    assert_usage_error(proc, "init_from=%s: no such checkpoint (%s.index does not exist)" % (missing, missing))
    # a checkpoint of another num_maps_base or arch: the restore error of every script
    proc = run_script("train_model.py", *kv_words(dict(base, num_maps_base=32)))
    assert_usage_error(proc, "checkpoint %s does not fit arch=model num_maps_base=32: it was made with arch=model "
                       "num_maps_base=16" % init)
    proc = run_script("train_model.py", *kv_words(dict(base, arch="punet")))
    assert_usage_error(proc, "does not fit arch=punet num_maps_base=16: it was made with arch=model num_maps_base=16")
    damaged = str(tmp_path / "d")
    copy_checkpoint(src, damaged, "model_iteration_2.ckpt", "model_iteration_2.ckpt")
    (data,) = [n for n in os.listdir(damaged) if ".data-" in n]
    truncate_file(os.path.join(damaged, data))
    proc = run_script("train_model.py", *kv_words(dict(base, init_from=os.path.join(damaged, "model_iteration_2.ckpt"))))
    assert_usage_error(proc, "init_from=%s: checkpoint" % os.path.join(damaged, "model_iteration_2.ckpt"), "is damaged")
    assert not os.path.exists(model_dir)  # nothing written


def _shadow(tmp_path, module):
    """A PYTHONPATH on which `module` cannot be imported, as in a Python without it installed."""
    fake = tmp_path / "shadow" / module
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named '%s'\", name=%r)\n" % (module, module))
    return str(tmp_path / "shadow")


@pytest.mark.parametrize("module", ["numpy", "tensorflow"])
def test_a_python_without_the_projects_modules_gets_one_line_naming_the_set_up(module, demo_data, tmp_path):
    """Run with a Python that lacks numpy (imported at the top of the script) or TensorFlow
    (imported in main): one line naming the set-up command, nothing written."""
    work = tmp_path / "work"
    work.mkdir()
    proc = run_script("train_model.py", *kv_words(dict(SMALL, dataset_dir=demo_data, model_dir="m")),
                      cwd=str(work), env={"PYTHONPATH": _shadow(tmp_path, module)})
    assert_usage_error(proc, "No module named '%s' in this Python (%s)" % (module, sys.executable),
                       "bash %s %s" % (os.path.join(ROOT, "setup_env.sh"),
                                       "tf1" if sys.version_info[:2] == (3, 7) else "tf2"))
    assert os.listdir(str(work)) == []
