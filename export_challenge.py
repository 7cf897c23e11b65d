"""Write the MAI21 challenge's two TFLite files (and, for arch=model, the tile file a phone app
renders full-size photos with) from a checkpoint, each checked against the TF graph.

    python export_challenge.py arch=model restore_iter=1000 out_dir=models/challenge/

Writes into out_dir:
  model_none.tflite  input `Placeholder` [1, None, None, 4] -> `output_l0` [1, None, None, 3]: any size,
                     used by the challenge to score quality at each image's own size;
  model.tflite       input [1, img_h/2, img_w/2, 4] -> [1, img_h, img_w, 3] (1920x1088, W x H, by default):
                     used to time the model.
  model_tiled.tflite (arch=model) the file a phone app renders full-size photos with, tile by tile:
                     model.tflite's network and size with a second input `log_light` [1, 1, 1, 4],
                     the log of the whole photo's light (README section 2; inference_tflite.py tile=True does it).
                     Its FP16 (the GPU delegate's) and INT8 forms: test_model.py tile=True writes
                     the tile graph, which convert_tflite.py converts.
                     arch=punet has no global path: its model.tflite renders tiles as it is.
All FP32, converted from frozen graphs of the checkpoint (TF 2.x only: TF 1.15's converter cannot
keep an any-size input). Before anything is written, each is checked: tensor names and shapes, and
its output within 1e-4 (max-abs) of the frozen graph's, for model_none.tflite at the two
`check_sizes` (W x H photos) and for model.tflite at its size. Then it prints their sizes and CPU
latency (LiteRT, at img_w x img_h). Existing files are only replaced with overwrite=True.
Each is also judged against NNAPI's operation table at `feature_level` (check_nnapi.py): ops that
would fall back from the phone's accelerator to the CPU are a warning, or with strict=True an error
before anything is written.
"""
import os
import shutil
import tempfile

from isp.errors import UsageError, run_main  # first: a third-party module missing below is one line (isp/errors.py)

import numpy as np

from isp.archs import DEFAULT_SIZE, check_arch_and_size, parse_photo_sizes
from isp.args import (
    RESTORE_ITER,
    RUNS,
    THREADS,
    Arg,
    given_keys,
    parse_args,
    positive_int,
    to_bool,
)
from isp.checkpoints import find_checkpoint, freeze_checkpoint, shipped_model_dir
from isp.model import LIGHT, probe_light, takes_light
from isp.export_checks import report_conversion
from isp.nnapi import DEFAULT_FEATURE_LEVEL, check_feature_level
from isp.tfimport import import_tf, tf_major, tf_version
from isp.tflite import GraphModel, TFLiteModel, check_against_graph, convert
from isp.utils import atomic_output, check_writable_dir, default_folder_note, plural, print_if

ARGS = [
    Arg("model_dir", str, "models/", "where the checkpoints are"),
    Arg("arch", str, "model", "network: model (compact) or punet (MAI21 baseline)"),
    Arg("num_maps_base", positive_int, 16, "base number of feature maps"),
    Arg("orig", to_bool, False, "use <model_dir>/original/<arch>_pretrained.ckpt"),
    RESTORE_ITER,
    Arg("out_dir", str, "models/challenge/", "folder for model_none.tflite, model.tflite (and model_tiled.tflite)"),
    Arg("img_h", positive_int, DEFAULT_SIZE[0], "model.tflite: full-resolution height (input img_h/2)"),
    Arg("img_w", positive_int, DEFAULT_SIZE[1], "model.tflite: full-resolution width (input img_w/2)"),
    Arg("check_sizes", str, "384x256,320x512", "model_none.tflite: two or more WxH photo sizes to check it at"),
    Arg("overwrite", to_bool, False, "replace the files above if out_dir has them"),
    THREADS,
    RUNS,
    Arg("feature_level", positive_int, DEFAULT_FEATURE_LEVEL, "NNAPI feature level the check judges at (4: Android 11)"),
    Arg("strict", to_bool, False, "an op that would fall back from NNAPI to the CPU is an error (nothing written)"),
]
NAMES = ("model_none.tflite", "model.tflite", "model_tiled.tflite")


def names_for(arch):
    """The files export_challenge writes for an arch: the tile file only where tiles need a light."""
    return NAMES if takes_light(arch) else NAMES[:2]


def parse_sizes(text, arch, num_maps_base):
    """'384x256,320x512' -> [(256, 384), (512, 320)] as (h, w) photo sizes the arch can take."""
    sizes = parse_photo_sizes(text, "check_sizes", arch, num_maps_base)
    if len(set(sizes)) < 2:
        raise UsageError("check_sizes=%r: give at least two different sizes" % text)
    return sizes


def main(argv):
    a = parse_args(ARGS, argv, prog="export_challenge.py", doc=__doc__)
    check_arch_and_size(a["arch"], "img_w", a["img_w"], "img_h", a["img_h"], a["num_maps_base"])
    sizes = parse_sizes(a["check_sizes"], a["arch"], a["num_maps_base"])
    check_feature_level(a["feature_level"])
    given = given_keys(argv)
    print_if(default_folder_note(a["out_dir"], "out_dir", given))
    a["model_dir"], note = shipped_model_dir(a["model_dir"], a["arch"], a["orig"], given)
    print_if(note)
    prefix = find_checkpoint(a["model_dir"], a["arch"], a["restore_iter"], a["orig"])
    out_dir = a["out_dir"]
    targets = [os.path.join(out_dir, n) for n in names_for(a["arch"])]
    existing = [t for t in targets if os.path.exists(t)]
    if existing and not a["overwrite"]:
        raise UsageError("%s already exists; pass overwrite=True to replace it, or another out_dir" % existing[0])
    check_writable_dir(out_dir, "out_dir")
    tf = import_tf()
    if tf_major() < 2:
        raise UsageError("model_none.tflite needs the TF 2.x converter (TF %s's cannot keep an any-size input); "
                         "run this with .venv/bin/python (bash setup_env.sh tf2)" % tf_version())
    h, w = a["img_h"], a["img_w"]
    work = tempfile.mkdtemp(prefix="export_challenge-")
    try:
        jobs = [  # (name, photo h, w or None, input and output shapes, sizes to check at, light input)
            (NAMES[0], None, None, (1, -1, -1, 4), (1, -1, -1, 3), [(sh // 2, sw // 2) for sh, sw in sizes], False),
            (NAMES[1], h, w, (1, h // 2, w // 2, 4), (1, h, w, 3), [(h // 2, w // 2)], False),
            (NAMES[2], h, w, (1, h // 2, w // 2, 4), (1, h, w, 3), [(h // 2, w // 2)], True)][:len(targets)]
        made = []
        for name, ph, pw, want_in, want_out, check_at, light in jobs:
            pb = os.path.join(work, name[:-len(".tflite")] + ".pb")
            freeze_checkpoint(tf, a["arch"], a["num_maps_base"], prefix, ph, pw, pb, light=light)
            shape = (1, None, None, 4) if ph is None else (1, ph // 2, pw // 2, 4)
            content = convert(tf, pb, shape, "fp32", light=light)
            model = TFLiteModel(tf, name, a["threads"], content=content)
            diffs = check_against_graph(model, GraphModel(tf, pb), name, want_in, want_out, check_at)
            print("%-18s Placeholder %s%s -> output_l0 %s; vs the TF graph: %s" % (
                name, list(want_in), " + %s [1, 1, 1, 4]" % LIGHT if light else "", list(want_out), ", ".join(
                    "max-abs %.2g at %dx%d" % (d, s[2] * 2, s[1] * 2) for s, d in diffs)))
            # strict judges the timed fixed-size file; the any-size one (scored for quality, not run
            # time) holds the shape ops of its crop, so it gets the verdict as a warning
            report_conversion(None, name, a["feature_level"], a["strict"] and ph is not None, content)
            made.append((name, content, model))
        # every check passed: write them, then time them
        os.makedirs(out_dir, exist_ok=True)
        x = np.random.RandomState(1).rand(1, h // 2, w // 2, 4).astype(np.float32)
        for (name, content, model), path in zip(made, targets):
            with atomic_output(path) as tmp:
                with open(tmp, "wb") as f:
                    f.write(content)
            seconds = model.latency(x, a["runs"], light=probe_light())  # the any-size model is resized to img_w x img_h
            print("wrote %s: %.1f KiB, CPU latency at %dx%d (input 1x%dx%dx4): median %.1f ms over %s "
                  "(%s, threads %s)" % (path, len(content) / 1024.0, w, h, h // 2, w // 2, 1000 * seconds,
                                        plural(a["runs"], "run"), model.runtime, model.threads))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("checkpoint %s (%s, num_maps_base=%d) -> %s" % (prefix, a["arch"], a["num_maps_base"], out_dir))


if __name__ == "__main__":
    run_main(main)
