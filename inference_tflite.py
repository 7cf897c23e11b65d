"""Run a .tflite ISP on a folder of RAW PNGs: PSNR/SSIM against targets, parity against a
reference model, latency.

    python inference_tflite.py tflite=models/model_iteration_600.tflite
    python inference_tflite.py tflite=models/m_int8.tflite reference=models/m.tflite save_images=True
    python inference_tflite.py tflite=models/m_val.tflite raw_dir=raw_images/val/mediatek_raw/ \
        target_dir=raw_images/val/fujifilm/ reference=models/m_val.pb

A fixed-size model needs RAWs of the size it was converted for (2x its input's height and width;
crop=True takes the top-left part of larger ones, says which in a line and in each image's line,
and adds _crop to the output names). An odd-sized RAW loses its last row/column, with a note, as in
test_model.py. An any-size model (input [1, None, None, 4], e.g.
pb2tflite.sh X_none.pb X_none.tflite) runs each RAW at its own size (rounded down to even): its
input tensor is resized per image, and the latency is at the first image's size. Quantised
(uint8/int8) input and output tensors are scaled with their scale and zero point. Per image it prints PSNR and SSIM against the target
(where `target_dir` has one of the same name) and, with `reference=` (a frozen .pb or another
.tflite of the same input size), the PSNR and max-abs difference against the reference's output;
then the means, and the median latency over `runs` invocations after a warm-up, with `threads`
interpreter threads (runs not given: cut to about LATENCY_BUDGET_S seconds on a large photo), and a
line saying where the time went (decoding, inference, PSNR/SSIM, writing, latency, start-up). A target must have its RAW's size (one line naming both otherwise, before
TensorFlow); one whose structure does not match its RAW's gets a WARNING beside its PSNR.
save_images=True writes <result_dir>/<stem>_<tag>.png, <stem>_<tag>_vs_target.png (output | target)
and <tag>_metrics.csv (with the model that wrote it); the tag names the evaluation: the .tflite's
folder's name and _ (left out for a folder named models: every challenge export is model.tflite and
model_none.tflite), its file name with
its extension (model.tflite: model_tflite, never confused with a checkpoint's outputs), then
_<folder> for another raw_dir than a fujifilm_full_resolution folder, then the size the RAWs ran at
where the file name does not say it (_<w>x<h> for a fixed size other than 1920x1088, _full for an
any-size model; a name that gives the file's own size as _<h>x<w>, as names written before did, says
it too). The same evaluation run again is refused (before any work) unless overwrite=True;
files of these names that another model wrote are refused even then.
Sizes are checked before TensorFlow is imported (the model's input read from the file, the RAWs'
from their headers); a mismatch names the any-size model beside it, where there is one.
"""
import os
import re
import time

from isp.errors import UsageError, run_main  # first: a third-party module missing below is one line (isp/errors.py)

import numpy as np

from isp import load_dataset, tiles
from isp.archs import size_tag, size_tags
from isp.args import RUNS, THREADS, Arg, given_keys, parse_args, positive_int, to_bool
from isp.evaluate import (
    SsimMeter,
    check_target_sizes,
    check_test_images,
    folder_images,
    odd_note,
    folder_tag,
    model_tag,
    output_names,
    psnr_between,
    refuse_to_replace,
    scene_warning,
    score_images,
    time_line,
    timed_items,
    write_csv,
    written_line,
)
from isp.model import GAIN_SCOPE, tile_light
from isp.progress import progress
from isp.tfimport import import_tf
from isp.tflite import PARITY_TOL, TFLiteModel, is_dynamic, load_model, shape_text
from isp.tflite_ops import frozen_graph, input_signature
from isp.utils import default_folder_note, ensure_dir, plural, print_if

DEFAULT_TFLITE = "models/original/model_pretrained.tflite"
MAKE_DEFAULT = ("python test_model.py orig=True test_image=False && bash pb2tflite.sh "
                "models/original/model_pretrained.pb")

ARGS = [
    Arg("tflite", str, DEFAULT_TFLITE, "the .tflite model (the default: made from the shipped pretrained network, "
                                        "README section 1)"),
    Arg("raw_dir", str, "raw_images/test/fujifilm_full_resolution/", "folder of 16-bit RAW PNGs (or DNGs, converted as dng2png.py does)"),
    Arg("target_dir", str, "raw_images/test/fujifilm/", "folder of RGB targets of the same names (optional)"),
    Arg("reference", str, "", "a .pb or .tflite to compare outputs with (e.g. the FP32 model)"),
    Arg("result_dir", str, "results/", "where save_images writes"),
    Arg("save_images", to_bool, False, "write result PNGs, side-by-side PNGs and a CSV"),
    Arg("crop", to_bool, False, "take the top-left part of RAWs larger than the model's size"),
    Arg("tile", to_bool, False, "render RAWs of any size through the fixed-size model in overlapping tiles, blended "
                                "(model_tiled.tflite: every tile gets the whole photo's light)"),
    Arg("overlap", positive_int, 2 * tiles.DEFAULT_OVERLAP, "tile=True: output pixels that neighbouring tiles share, "
                                                            "at least"),
    THREADS,
    RUNS._replace(help=RUNS.help + "; not given: as many as fit in about 5 s, at least 3, at most %d" % RUNS.default),
    Arg("overwrite", to_bool, False, "save_images: replace the outputs of the same evaluation run before"),
]


def any_size_beside(tflite):
    """An any-size model in the fixed-size one's folder: <stem>_none.tflite, the same without the
    size and precision suffixes the converters add (<base>_none[_fp16|_int8].tflite; the size in
    either order: names written before give it H x W), or the challenge's model_none.tflite; None
    when there is none."""
    folder, stem = os.path.split(os.path.splitext(tflite)[0])
    base, precision = re.match(r"(.*?)(?:_\d+x\d+)?(_fp16|_int8)?$", stem).groups()
    for name in (stem + "_none", base + "_none" + (precision or ""), base + "_none", "model_none"):
        path = os.path.join(folder, name + ".tflite")
        if os.path.isfile(path) and os.path.abspath(path) != os.path.abspath(tflite):
            return path
    return None


def check_sizes(raw_dir, names, shape, crop, tflite):
    """Every RAW (an odd one at its even part) must be 2x the input's height and width (or larger,
    with crop=True); the error names the any-size model beside it (where there is one) and crop=True
    (where the RAWs are larger). Returns {name: (width, height)} of the RAWs crop=True cuts."""
    h, w = 2 * shape[1], 2 * shape[2]
    cropped = {}
    for name in names:
        iw, ih = load_dataset.raw_size(os.path.join(raw_dir, name), crop_odd=True)
        if (ih, iw) == (h, w):
            continue
        if crop and ih >= h and iw >= w:
            cropped[name] = (iw, ih)
            continue
        th, tw = ih // 2 * 2, iw // 2 * 2
        fixes = []
        other = any_size_beside(tflite) if tflite.endswith(".tflite") else None
        if other:
            fixes.append("run the any-size model beside it (tflite=%s)" % other)
        fixes.append("render each RAW whole in tiles of the model's size (tile=True%s)" % (
            "" if os.path.basename(tflite) != "model.tflite" else "; arch=model's tiles need model_tiled.tflite"))
        if ih >= h and iw >= w:
            fixes.append("set crop=True (the top-left %dx%d of each RAW)" % (w, h))
        if not other:
            fixes.append("make a model of that size (test_model.py img_h=%d img_w=%d writes <checkpoint>%s.pb, "
                         "then pb2tflite.sh <checkpoint>%s.pb) or of any size (pb2tflite.sh <checkpoint>_none.pb)"
                         % (th, tw, size_tag(th, tw), size_tag(th, tw)))
        raise UsageError("RAW %r is %dx%d but %r was converted for %dx%d (input %s); %s" % (
            name, iw, ih, tflite, w, h, shape_text(shape), ", or ".join(fixes)))
    return cropped


def evaluation_tag(tflite, raw_dir, shape, tile=False):
    """[<its folder's name>_]<file name>_tflite[_<folder>][_<size>]: what save_images names its outputs
    by (the .tflite's folder left out when it is named models). The size is the one the RAWs run at
    (_full: each its own), left out where the file name already says it; tile=True: _tiled (each its
    own, in tiles of the file's size)."""
    if tile:
        return evaluation_tag(tflite, raw_dir, shape) + "_tiled"
    name = model_tag(os.path.dirname(os.path.abspath(tflite))) + re.sub(r"[^A-Za-z0-9_-]+", "_", os.path.basename(tflite))
    stem = "_" + os.path.splitext(os.path.basename(tflite))[0] + "_"
    size = "_full" if is_dynamic(shape) else size_tag(2 * shape[1], 2 * shape[2])
    # a name that gives the file's own size in either order says it (size_tags: older names give H x W)
    said = "_none_" in stem if size == "_full" else (
        not size or any(tag + "_" in stem for tag in size_tags(2 * shape[1], 2 * shape[2])))
    return name + folder_tag(raw_dir) + ("" if said else size)


# the latency's timed runs take about this long at most where runs= is not given (a 12 MP photo's
# ten runs took as long as its evaluation)
LATENCY_BUDGET_S = 5.0
MIN_RUNS = 3


def latency_runs(runs, given, seconds):
    """The timed runs for the latency: `runs`, or where the user did not choose it and one run takes
    `seconds`, as many as fit in LATENCY_BUDGET_S (at least MIN_RUNS)."""
    if given or seconds <= 0:
        return runs
    return max(min(runs, MIN_RUNS), min(runs, int(LATENCY_BUDGET_S / seconds)))


def crop_line(cropped, names, h, w):
    """What crop=True cut: the RAWs larger than the model's size, by name and size."""
    some = ", ".join("%s %dx%d" % (n, iw, ih) for n, (iw, ih) in list(cropped.items())[:3])
    return ("crop=True: %d of %s larger than the model's %dx%d: only their top-left %dx%d is processed and "
            "scored (outputs named _crop): %s%s" % (len(cropped), plural(len(names), "RAW is", "RAWs are"), w, h,
                                                    w, h, some, " and more" if len(cropped) > 3 else ""))


def check_tiling(tflite, shape, crop):
    """tile=True needs a fixed-size model and excludes crop=True (checked before TensorFlow)."""
    if crop:
        raise UsageError("tile=True renders the whole photo and crop=True only its top-left part: choose one")
    if is_dynamic(shape):
        raise UsageError("tile=True needs a fixed-size model; %s takes any size and renders each photo whole "
                         "(drop tile=True)" % tflite)


def tiled_runner(model, tflite, overlap):
    """run(planes) of the whole photo through the fixed-size `model` tile by tile; a tile file's
    tiles get the whole photo's light. A file that takes its light from its own input is refused:
    each tile would get its own colours."""
    if model.own_light:
        beside = os.path.join(os.path.dirname(tflite), "model_tiled.tflite")
        raise UsageError("tile=True: %s takes its light from its own input (arch=model's single-input file), so every "
                         "tile would get its own colours; run the tile file, whose second input is the log of the "
                         "whole photo's light: %s" % (tflite, beside if os.path.isfile(beside) else
                                                "export_challenge.py writes model_tiled.tflite; test_model.py "
                                                "tile=True writes the tile graph that convert_tflite.py converts "
                                                "to FP16 or INT8"))
    if model.light is not None and model.gain_scope not in (None, GAIN_SCOPE):
        raise UsageError("tile=True: %s is the tile file of an earlier arch=model (its gain is under %s/), whose light "
                         "this code no longer computes: its tiles would get the wrong colours; export it again with "
                         "export_challenge.py (or test_model.py tile=True and convert_tflite.py) from a checkpoint of "
                         "today's arch=model" % (tflite, model.gain_scope))
    # a tile file is arch=model's (stride 2); another fixed-size file may be PUNET's (16)
    light = model.light is not None
    return tiles.Tiled(model.run, model.shape[1], model.shape[2], overlap // 2,
                       light_of=tile_light if light else None, align=tiles.align_of("model" if light else "punet"))


def first_tile(planes, shape):
    """The first tile of a photo's planes (edge-padded to the tile where the photo is smaller): what
    the latency of a tiled render is timed on."""
    th, tw = shape[1], shape[2]
    t = planes[:, :th, :tw, :]
    return np.pad(t, ((0, 0), (0, th - t.shape[1]), (0, tw - t.shape[2]), (0, 0)), mode="edge")


def main(argv):
    started = time.perf_counter()
    a = parse_args(ARGS, argv, prog="inference_tflite.py", doc=__doc__)
    names = load_dataset.list_raws(a["raw_dir"], "RAW")  # PNGs, or a phone's DNGs
    # what can be checked without TensorFlow is checked before it is imported
    if not os.path.isfile(a["tflite"]):
        raise UsageError("TFLite model %r not found (make one with pb2tflite.sh or convert_tflite.py%s)" % (
            a["tflite"], "; this one: " + MAKE_DEFAULT if a["tflite"] == DEFAULT_TFLITE else ""))
    if frozen_graph(a["tflite"]):
        raise UsageError("tflite=%s is a frozen graph, not a .tflite; convert it with: bash pb2tflite.sh %s "
                         "(or give it as reference=)" % (a["tflite"], a["tflite"]))
    if a["reference"] and not os.path.isfile(a["reference"]):
        raise UsageError("reference model %r not found" % a["reference"])
    shape = tuple(None if v < 0 else v for v in input_signature(a["tflite"]))  # from the file, before TF
    if a["tile"]:
        check_tiling(a["tflite"], shape, a["crop"])
    cropped = {} if is_dynamic(shape) or a["tile"] else check_sizes(a["raw_dir"], names, shape, a["crop"], a["tflite"])
    check_target_sizes(a["raw_dir"], a["target_dir"], names, "target_dir")
    tag = evaluation_tag(a["tflite"], a["raw_dir"], shape, a["tile"]) + ("_crop" if cropped else "")
    if cropped:
        print(crop_line(cropped, names, 2 * shape[1], 2 * shape[2]))
    if not a["save_images"]:  # save_images: check_test_images says it
        for name in names:
            print_if(odd_note(os.path.join(a["raw_dir"], name)))
    replaced = 0
    if a["save_images"]:
        print_if(default_folder_note(a["result_dir"], "result_dir", given_keys(argv)))
        replaced = refuse_to_replace(a["result_dir"], output_names(names, tag, a["target_dir"]), a["overwrite"],
                                     a["tflite"])
    tf = import_tf()
    threads = a["threads"]
    model = TFLiteModel(tf, a["tflite"], threads)
    run = model.run
    if a["tile"]:
        run = tiled_runner(model, a["tflite"], a["overlap"])
    elif model.light is not None:
        raise UsageError("%s is a tile file (a second input, %r: the log of the whole photo's light): run it with tile=True"
                         % (a["tflite"], model.light["name"]))
    reference = None
    if a["reference"]:
        reference = load_model(tf, a["reference"], threads)
        ref_shape = None if reference.shape is None else tuple(reference.shape)
        if not model.dynamic and ref_shape is not None and not is_dynamic(ref_shape) and ref_shape != model.shape:
            raise UsageError("reference %r takes input %s but %r takes %s; compare models of one size" % (
                a["reference"], shape_text(ref_shape), a["tflite"], shape_text(model.shape)))
        if (model.dynamic or a["tile"]) and ref_shape is not None and not is_dynamic(ref_shape):
            check_sizes(a["raw_dir"], names, ref_shape, False, a["reference"])  # the images must fit the reference
    h, w = (None, None) if model.dynamic or a["tile"] else (2 * model.shape[1], 2 * model.shape[2])
    if a["save_images"]:  # decode every RAW and target first: a bad file stops before any is written
        check_test_images(a["raw_dir"], a["target_dir"], names, h, w, crop_odd=True, target_key="target_dir")
        ensure_dir(a["result_dir"], "result_dir")
    rows, lines, stats = [], [], {"psnr": [], "ssim": [], "ref_psnr": [], "ref_max": []}
    first_input = None
    timing = {}
    images = timed_items(folder_images(a["raw_dir"], a["target_dir"],
                                       progress(names, desc="inference %s" % tag, unit="img"), h, w, crop_odd=True),
                         timing, "decoding")
    results = []
    for r in score_images(run, images, SsimMeter(tf), a["result_dir"] if a["save_images"] else None, tag,
                          timing):
        first_input = r.x if first_input is None else first_input
        results.append(r._replace(x=None, out=None))  # for the line naming what was written
        row, text = [r.name, "", "", "", ""], "%-24s" % r.name
        if r.name in cropped:
            text += "  (top-left %dx%d of %dx%d)" % (r.x.shape[2] * 2, r.x.shape[1] * 2, *cropped[r.name])
        if a["tile"]:
            text += "  (%dx%d: %s, %.2f s)" % (r.x.shape[2] * 2, r.x.shape[1] * 2, run.described(), r.seconds)
            if reference is not None and tiles.odd_grid(r.x.shape):
                text += "  [a side not a multiple of 4: the any-size model samples it on another grid, no parity]"
        if r.psnr is not None:
            stats["psnr"].append(r.psnr)
            stats["ssim"].append(r.ssim)
            row[1:3] = ["%.4f" % r.psnr, "%.5f" % r.ssim]
            text += "  PSNR %6.2f dB  SSIM %.4f%s" % (r.psnr, r.ssim, scene_warning(r))
        if reference is not None:
            t0 = time.perf_counter()
            # a tile file or graph as the reference runs the whole photo with its light
            ref = np.clip(reference.run(r.x, tile_light(r.x) if reference.light else None)[0], 0.0, 1.0)
            timing["reference"] = timing.get("reference", 0.0) + time.perf_counter() - t0
            stats["ref_max"].append(float(np.max(np.abs(r.out - ref))))
            stats["ref_psnr"].append(psnr_between(r.out, ref))
            row[3:5] = ["%.4f" % stats["ref_psnr"][-1], "%.3g" % stats["ref_max"][-1]]
            text += "  | vs reference: PSNR %6.2f dB, max-abs %.3g" % (stats["ref_psnr"][-1], stats["ref_max"][-1])
        rows.append(row)
        lines.append(text)
    print("\n".join(lines))
    if stats["psnr"]:
        print("mean over %s with targets: PSNR %.2f dB  SSIM %.4f" % (
            plural(len(stats["psnr"]), "image", "images"), np.mean(stats["psnr"]), np.mean(stats["ssim"])))
    else:
        print("no targets in %r: PSNR/SSIM not computed" % a["target_dir"])
    if reference is not None:
        worst = max(stats["ref_max"])
        print("vs reference %s over %s: mean PSNR %.2f dB, max-abs %.3g" % (
            a["reference"], plural(len(names), "image", "images"), np.mean(stats["ref_psnr"]), worst))
        if model.kind == "fp32":
            print("parity (float model, max-abs <= %g): %s" % (PARITY_TOL, "yes" if worst <= PARITY_TOL else "NO"))
    if a["save_images"]:
        csv_path = os.path.join(a["result_dir"], "%s_metrics.csv" % tag)
        write_csv(csv_path, ["image", "psnr_db", "ssim", "ref_psnr_db", "ref_max_abs"], rows, model=a["tflite"])
        print(written_line(a["result_dir"], results, tag, replaced))
    if a["tile"]:
        print("tile=True: every photo in %s; peak memory of this process %.0f MB (%s)" % (
            "tiles of %dx%d blended over >= %d px" % (2 * model.shape[2], 2 * model.shape[1], a["overlap"]),
            tiles.peak_memory_mb(), "with the reference's whole-photo runs" if reference is not None else
            "the photo's planes and output and a row of tiles, not the whole photo's activations"))
        first_input, first_seconds = first_tile(first_input, model.shape), None
    else:
        first_seconds = results[0].seconds
    light = run.light_of(first_input) if a["tile"] and run.light_of else None
    runs = latency_runs(a["runs"], "runs" in given_keys(argv), first_seconds or model.timed_invoke(first_input, light))
    t0 = time.perf_counter()
    seconds = model.latency(first_input, runs, light)
    timing["latency"] = time.perf_counter() - t0
    print("latency of %s (%s; input %s; threads %s): median %.1f ms over %s%s, %s" % (
        a["tflite"], model.kind, (shape_text(model.shape) + (", one tile" if a["tile"] else ""))
        if not model.dynamic else
        "%s (any size; at %s's size)" % (shape_text(first_input.shape), names[0]), model.threads,
        1000 * seconds, plural(runs, "run", "runs"),
        " (runs=%d cut to about %g s at this size; runs= sets them)" % (a["runs"], LATENCY_BUDGET_S)
        if runs < a["runs"] else "", model.runtime))
    print(time_line(timing, time.perf_counter() - started))


if __name__ == "__main__":
    run_main(main)
