"""Convert a frozen graph (Placeholder -> output_l0) to TFLite in FP32, FP16 or INT8.

    python convert_tflite.py pb=models/model_iteration_1000.pb                      # FP32
    python convert_tflite.py pb=models/model_iteration_1000.pb precision=fp16       # float16 weights
    python convert_tflite.py pb=models/model_iteration_1000.pb precision=int8 dataset_dir=raw_images/

FP32 keeps every tensor in float32. FP16 stores the weights as float16 (half the file; the
interpreter dequantises them on the CPU, an NPU/GPU delegate may run in float16). INT8 is full-integer
post-training quantisation: weights and activations in int8, input and output tensors uint8 (or
int8 with int8_io=int8), their ranges calibrated on `calib_size` real training RAW inputs from
<dataset_dir>/train/<phone_dir> (Bayer planes /1020, cropped to the graph's input size, or tiled
from several patches when the patches are smaller). INT8 needs the TF 2.x converter: TF 1.15's
cannot quantise DEPTH_TO_SPACE (arch=model) or LEAKY_RELU (arch=punet).

A frozen graph with a fixed input size converts at that size (input_shape, 1,H/2,W/2,4, defaults to
it). One frozen for any size (test_model.py save=True writes <checkpoint>_none.pb, input
[1, None, None, 4]) converts to a .tflite that keeps any size, [1, None, None, 4] -> [1, None, None,
3] (TF 2.x only: TF 1.15's converter cannot; INT8 calibrates it on 256x256 crops), or, with
input_shape, to a fixed-size one. `bash pb2tflite.sh PB OUT SHAPE [key=value ...]` calls this script.

A tile graph (arch=model; test_model.py tile=True save=True writes <checkpoint>_tiled.pb) keeps its
second input `log_light` [1, 1, 1, 4], the log of the whole photo's light, at every precision: FP16 is
the tile file for the GPU delegate; INT8 quantises the input over the log of [0.01, 1] (about 1 % of
the light a step); inference_tflite.py tile=True runs them.

Every conversion ends with the NNAPI check (check_nnapi.py, docs/nnapi.md): would each op run on the
phone's accelerator at NNAPI `feature_level` (4: Android 11, the MAI21 phones)? Ops that would fall
back to the CPU are a warning; with strict=True they are an error and nothing is written.
"""
import os

from isp.archs import DEFAULT_SIZE, size_tag
from isp.args import Arg, parse_args, positive_int, to_bool
from isp.errors import UsageError, run_main
from isp.export_checks import report_conversion
from isp.model import LIGHT
from isp.nnapi import DEFAULT_FEATURE_LEVEL, check_feature_level
from isp.progress import progress
from isp.tfimport import import_tf, tf_major
from isp.tflite import PRECISIONS, calibration_inputs, convert, has_light, is_dynamic, read_graph
from isp.utils import atomic_output, check_writable_dir, ensure_dir

ARGS = [
    Arg("pb", str, "models/original/punet_pretrained.pb", "frozen graph (Placeholder -> output_l0)"),
    Arg("out", str, "", "output .tflite (default: the .pb's name, _fp16/_int8 added for those precisions)"),
    Arg("precision", str, "fp32", "fp32, fp16 (float16 weights) or int8 (full integer)"),
    Arg("input_shape", str, "", "1,H/2,W/2,4 (default: the graph's own, any size for a _none.pb; else 1,544,960,4)"),
    Arg("int8_io", str, "uint8", "int8: type of the input and output tensors, uint8 or int8"),
    Arg("dataset_dir", str, "raw_images/", "int8: dataset whose train/<phone_dir> RAWs calibrate"),
    Arg("phone_dir", str, "mediatek_raw/", "int8: RAW sub-folder of train/"),
    Arg("calib_size", positive_int, 100, "int8: number of calibration inputs"),
    Arg("seed", int, 0, "int8: random choice of calibration patches"),
    Arg("feature_level", positive_int, DEFAULT_FEATURE_LEVEL, "NNAPI feature level the check judges at (4: Android 11)"),
    Arg("strict", to_bool, False, "an op that would fall back from NNAPI to the CPU is an error (nothing written)"),
]
SEED_SHAPE = (1, DEFAULT_SIZE[0] // 2, DEFAULT_SIZE[1] // 2, 4)  # the seed's input, 1x544x960x4
CALIB_SHAPE_ANY = (1, 128, 128, 4)  # INT8 calibration inputs of an any-size model: 256x256 crops


def default_out(pb, precision, shape=None):
    """The .pb's own name, .tflite, with _fp16/_int8 for those precisions. A dynamic-size graph
    (<stem>_none.pb) converted at a given input shape takes that size instead of _none (none for
    the default size), as frozen graphs are named (archs.size_tag)."""
    stem = pb[:-3] if pb.endswith(".pb") else pb
    if shape is not None:
        stem = (stem[:-len("_none")] if stem.endswith("_none") else stem) + size_tag(2 * shape[1], 2 * shape[2])
    return stem + ("" if precision == "fp32" else "_" + precision) + ".tflite"


def parse_shape(text):
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 4 or min(shape) <= 0:
        raise UsageError("input_shape %r must look like 1,H/2,W/2,4 (e.g. 1,544,960,4)" % text)
    return shape


def main(argv):
    a = parse_args(ARGS, argv, prog="convert_tflite.py", doc=__doc__)
    if a["precision"] not in PRECISIONS:
        raise UsageError("precision=%r: use fp32, fp16 or int8" % a["precision"])
    if a["int8_io"] not in ("uint8", "int8"):
        raise UsageError("int8_io=%r: use uint8 or int8" % a["int8_io"])
    check_feature_level(a["feature_level"])
    # everything that can be checked without TensorFlow is checked before it is imported
    given_shape = parse_shape(a["input_shape"]) if a["input_shape"] else None
    if not os.path.isfile(a["pb"]):
        raise UsageError("frozen graph %r not found (write one with test_model.py save=True or ckpt2pb.py)" % a["pb"])
    if a["out"]:
        check_writable_dir(os.path.dirname(os.path.abspath(a["out"])), "the output's folder")
    tf = import_tf()
    graph_def, frozen_shape = read_graph(tf, a["pb"])
    shape = given_shape or frozen_shape or SEED_SHAPE
    light = has_light(graph_def)  # a tile graph's second input: kept
    if frozen_shape and not is_dynamic(frozen_shape) and shape != frozen_shape:
        tile = " tile=True" if light else ""
        raise UsageError("%r was frozen for input %s, not %s; convert at that shape, or freeze it again "
                         "for %dx%d with test_model.py%s img_h=%d img_w=%d (which writes <checkpoint>%s%s.pb)" % (
                             a["pb"], "x".join(map(str, frozen_shape)), "x".join(map(str, shape)),
                             2 * shape[2], 2 * shape[1], tile, 2 * shape[1], 2 * shape[2],
                             size_tag(2 * shape[1], 2 * shape[2]), "_tiled" if light else ""))
    # a graph frozen at a size is named by it already; an any-size one converted at a given size
    # takes that size's name (kept any-size, it keeps its own _none name)
    named = shape if (given_shape and not is_dynamic(shape) and (not frozen_shape or is_dynamic(frozen_shape))) else None
    out = a["out"] or default_out(a["pb"], a["precision"], named)
    calibration = None
    if a["precision"] == "int8":
        if tf_major() >= 2:  # else convert() says why not, at once
            calibration = list(progress(
                calibration_inputs(a["dataset_dir"], a["phone_dir"], CALIB_SHAPE_ANY if is_dynamic(shape) else shape,
                                   a["calib_size"], a["seed"]),
                total=a["calib_size"], desc="calibration inputs", unit="input"))
    content = convert(tf, a["pb"], shape, a["precision"], a["int8_io"], calibration, light=light)
    folder = os.path.dirname(os.path.abspath(out))
    ensure_dir(folder, "the output's folder")
    with atomic_output(out) as tmp:
        with open(tmp, "wb") as f:
            f.write(content)
        # judged under its temporary name: with strict=True a fall-back leaves nothing under `out`
        report_conversion(tmp, out, a["feature_level"], a["strict"])
    detail = ""
    if a["precision"] == "int8":
        detail = ", %s input/output, calibrated on %d training RAW inputs from %s" % (
            a["int8_io"], a["calib_size"], os.path.join(a["dataset_dir"], "train", a["phone_dir"]))
    print("wrote %s (%.1f KiB, %s%s, input %s)" % (out, len(content) / 1024.0, a["precision"].upper(),
                                                   detail, ("1xNonexNonex4 (any size)" if is_dynamic(shape) else
                                                            ",".join(map(str, shape))) +
                                                   (" + %s 1,1,1,4 (a tile file: inference_tflite.py tile=True)" % LIGHT
                                                    if light else "")))


if __name__ == "__main__":
    run_main(main)
