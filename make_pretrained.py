"""Retrain the network that `test_model.py orig=True` loads: models/original/model_pretrained.ckpt.

    python make_pretrained.py                                  # the committed one's recipe
    python make_pretrained.py out=models/original/model_pretrained.ckpt overwrite=True

Three steps, each in <work_dir>: the demo data (make_demo_data.py train_count=1000 val_count=48,
every effect on), arch=model trained on it (batch 8, 128x128 patches, no VGG loss, validation every
1000 iterations), then the last checkpoint, read back into arch=model, written to `out` with a note
<out>.txt saying what it was trained on. Interrupted, the same command continues where it stopped.
The pairs are synthetic (photos that scikit-image and matplotlib ship, through an inverse ISP): the
network is a first look, a start for fine-tuning (train_model.py init_from=...) and a file to export,
not a model of any real phone.
"""
import os
import sys

from isp.args import Arg, parse_args, positive_float, positive_int, to_bool
from isp.errors import Interrupted, RunFailure, UsageError, child_with_signals, run_main
from isp.checkpoints import ckpt_prefix, export_weights
from isp.tfimport import import_tf
from isp.train_log import read_log_lines, run_logs
from isp.utils import atomic_write_text

HERE = os.path.dirname(os.path.abspath(__file__))
ARGS = [
    Arg("work_dir", str, "models/pretrain/", "data and training run (kept: run again to continue)"),
    Arg("out", str, "models/original/model_pretrained.ckpt", "the checkpoint to write (and <out>.txt)"),
    Arg("num_train_iters", positive_int, 20000, "training iterations"),
    Arg("learning_rate", positive_float, 1e-4, "Adam learning rate"),
    Arg("seed", int, 0, "seed of the data and of the training"),
    Arg("overwrite", to_bool, False, "replace an existing `out`"),
]
DATA_KEYS = ["train_count=1000", "val_count=48"]
TRAIN_KEYS = ["arch=model", "num_maps_base=16", "content_loss=False", "batch_size=8", "patch_w=128", "patch_h=128",
              "train_size=100000", "eval_step=1000", "tensorboard=False"]


def main(argv):
    a = parse_args(ARGS, argv, prog="make_pretrained.py", doc=__doc__)
    if not a["out"].endswith(".ckpt"):
        raise UsageError("out=%s: name the checkpoint <something>.ckpt" % a["out"])
    if os.path.exists(a["out"] + ".index") and not a["overwrite"]:
        raise UsageError("%s exists; pass overwrite=True to replace it, or choose another out=" % a["out"])
    data = os.path.join(a["work_dir"], "data")
    run_dir = os.path.join(a["work_dir"], "run")
    data_recipe = " ".join(DATA_KEYS + ["seed=%d" % a["seed"]])
    run_recipe = "learning_rate=%g seed=%d" % (a["learning_rate"], a["seed"])
    # a work_dir made with other keys would be continued under this command's note: refused
    same_recipe(os.path.join(data, ".complete"), data_recipe, "data")
    same_recipe(os.path.join(a["work_dir"], "run_recipe.txt"), run_recipe, "training run")
    if not os.path.exists(os.path.join(data, ".complete")):
        print("== 1/3 demo data -> %s" % data, flush=True)
        step(["make_demo_data.py", "out=" + data, "overwrite=True"] + data_recipe.split())
        atomic_write_text(os.path.join(data, ".complete"), data_recipe + "\n")
    else:
        print("== 1/3 demo data: using %s" % data, flush=True)
    atomic_write_text(os.path.join(a["work_dir"], "run_recipe.txt"), run_recipe + "\n")
    print("== 2/3 training arch=model to %d iterations in %s" % (a["num_train_iters"], run_dir), flush=True)
    step(["train_model.py"] + TRAIN_KEYS + [
        "dataset_dir=" + data, "model_dir=" + run_dir, "result_dir=" + os.path.join(run_dir, "previews"),
        "num_train_iters=%d" % a["num_train_iters"], "restore_iter=latest"] + run_recipe.split())
    print("== 3/3 weights -> %s" % a["out"], flush=True)
    last = last_validation(run_dir, a["num_train_iters"])
    note = ("arch=model num_maps_base=16, %d iterations on synthetic pairs from the demo photos (not MAI21): "
            "a first look, a start for fine-tuning and the export path, not a model of a real phone\n"
            "made by: python make_pretrained.py num_train_iters=%d %s\n"
            "data: make_demo_data.py %s; training: train_model.py %s %s\n%s"
            % (a["num_train_iters"], a["num_train_iters"], run_recipe, data_recipe, " ".join(TRAIN_KEYS), run_recipe,
               "validation at iteration %d: PSNR %.2f dB, SSIM %.4f\n" % (last["step"], last["psnr"], last["ssim"])
               if last else ""))
    export_weights(import_tf(), "model", 16, ckpt_prefix(run_dir, "model", a["num_train_iters"]), a["out"])
    atomic_write_text(a["out"] + ".txt", note)
    print("wrote %s and %s.txt" % (a["out"], a["out"]))


def same_recipe(path, recipe, what):
    """UsageError when `path` records another recipe than this command's."""
    if os.path.exists(path):
        with open(path) as f:
            had = f.read().strip()
        if had != recipe:
            raise UsageError("the %s in %s was made with %s, not %s; choose another work_dir= (or give the "
                             "keys it was made with)" % (what, os.path.dirname(path), had, recipe))


def last_validation(run_dir, iteration):
    """The log row of `iteration` from whichever of the run's logs holds it (a resumed run logs
    to logs_model_<start>-<end>.txt); None if none does."""
    rows = [row for _, _, path in run_logs(run_dir, "model") for row in read_log_lines(path)
            if row["step"] == iteration]
    return rows[-1] if rows else None


def step(words):
    """Run one of the project's scripts with this Python. It runs in a session of its own and each
    SIGINT/SIGTERM this process gets is passed on once, so that a Ctrl-C reaches the training once
    (it saves, then stops) and not twice (which would stop it unsaved)."""
    with child_with_signals([sys.executable, os.path.join(HERE, words[0])] + words[1:]) as (proc, _):
        rc = proc.wait()
    if rc < 0 or rc >= 128:  # stopped by a signal (directly, or after saving)
        signum = -rc if rc < 0 else rc - 128
        raise Interrupted("%s stopped by a signal; run the same command again to continue" % words[0], signum)
    if rc != 0:
        raise RunFailure("%s exited with %d (see above); fix that and run the same command again to continue"
                         % (words[0], rc))


if __name__ == "__main__":
    run_main(main)
