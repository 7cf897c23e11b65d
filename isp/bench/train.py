"""The train_model.py command line of benchmark.py's training runs (quality and horovod modes): the
one place that says how a benchmark trains, so that both modes train alike."""
import os
import sys

from isp import ROOT

TRAIN_MODEL = os.path.join(ROOT, "train_model.py")


def train_command(arch, nmb, seed, model_dir, iters, eval_step, *extra, dataset_dir, batch_size, patch):
    """[python, train_model.py, key=value ...]: arch with nmb base maps trained in model_dir up to
    `iters` iterations, validating every `eval_step`, on dataset_dir with batch_size square patches
    of side `patch`, without the VGG content loss or TensorBoard; then the words `extra`."""
    return [sys.executable, TRAIN_MODEL, "arch=" + arch, "num_maps_base=%d" % nmb,
            "dataset_dir=" + dataset_dir, "model_dir=" + model_dir, "tensorboard=False",
            "content_loss=False", "batch_size=%d" % batch_size, "patch_w=%d" % patch,
            "patch_h=%d" % patch, "train_size=100000", "eval_step=%d" % eval_step,
            "num_train_iters=%d" % iters, "seed=%d" % seed] + list(extra)
