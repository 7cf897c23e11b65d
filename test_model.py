"""Run a trained network on full-resolution RAW PNGs: result PNGs, PSNR/SSIM, latency, frozen graph.

    python test_model.py arch=model restore_iter=None img_h=1088 img_w=1920
    python test_model.py arch=model restore_iter=latest img_h=full img_w=full

Processes every RAW PNG in <dataset_dir>/test/<test_dir> (or, in a folder without PNGs, every DNG,
converted as dng2png.py does; an absolute test_dir is used as it is), cropped to img_h x img_w from
the top left (img_h=full img_w=full: each at its own size, cropped only to what the arch needs:
even sizes, multiples of 32 for punet; an odd-sized RAW loses its last row/column, with a note),
and writes <result_dir>/<name>_<tag>.png. Where <dataset_dir>/test/<dslr_dir> holds a target with
the same name, prints PSNR and SSIM per image and their mean and writes <name>_<tag>_vs_target.png
(output | target). <result_dir>/<tag>_metrics.csv has a row per image: PSNR, SSIM (empty without a
target) and inference time in ms, and the model that wrote it. A target must have its RAW's size
(one line naming both otherwise, before any work); one whose structure does not match its RAW's gets
a WARNING beside its PSNR (evaluate.scene_agreement). The tag names the evaluation: the model_dir's
name and _ (left out for a folder named models), <checkpoint>, then _<test folder>
for another test_dir than fujifilm_full_resolution, then _<img_w>x<img_h> for another size than
1920x1088 (_full for img_h=full img_w=full); so evaluations of other models, folders or sizes never
share a file, and the same evaluation run again is refused (before any work) unless overwrite=True;
files of these names that another model wrote are refused even then.
Prints the latency (median of `runs` runs after a warm-up) at 1 x img_h/2 x img_w/2 x 4.
`save=True` writes the frozen graph <model_dir>/<checkpoint>.pb (input `Placeholder` [1, img_h/2,
img_w/2, 4], output `output_l0`) at the default 1920x1088; a frozen graph of another size is
<checkpoint>_<img_w>x<img_h>.pb (W x H, as sizes are printed), beside the default one (none with img_h=full: a frozen graph has
one size). The checkpoint's meta graph <checkpoint>.ckpt.meta (for ckpt2pb.py) is written at the
default size, or at another size where none exists yet. It also writes <checkpoint>_none.pb, the
same network for any size (input [1, None, None, 4]). With tile=True (arch=model) the fixed-size
file is the tile graph <checkpoint>[_<img_w>x<img_h>]_tiled.pb, whose second input `log_light` [1, 1, 1, 4]
is the log of the whole photo's light (convert_tflite.py makes its FP32, FP16 or INT8 tile file). All of them without default-valued
attributes, so that TF 1.15 and TF 2.x read each other's; a file already there with the same bytes
is left as it is ("unchanged"). orig=True prints the first line of <checkpoint>.txt beside the
pretrained checkpoint, where there is one (what the weights were trained on); with the default
model_dir it is found in the project's models/original/ from any working folder.
"""
import os

from isp.errors import UsageError, run_main  # first: a third-party module missing below is one line (isp/errors.py)

import numpy as np

from isp import exports
from isp import load_dataset, tiles
from isp.archs import SIZE_MULTIPLE, check_arch_and_size, size_tag
from isp.args import (
    RESTORE_ITER,
    RUNS,
    Arg,
    given_keys,
    parse_args,
    positive_int,
    size_or_full,
    to_bool,
)
from isp.checkpoints import find_checkpoint, find_restorable, restore, shipped_model_dir
from isp.evaluate import (
    SsimMeter,
    check_test_images,
    folder_images,
    folder_tag,
    median_seconds,
    model_tag,
    output_names,
    probe_input,
    refuse_to_replace,
    scene_warning,
    score_images,
    write_csv,
    written_line,
)
from isp.model import probe_light
from isp.progress import progress
from isp.session import session_config
from isp.tfimport import import_tf
from isp.utils import check_writable_dir, default_folder_note, ensure_dir, plural, print_if

ARGS = [
    Arg("dataset_dir", str, "raw_images/", "dataset root (test/ inside)"),
    Arg("test_dir", str, "fujifilm_full_resolution/", "sub-folder of <dataset_dir>/test with the RAW PNGs (or DNGs)"),
    Arg("dslr_dir", str, "fujifilm/", "sub-folder of <dataset_dir>/test with targets (optional)"),
    Arg("model_dir", str, "models/", "where the checkpoints are"),
    Arg("result_dir", str, "results/", "where result PNGs are written"),
    Arg("arch", str, "model", "network: model (compact) or punet (MAI21 baseline)"),
    Arg("num_maps_base", positive_int, 16, "base number of feature maps"),
    Arg("orig", to_bool, False, "load <model_dir>/original/<arch>_pretrained.ckpt"),
    RESTORE_ITER,
    Arg("img_h", size_or_full, 1088, "full-resolution height to process (full: each image's own)"),
    Arg("img_w", size_or_full, 1920, "full-resolution width to process (full: each image's own)"),
    Arg("use_gpu", to_bool, True, "False hides all GPUs"),
    Arg("save", to_bool, True, "write the meta graph, the frozen .pb and the any-size _none.pb (tile=True, "
                               "arch=model: the tile graph _tiled.pb instead of the .pb and meta graph)"),
    Arg("test_image", to_bool, True, "False: only build, save and time the model"),
    Arg("tile", to_bool, False, "render each RAW at its own size through the img_h x img_w graph in overlapping "
                                "tiles, blended, every tile with the whole photo's light (as inference_tflite.py tile=True)"),
    Arg("overlap", positive_int, 2 * tiles.DEFAULT_OVERLAP, "tile=True: output pixels that neighbouring tiles share, "
                                                            "at least"),
    RUNS,
    Arg("overwrite", to_bool, False, "replace the result PNGs and CSV of the same evaluation run before"),
]


def check_sizes(a):
    """True for img_h=full img_w=full (each image at its own size); the sizes checked against the arch."""
    full = a["img_h"] == "full"
    if full != (a["img_w"] == "full"):
        raise UsageError("img_h=full needs img_w=full too (and the other way round): each image at its own size")
    if a["tile"] and full:
        raise UsageError("tile=True renders each image at its own size in tiles of img_h x img_w: give the tile's "
                         "size (e.g. img_h=1088 img_w=1920), not full")
    if a["tile"] and not a["test_image"]:
        raise UsageError("tile=True renders the test images; with test_image=False there are none")
    if full:
        check_arch_and_size(a["arch"], "img_w", 32, "img_h", 32, a["num_maps_base"])
        if not a["test_image"]:
            raise UsageError("img_h=full img_w=full takes its sizes from the test images; with test_image=False "
                             "give img_h and img_w")
    else:
        check_arch_and_size(a["arch"], "img_w", a["img_w"], "img_h", a["img_h"], a["num_maps_base"])
    return full


def find_test_images(a, argv, full):
    """The RAW folder, the target folder and the test RAWs' names (none with test_image=False),
    every RAW and target decoded once up front, before TensorFlow."""
    h, w = (None, None) if full or a["tile"] else (a["img_h"], a["img_w"])
    names = []
    raw_dir = os.path.join(a["dataset_dir"], "test", a["test_dir"])
    dslr_dir = os.path.join(a["dataset_dir"], "test", a["dslr_dir"])
    if "dslr_dir" in given_keys(argv) and not os.path.isdir(dslr_dir):
        load_dataset.require_folder(dslr_dir, "target", "dslr_dir")  # given explicitly: not a silent "no targets"
    if a["test_image"]:
        load_dataset.require_folder(raw_dir, "test RAW", "test_dir")  # names the folders there are
        names = load_dataset.list_raws(raw_dir, "test RAW")
        if names[0].lower().endswith(".dng"):
            print("%s holds DNG files: each is converted as dng2png.py does (black/white level, "
                  "RGGB alignment), then cropped %s from the top left" % (
                      raw_dir, "to its own size" if full else "to %dx%d" % (w, h)))
        check_test_images(raw_dir, dslr_dir, names, h, w, SIZE_MULTIPLE[a["arch"]], crop_odd=True)
    return raw_dir, dslr_dir, names


def evaluation_tag(a, prefix, full):
    """[<model_dir name>_]<checkpoint>[_<test folder>][_<img_w>x<img_h> | _full]: what the outputs of
    this evaluation are named by (the seed's <checkpoint> alone for models/, its folder and size)."""
    name = model_tag(a["model_dir"]) + os.path.basename(prefix)[:-len(".ckpt")]
    return name + folder_tag(a["test_dir"]) + ("_full" if full else size_tag(a["img_h"], a["img_w"])) + (
        "_tiled" if a["tile"] else "")


def evaluate_and_time(a, tf, run, raw_dir, dslr_dir, names, full, tag, replaced=0, prefix=None, tiled=None):
    """Run the network `run` on each test RAW: result PNGs, PSNR/SSIM where there is a target, the
    metrics CSV; then the latency. Returns the size h, w it was timed at (with full: the first image's).
    tiled (a tiles.Tiled of `run`, the img_h x img_w graph): each image at its own size in tiles."""
    multiple = SIZE_MULTIPLE[a["arch"]]
    h, w = (None, None) if full else (a["img_h"], a["img_w"])
    if tiled:  # the latency of one tile; each image at its own size
        probe = probe_input(h, w)
        run(probe, probe_light())  # warm-up
        return time_and_score(a, tf, tiled, lambda: run(probe, probe_light()), raw_dir,
                              dslr_dir, names, None, None, multiple, tag, replaced, prefix, h, w)
    if full:  # latency and warm-up at the first image's size
        first = load_dataset.checked_raw_shape(os.path.join(raw_dir, names[0]), crop_odd=True)
        h, w = (first[0] - first[0] % multiple, first[1] - first[1] % multiple)
    probe = probe_input(h, w)
    run(probe)  # warm-up, so that no image's time includes graph set-up
    return time_and_score(a, tf, run, lambda: run(probe), raw_dir, dslr_dir, names, None if full else h,
                          None if full else w, multiple, tag, replaced, prefix, h, w)


def time_and_score(a, tf, run, timed_run, raw_dir, dslr_dir, names, img_h, img_w, multiple, tag, replaced, prefix,
                   h, w):
    """evaluate_and_time's scoring (images at img_h x img_w, None: their own) and its latency of
    timed_run, printed as at h x w."""
    images = folder_images(raw_dir, dslr_dir, progress(names, desc="processing", unit="img"),
                           img_h, img_w, multiple, crop_odd=True)
    with SsimMeter(tf) as ssim:
        results = list(score_images(run, images, ssim, a["result_dir"], tag))
    scores = [r for r in results if r.psnr is not None]
    for r in scores:
        print("%-24s PSNR %.2f dB  SSIM %.4f%s" % (r.name, r.psnr, r.ssim, scene_warning(r)))
    if a["tile"] and results:
        print("tile=True: each image in %s (the last: %s); peak memory of this process %.0f MB" % (
            "tiles of %dx%d blended over >= %d px" % (a["img_w"], a["img_h"], a["overlap"]), run.described(),
            tiles.peak_memory_mb()))
    if names:
        csv_path = os.path.join(a["result_dir"], "%s_metrics.csv" % tag)
        write_csv(csv_path, ["image", "psnr_db", "ssim", "inference_ms"], [
            [r.name, "" if r.psnr is None else "%.4f" % r.psnr, "" if r.ssim is None else "%.5f" % r.ssim,
             "%.1f" % (1000 * r.seconds)] for r in results], model=prefix)
        print(written_line(a["result_dir"], results, tag, replaced))
    if scores:
        print("mean over %s: PSNR %.2f dB  SSIM %.4f" % (
            plural(len(scores), "image", "images"), np.mean([r.psnr for r in scores]), np.mean([r.ssim for r in scores])))
    elif names:
        print("no targets in %s: PSNR/SSIM not computed" % dslr_dir)

    latency = median_seconds(timed_run, a["runs"])
    print("latency at %dx%d (input 1x%dx%dx4%s): median %.1f ms over %s" % (
        w, h, h // 2, w // 2, ", one tile" if a["tile"] else "", 1000 * latency, plural(a["runs"], "run", "runs")))
    return h, w


def check_outputs(a, prefix, full, names, dslr_dir):
    """The evaluation's tag, once the result_dir holds none of its outputs (or overwrite=True), and
    how many of them are there to be replaced."""
    tag = evaluation_tag(a, prefix, full)
    replaced = refuse_to_replace(a["result_dir"], output_names(names, tag, dslr_dir), a["overwrite"],
                                 prefix) if names else 0
    return tag, replaced


def print_orig_note(prefix):
    """orig=True: the first line of <prefix>.txt, where there is one (what the weights were trained on)."""
    note = prefix + ".txt"
    if os.path.isfile(note):
        with open(note, encoding="utf-8", errors="replace") as f:
            first = f.readline().strip()
        if first:
            print("orig=True: %s" % first)


def main(argv):
    a = parse_args(ARGS, argv, prog="test_model.py", doc=__doc__)
    given = given_keys(argv)
    if a["test_image"]:
        print_if(default_folder_note(a["result_dir"], "result_dir", given))
    full = check_sizes(a)
    a["model_dir"], note = shipped_model_dir(a["model_dir"], a["arch"], a["orig"], given)
    print_if(note)
    prefix = find_checkpoint(a["model_dir"], a["arch"], a["restore_iter"], a["orig"])  # before TF: no checkpoint at all
    raw_dir, dslr_dir, names = find_test_images(a, argv, full)
    tag, replaced = check_outputs(a, prefix, full, names, dslr_dir)  # before any work
    if a["orig"]:
        print_orig_note(prefix)

    tf = import_tf(use_gpu=a["use_gpu"])  # first TF import: hides GPUs before TF sees them
    # a damaged checkpoint: one line, or (restore_iter=None) a warning and the newest whole one
    restorable = find_restorable(tf, a["model_dir"], a["arch"], a["restore_iter"], a["orig"])
    if restorable != prefix:  # an older checkpoint: outputs of another name
        prefix = restorable
        tag, replaced = check_outputs(a, prefix, full, names, dslr_dir)
    from isp import model  # builds on TensorFlow: imported after it
    h, w = (None, None) if full else (a["img_h"], a["img_w"])
    x = tf.placeholder(tf.float32, [1, None, None, 4] if full else [1, h // 2, w // 2, 4])  # named "Placeholder"
    light = model.light_placeholder() if a["tile"] and model.takes_light(a["arch"]) else None
    out = model.build(a["arch"], x, a["num_maps_base"], light)
    saver = tf.train.Saver()
    config = session_config(tf)
    written = []
    with tf.Session(config=config) as sess:
        restore(tf, saver, sess, prefix, a["arch"], a["num_maps_base"])
        print("restored %s (%s, num_maps_base=%d)" % (prefix, a["arch"], a["num_maps_base"]))
        if a["save"] and not full:
            check_writable_dir(os.path.dirname(os.path.abspath(prefix)),
                               "the checkpoint's folder (save=True writes the .meta and .pb there; or save=False)")
        if names:
            ensure_dir(a["result_dir"], "result_dir")
        if a["tile"]:
            def run_tile(inp, photo_light):
                return sess.run(out, {x: inp} if light is None else {x: inp, light: photo_light})
            tiled = tiles.Tiled(run_tile, h // 2, w // 2, a["overlap"] // 2,
                                model.tile_light if light is not None else None, tiles.align_of(a["arch"]))
            h, w = evaluate_and_time(a, tf, run_tile, raw_dir, dslr_dir, names, False, tag, replaced, prefix, tiled)
        else:
            h, w = evaluate_and_time(a, tf, lambda inp: sess.run(out, {x: inp}), raw_dir, dslr_dir, names, full, tag,
                                     replaced, prefix)
        if a["save"] and light is not None:  # a tile graph has a second input: not the seed's .pb
            written.append(exports.write_tile_graph(tf, sess, prefix, h, w))
        elif a["save"] and not full:
            written += exports.write_fixed_size(tf, sess, saver, prefix, h, w)
    if a["save"]:
        written.append(exports.write_any_size(tf, a["arch"], a["num_maps_base"], prefix))
        print(exports.saved_line(written, full))


if __name__ == "__main__":
    run_main(main)
