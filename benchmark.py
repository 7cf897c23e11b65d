"""Side-by-side cost of the architectures, measured in one process so machine noise cancels.

    python benchmark.py archs=model,punet                       # speed: params, GFLOP, latencies
    python benchmark.py archs=model:8,model:16,model:32,punet   # arch:num_maps_base
    python benchmark.py mode=quality archs=model,punet iters=600   # equal-budget training on the demo data
    python benchmark.py mode=quality archs=model,punet patch=128 curve=1000,2000,5000,10000,20000 \
        work_dir=results/curves/                                  # learning curves, resumable
    python benchmark.py mode=quality ... seed=0,1,2               # the same, mean over three seeds
    python benchmark.py mode=precision archs=model ckpt=models/model_iteration_600.ckpt   # FP32/FP16/INT8
    python benchmark.py mode=horovod archs=model iters=20 patch=128      # images/s with 1 and 2 ranks
    python benchmark.py mode=input archs=model:4 batch_size=32          # the training loop's batches: in line or by a producer
    python benchmark.py mode=sizes ckpt=models/original/model_pretrained.ckpt   # 2, 12, 48 MP: graph and tiled TFLite
    python benchmark.py mode=colours ckpt=models/original/model_pretrained.ckpt dataset_dir=raw_images/   # colour vs size

Speed mode prints, per arch: parameters, GFLOP at img_h x img_w (TF's profiler), the median
inference time at that size, the median training-step time (batch_size patches of patch x patch,
loss 20*MSE + 20*(1-SSIM), no VGG), the median TFLite FP32 time with `threads` threads, and each
ratio to the first arch. Timed runs are interleaved (one run of each arch in turn, `runs` rounds,
after a warm-up) so that a slow moment of the machine hits every arch alike.

Quality mode trains each arch with train_model.py for `iters` iterations with identical settings
(batch, learning rate, data, seed, loss 20*MSE + 20*(1-SSIM)) and prints the validation PSNR and
SSIM of the last step. With `curve=` it trains to the last of those iterations, validating at their
greatest common divisor, and prints PSNR/SSIM at each point in a table per arch, writes them as a
CSV and a PNG, and prints one plain progress line per validation (fit for a log file). With
`work_dir=` each arch's run lives in its own folder there (arch, num_maps_base, learning rate,
batch, patch and seed in its name): a restart of the same command continues each arch from its
last checkpoint and skips finished ones, so the command can be left running in the background
(`nohup ... > curves.log &`) and started again after a reboot. With several seeds (`seed=0,1,2`;
two runs of one design can differ by more than the effect being measured) every arch is trained
once per seed, each seed in its own folder, and the tables, the trade-off and the plot give the
mean over the seeds, each seed's row below it. Unless `infer=False`, it then times
each arch's inference at img_h x img_w and prints the MAI-style trade-off against the first arch:
PSNR gained per doubling of run time.

Precision mode takes a checkpoint of the first arch, freezes it at the validation images' size and
at img_h x img_w, converts both to TFLite FP32, FP16 and INT8 (calib_size training RAWs calibrate)
and prints per precision: file size, latency at img_h x img_w (interleaved medians), validation
PSNR/SSIM against the targets, PSNR against the FP32 TFLite output and max-abs against the TF graph.

Horovod mode (the tf2-horovod or tf1 stack with Horovod) trains the first arch under `horovodrun -np R --gloo` for
R = 1 and 2 ranks, batch_size per rank, `iters` and 2 x `iters` iterations each, and prints the
training images per second from the difference (start-up and the one validation cancel out).
Input mode takes the first arch and times the training loop's batches (batch_size patches of patch x
patch from a pool of random ones) built in line and fed as float32 against built by the
producer thread while the step runs and fed as uint16/uint8 (isp/bench/input.py): host time to build a
batch, bytes fed, the session run alone, and the loop's step time and its wait for a batch.
Sizes mode takes the first arch's checkpoint (`ckpt=`) and renders photos of `photo_sizes` (2, 12, 48 MP) three
ways: the TF graph on the whole photo, the any-size TFLite file on the whole photo, and the
1920x1088 TFLite file in tiles (arch=model: the tile file, with the whole photo's light): the median
time and the peak memory of each, each measured in a fresh process (TF 2.x: the any-size file).
Colours mode takes the first arch's checkpoint (`ckpt=`) and renders each full-size test scene of
`dataset_dir` (test/fujifilm_full_resolution/, or `test_dir=`) whole, then its Bayer planes binned 2x2 once and
twice (the same scene at a quarter and a sixteenth of the pixels): each output channel's mean per
size, its largest move across the sizes, and the target's mean where there is one. Make scenes of
your own photos at a camera's size with `make_demo_data.py photos_dir=... test_h=2176 test_w=3840
exposure_stops=0`, or use a dataset's full-resolution RAWs.
"""
from isp.errors import UsageError, run_main  # first: a third-party module missing below is one line (isp/errors.py)

from isp.bench import colours as bench_colours
from isp.bench import curves as bench_curves
from isp.bench import horovod as bench_horovod
from isp.bench import input as bench_input
from isp.bench import sizes as bench_sizes
from isp.bench import precision as bench_precision
from isp.bench import speed as bench_speed
from isp.archs import check_arch_and_size, parse_photo_sizes
from isp.tfimport import import_tf, tf_major
from isp.args import (
    RUNS,
    THREADS,
    Arg,
    IntList,
    distinct_ints,
    parse_args,
    positive_float,
    positive_int,
    to_bool,
)

ARGS = [
    Arg("mode", str, "speed", "speed, quality, precision, horovod, input, sizes or colours (see above)"),
    Arg("archs", str, "model,punet", "comma-separated arch[:num_maps_base]; ratios are to the first"),
    Arg("img_h", positive_int, 1088, "inference height (full resolution)"),
    Arg("img_w", positive_int, 1920, "inference width (full resolution)"),
    Arg("batch_size", positive_int, 8, "training-step batch (speed, quality and input modes)"),
    Arg("patch", positive_int, 256, "training patch side (full resolution)"),
    RUNS._replace(help="timed rounds (after one warm-up round)"),
    THREADS,
    Arg("tflite", to_bool, True, "also time TFLite FP32"),
    Arg("train", to_bool, True, "also time a training step"),
    Arg("dataset_dir", str, "raw_images/", "quality, precision, horovod and colours modes: dataset (make it with "
        "make_demo_data.py)"),
    Arg("iters", positive_int, 600, "quality mode: training iterations per arch; horovod mode: iters vs 2 x iters"),
    Arg("curve", str, "", "quality mode: learning curve, validation figures at these iterations (e.g. "
        "1000,2000,5000,10000,20000; replaces iters)"),
    Arg("work_dir", str, "", "quality mode: keep each arch's run here and resume it on a restart (default: a "
        "temporary folder)"),
    Arg("out", str, "", "quality mode with curve: CSV and PNG path without extension (default: "
        "<work_dir or results>/curves_lr<learning_rate>)"),
    Arg("infer", to_bool, True, "quality mode: also time inference at img_h x img_w and print the trade-off"),
    Arg("learning_rate", positive_float, 5e-4, "quality mode: Adam learning rate"),
    Arg("seed", distinct_ints, IntList([0]),
        "random seed; quality mode takes several (seed=0,1,2): each arch is trained once per seed and the "
        "tables and plot give the mean"),
    Arg("ckpt", str, "", "precision, sizes and colours modes: checkpoint prefix of the first arch "
        "(.../<arch>_iteration_N.ckpt)"),
    Arg("calib_size", positive_int, 100, "precision mode: INT8 calibration inputs"),
    Arg("photo_sizes", str, bench_sizes.DEFAULT_SIZES, "sizes mode: WxH photo sizes"),
    Arg("test_dir", str, "fujifilm_full_resolution/", "colours mode: sub-folder of <dataset_dir>/test with the "
        "full-size RAW PNGs (or DNGs, e.g. test_dir=dng/)"),
]


def parse_archs(text, sizes):
    """[(arch, num_maps_base)] from archs=, each checked against the (name_w, w, name_h, h) sizes."""
    out = []
    for word in text.split(","):
        arch, _, b = word.strip().partition(":")
        try:
            nmb = int(b) if b else 16
        except ValueError:
            raise UsageError("bad num_maps_base in %r (expected arch or arch:N)" % word)
        if nmb <= 0:
            raise UsageError("num_maps_base must be positive in %r" % word)
        for name_w, w, name_h, h in sizes:
            check_arch_and_size(arch, name_w, w, name_h, h, nmb)
        out.append((arch, nmb))
    if not out:
        raise UsageError("archs= is empty")
    return out


def one_seed(a):
    """The seed of the modes that take one."""
    if len(a["seed"]) > 1:
        raise UsageError("seed=%s: several seeds are for mode=quality; mode=%s takes one" % (a["seed"], a["mode"]))
    return a["seed"][0]


def main(argv):
    a = parse_args(ARGS, argv, prog="benchmark.py", doc=__doc__)
    if a["mode"] not in ("speed", "quality", "precision", "horovod", "input", "sizes", "colours"):
        raise UsageError("mode=%r: use speed, quality, precision, horovod, input, sizes or colours" % a["mode"])
    archs = parse_archs(a["archs"], [("img_w", a["img_w"], "img_h", a["img_h"]),
                                     ("patch", a["patch"], "patch", a["patch"])])
    if a["mode"] == "speed":
        bench_speed.speed(archs, a["img_h"], a["img_w"], a["batch_size"], a["patch"], a["runs"], a["threads"],
                          train=a["train"], tflite=a["tflite"])
    elif a["mode"] == "precision":
        bench_precision.precision(archs, one_seed(a), a["ckpt"], a["dataset_dir"], a["img_h"], a["img_w"], a["runs"],
                                  a["threads"], a["calib_size"])
    elif a["mode"] == "horovod":
        bench_horovod.horovod(archs, one_seed(a), a["dataset_dir"], a["batch_size"], a["patch"], a["iters"])
    elif a["mode"] == "sizes":
        if not a["ckpt"]:
            raise UsageError("mode=sizes needs ckpt= (e.g. ckpt=models/original/model_pretrained.ckpt)")
        tf = import_tf()
        if tf_major() < 2:
            raise UsageError("mode=sizes needs the TF 2.x converter (the any-size file); run it with .venv/bin/python")
        bench_sizes.sizes(tf, archs[0][0], archs[0][1], a["ckpt"],
                          parse_photo_sizes(a["photo_sizes"], "photo_sizes", archs[0][0], archs[0][1]), a["runs"],
                          a["threads"])
    elif a["mode"] == "colours":
        if not a["ckpt"]:
            raise UsageError("mode=colours needs ckpt= (e.g. ckpt=models/original/model_pretrained.ckpt)")
        bench_colours.colours(import_tf(), archs[0][0], archs[0][1], a["ckpt"], a["dataset_dir"], a["test_dir"])
    elif a["mode"] == "input":
        bench_input.input_pipeline(archs, a["batch_size"], a["patch"], a["runs"])
    else:
        budget = bench_curves.Budget(a["dataset_dir"], a["batch_size"], a["patch"], a["learning_rate"], a["seed"])
        bench_curves.quality(archs, budget, a["curve"], a["iters"], a["work_dir"], a["out"],
                             (a["img_h"], a["img_w"]) if a["infer"] else None, a["runs"])


if __name__ == "__main__":
    run_main(main)
