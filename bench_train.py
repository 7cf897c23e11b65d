"""The train_model.py command line of benchmark.py's training runs (quality and horovod modes): the
one place that says how a benchmark trains, so that both modes train alike."""
import os
import sys

TRAIN_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_model.py")


def train_command(a, arch, nmb, seed, model_dir, iters, eval_step, *extra):
    """[python, train_model.py, key=value ...]: arch with nmb base maps trained in model_dir up to
    `iters` iterations, validating every `eval_step`, on the data, batch and square patches of the
    benchmark's arguments `a`, without the VGG content loss or TensorBoard; then the words `extra`."""
    return [sys.executable, TRAIN_MODEL, "arch=" + arch, "num_maps_base=%d" % nmb,
            "dataset_dir=" + a["dataset_dir"], "model_dir=" + model_dir, "tensorboard=False",
            "content_loss=False", "batch_size=%d" % a["batch_size"], "patch_w=%d" % a["patch"],
            "patch_h=%d" % a["patch"], "train_size=100000", "eval_step=%d" % eval_step,
            "num_train_iters=%d" % iters, "seed=%d" % seed] + list(extra)
