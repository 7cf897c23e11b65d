"""Side-by-side cost of the architectures, measured in one process so machine noise cancels.

    python benchmark.py archs=model,punet                       # speed: params, GFLOP, latencies
    python benchmark.py archs=model:8,model:16,model:32,punet   # arch:num_maps_base
    python benchmark.py mode=quality archs=model,punet iters=600   # equal-budget training on the demo data
    python benchmark.py mode=quality archs=model,punet patch=128 curve=1000,2000,5000,10000,20000 \
        work_dir=results/curves/                                  # learning curves, resumable
    python benchmark.py mode=quality ... seed=0,1,2               # the same, mean over three seeds
    python benchmark.py mode=precision archs=model ckpt=models/model_iteration_600.ckpt   # FP32/FP16/INT8
    python benchmark.py mode=horovod archs=model iters=20 patch=128      # images/s with 1 and 2 ranks

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
"""
import contextlib
import csv
import glob
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from matplotlib.figure import Figure

import load_dataset
from archs import check_arch_and_size
from args import Arg, IntList, distinct_ints, parse_args, positive_float, positive_int, to_bool
from checkpoints import checkpoint_exists, existing_iterations, freeze_checkpoint
from errors import Interrupted, UsageError, run_main, signal_name
from evaluate import SsimMeter, psnr_between, score_images, timed
from losses import build_losses
from progress import progress
from tfimport import import_tf, tf_major, tf_version
from tflite import GraphModel, TFLiteModel, calibration_inputs, convert, convert_session
from train_log import find_log, parse_log_line, parse_log_name, read_log_lines
from utils import atomic_output

HERE = os.path.dirname(os.path.abspath(__file__))


def seed_words(seeds):
    """"seed 0" or "seeds 0,1,2"."""
    return ("seed " if len(seeds) == 1 else "seeds ") + str(seeds)


def one_seed(a):
    """The seed of the modes that take one."""
    if len(a["seed"]) > 1:
        raise UsageError("seed=%s: several seeds are for mode=quality; mode=%s takes one" % (a["seed"], a["mode"]))
    return a["seed"][0]

ARGS = [
    Arg("mode", str, "speed", "speed, quality, precision or horovod (see above)"),
    Arg("archs", str, "model,punet", "comma-separated arch[:num_maps_base]; ratios are to the first"),
    Arg("img_h", positive_int, 1088, "inference height (full resolution)"),
    Arg("img_w", positive_int, 1920, "inference width (full resolution)"),
    Arg("batch_size", positive_int, 8, "training-step batch (speed and quality modes)"),
    Arg("patch", positive_int, 256, "training patch side (full resolution)"),
    Arg("runs", positive_int, 5, "timed rounds (after one warm-up round)"),
    Arg("threads", positive_int, 2, "TFLite interpreter threads (TF 2.x; TF 1.15 uses its default)"),
    Arg("tflite", to_bool, True, "also time TFLite FP32"),
    Arg("train", to_bool, True, "also time a training step"),
    Arg("dataset_dir", str, "raw_images/", "quality mode: dataset (make it with make_demo_data.py)"),
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
    Arg("ckpt", str, "", "precision mode: checkpoint prefix of the first arch (.../<arch>_iteration_N.ckpt)"),
    Arg("calib_size", positive_int, 100, "precision mode: INT8 calibration inputs"),
]


def parse_archs(text, sizes):
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


class Subject:
    """One arch: its inference graph and session, its training graph and session, its TFLite."""

    def __init__(self, tf, arch, nmb, a):
        import model  # builds on TensorFlow: imported after it
        self.label = "%s:%d" % (arch, nmb)
        h, w = a["img_h"], a["img_w"]
        self.infer_graph = tf.Graph()
        with self.infer_graph.as_default():
            self.x = tf.placeholder(tf.float32, [1, h // 2, w // 2, 4])
            self.y = model.build(arch, self.x, nmb)
            self.params = sum(int(np.prod(v.shape.as_list())) for v in tf.global_variables())
            flops = tf.profiler.profile(self.infer_graph, options=tf.profiler.ProfileOptionBuilder(
                tf.profiler.ProfileOptionBuilder.float_operation()).with_empty_output().build())
            self.gflop = flops.total_float_ops / 1e9
            self.sess = tf.Session(graph=self.infer_graph)
            self.sess.run(tf.global_variables_initializer())
        self.input = np.random.RandomState(0).rand(1, h // 2, w // 2, 4).astype(np.float32)
        self.train_sess = None
        if a["train"]:
            p, b = a["patch"], a["batch_size"]
            self.train_graph = tf.Graph()
            with self.train_graph.as_default():
                self.tx = tf.placeholder(tf.float32, [None, p // 2, p // 2, 4])
                self.ty = tf.placeholder(tf.float32, [None, p, p, 3])
                out = model.build(arch, self.tx, nmb)
                loss = build_losses(tf, out, self.ty, None, p, p)["loss"]
                self.step = tf.train.AdamOptimizer(1e-4).minimize(loss)
                self.train_sess = tf.Session(graph=self.train_graph)
                self.train_sess.run(tf.global_variables_initializer())
            rng = np.random.RandomState(1)
            self.batch = {self.tx: rng.rand(b, p // 2, p // 2, 4).astype(np.float32),
                          self.ty: rng.rand(b, p, p, 3).astype(np.float32)}
        self.tflite = None
        if a["tflite"]:
            with self.infer_graph.as_default():
                content = convert_session(tf, self.sess, [self.x], [self.y])
            self.tflite = TFLiteModel(tf, "(%s in memory)" % self.label, a["threads"], content=content)
        self.times = {"infer": [], "train": [], "tflite": []}

    def run_infer(self):
        return self.sess.run(self.y, {self.x: self.input})

    def run_train(self):
        self.train_sess.run(self.step, self.batch)

    def run_tflite(self):
        return self.tflite.run(self.input)


def speed(a, archs):
    tf = import_tf()
    subjects = [Subject(tf, arch, nmb, a) for arch, nmb in progress(archs, desc="building", unit="arch")]
    kinds = [("infer", "run_infer")]
    if a["train"]:
        kinds.append(("train", "run_train"))
    if a["tflite"]:
        kinds.append(("tflite", "run_tflite"))
    for s in subjects:  # warm-up
        for _, method in kinds:
            getattr(s, method)()
    for _ in progress(range(a["runs"]), desc="timing", unit="round"):
        for kind, method in kinds:
            for s in subjects:
                s.times[kind].append(timed(getattr(s, method)))
    med = {(s.label, k): statistics.median(s.times[k]) for s in subjects for k, _ in kinds}
    first = subjects[0].label
    threads = subjects[0].tflite.threads if a["tflite"] else "-"
    print("TensorFlow %s, Python %s, %s, %d CPUs; inference at %dx%d, training batch %d of %dx%d, "
          "TFLite threads %s; medians of %d interleaved runs; ratio = arch time / %s time" % (
              tf_version(), platform.python_version(), platform.machine(), os.cpu_count(),
              a["img_w"], a["img_h"], a["batch_size"], a["patch"], a["patch"], threads, a["runs"], first))
    head = "%-10s %10s %8s %12s %7s" % ("arch", "params", "GFLOP", "infer ms", "ratio")
    if a["train"]:
        head += " %12s %7s" % ("train ms", "ratio")
    if a["tflite"]:
        head += " %12s %7s" % ("tflite ms", "ratio")
    print(head)
    for s in subjects:
        row = "%-10s %10d %8.2f %12.1f %7.3f" % (s.label, s.params, s.gflop, 1000 * med[s.label, "infer"],
                                                 med[s.label, "infer"] / med[first, "infer"])
        for kind in ("train", "tflite"):
            if a[kind]:
                row += " %12.1f %7.3f" % (1000 * med[s.label, kind], med[s.label, kind] / med[first, kind])
        print(row)


def curve_points(a):
    """The iterations at which quality mode reports (sorted), and the validation period."""
    if not a["curve"]:
        return [a["iters"]], a["iters"]
    try:
        points = sorted({int(w) for w in a["curve"].split(",") if w.strip()})
    except ValueError:
        raise UsageError("curve=%r: expected comma-separated iterations, e.g. curve=1000,2000,5000" % a["curve"])
    if not points or points[0] <= 0:
        raise UsageError("curve=%r: iterations must be positive" % a["curve"])
    step = points[0]
    for p in points[1:]:
        step = math.gcd(step, p)
    return points, step


def _log_start(path):
    return parse_log_name(path)[1]  # logs_<arch>_<start>-<end>.txt or the seed's logs_<start>-<end>.txt


def read_curve(run_dir):
    """{iteration: (psnr, ssim, ms_ssim, seconds)} from every log of a run folder (a resumed run
    writes one log per start; the later start wins where they overlap, and its seconds, counted
    from its own start, continue those of the run it resumed)."""
    points = {}
    logs = [p for p in glob.glob(os.path.join(run_dir, "logs_*-*.txt")) if parse_log_name(p)]
    for path in sorted(logs, key=_log_start):
        start = _log_start(path)
        offset = max([v[3] for k, v in points.items() if k <= start] or [0.0])
        for row in read_log_lines(path):
            points[row["step"]] = (row["psnr"], row["ssim"], row["ms_ssim"], offset + (row["seconds"] or 0.0))
    return points


def train_curve(a, arch, nmb, seed, run_dir, points, step):
    """Train arch with this seed in run_dir up to the last curve point, resuming from its newest checkpoint."""
    last = points[-1]
    done = read_curve(run_dir) if os.path.isdir(run_dir) else {}
    label = "%s:%d" % (arch, nmb) + (" seed %d" % seed if len(a["seed"]) > 1 else "")
    if last in done:
        print("%s: complete in %s (delete that folder to train it again)" % (label, run_dir), flush=True)
        return done
    resume = bool(existing_iterations(run_dir, arch))
    cmd = [sys.executable, os.path.join(HERE, "train_model.py"), "arch=" + arch,
           "num_maps_base=%d" % nmb, "dataset_dir=" + a["dataset_dir"], "model_dir=" + run_dir,
           "result_dir=" + os.path.join(run_dir, "previews"), "tensorboard=False",
           "content_loss=False", "batch_size=%d" % a["batch_size"], "patch_w=%d" % a["patch"],
           "patch_h=%d" % a["patch"], "train_size=100000", "learning_rate=%g" % a["learning_rate"],
           "eval_step=%d" % step, "num_train_iters=%d" % last, "seed=%d" % seed]
    if resume:
        cmd.append("restore_iter=latest")
    start_at = max(done) if done else 0
    print("%s: training to %d iterations%s, validating every %d ..." % (
        label, last, " (resuming from %d)" % start_at if resume and done else "", step), flush=True)
    os.makedirs(run_dir, exist_ok=True)
    err_path = os.path.join(run_dir, "train_stderr.txt")
    t0 = time.time()
    with open(err_path, "a") as err:
        # In its own session, so that a Ctrl-C in the terminal reaches this process only: each
        # SIGINT/SIGTERM that this process gets is passed on to the training once (the first makes
        # it save and stop, a second stops it at once). Left to itself, a training whose parent
        # was killed would run on unseen until its next progress line broke the pipe, unsaved.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, universal_newlines=True,
                                start_new_session=True)
        with _signals_passed_to(proc) as received:
            for line in proc.stdout:  # one plain progress line per validation (fine in a log file too)
                row = parse_log_line(line)
                if row:
                    it = row["step"]
                    rate = (time.time() - t0) / max(it - start_at, 1)
                    print("  %s step %d/%d: val PSNR %.2f, SSIM %.4f, %.3f s/it, about %.0f min left" % (
                        label, it, last, row["psnr"], row["ssim"], rate, rate * (last - it) / 60), flush=True)
            proc.wait()
    if proc.returncode != 0 or received:
        with open(err_path) as f:
            tail = [line for line in f.read().splitlines() if line.strip()][-1:]
        said = tail[0] if tail else ""
        if received:  # stopped by the user: say what it saved and how to go on
            if proc.returncode == 0:
                what = "had finished when %s came" % signal_name(received[0])
            elif "stopped by" in said:
                what = said.split(": ", 1)[-1].split("; resume with:")[0]
            else:
                what = "stopped by %s before saving anything new" % signal_name(received[0])
            raise Interrupted("%s %s; the same benchmark.py command continues from its last checkpoint" % (
                label, what), received[0])
        raise UsageError("training %s failed (exit %d): %s (all of it: %s)" % (
            label, proc.returncode, said, err_path))
    return read_curve(run_dir)


@contextlib.contextmanager
def _signals_passed_to(proc):
    """A block during which this process's SIGINT and SIGTERM are sent on to proc; yields the list
    of the signals received."""
    received = []

    def forward(signum, frame):
        received.append(signum)
        if proc.poll() is None:
            proc.send_signal(signum)
    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def quality(a, archs):
    load_dataset.paired_names(a["dataset_dir"], "train", "mediatek_raw/", "fujifilm/")
    load_dataset.paired_names(a["dataset_dir"], "val", "mediatek_raw/", "fujifilm/")
    points, step = curve_points(a)
    seeds = a["seed"]
    with contextlib.ExitStack() as stack:
        work = a["work_dir"] or stack.enter_context(tempfile.TemporaryDirectory())
        runs = {}  # (arch, nmb): {seed: curve}
        for seed in seeds:  # every arch at the first seed, then at the next: comparable pairs come early
            for arch, nmb in archs:
                run_dir = os.path.join(work, "%s%d_lr%g_b%d_p%d_s%d" % (
                    arch, nmb, a["learning_rate"], a["batch_size"], a["patch"], seed))
                curve = train_curve(a, arch, nmb, seed, run_dir, points, step)
                missing = [p for p in points if p not in curve]
                if missing:
                    raise UsageError("the log of %s has no validation at iteration(s) %s" % (
                        run_dir, ",".join(map(str, missing))))
                runs.setdefault((arch, nmb), {})[seed] = curve
    # (label, mean curve over the seeds, {seed: curve}); with one seed the mean is that seed's curve
    curves = [("%s:%d" % key, mean_curve(list(per_seed.values())), per_seed) for key, per_seed in runs.items()]
    print("equal budget: batch %d, %dx%d patches, Adam %g, loss 20*MSE + 20*(1-SSIM), %s, data %s" % (
        a["batch_size"], a["patch"], a["patch"], a["learning_rate"],
        seed_words(seeds) + ("" if len(seeds) == 1 else " (each arch's row: the mean; its seeds below it)"),
        a["dataset_dir"]))
    if len(points) == 1:  # a single budget: one row per arch, as before
        print("%-10s %9s %8s %8s %9s" % ("arch", "val PSNR", "SSIM", "MS-SSIM", "train s"))
        for label, curve, per_seed in curves:
            for name, c in _rows(label, curve, per_seed):
                print("%-10s %9.2f %8.4f %8.4f %9.0f" % ((name,) + c[points[0]]))
    else:
        print_curves(curves, points)
        write_curves(a, curves, points)
    if a["infer"]:
        tradeoff(a, archs, curves, points[-1])


def mean_curve(curves):
    """{iteration: mean of each figure} over the iterations that every curve has."""
    common = set.intersection(*(set(c) for c in curves))
    return {it: tuple(float(np.mean([c[it][k] for c in curves])) for k in range(len(curves[0][it])))
            for it in sorted(common)}


def _rows(label, curve, per_seed):
    """The rows of one arch: its (mean) curve, then each seed's when there are several."""
    rows = [(label, curve)]
    if len(per_seed) > 1:
        rows += [("  seed %d" % seed, c) for seed, c in per_seed.items()]
    return rows


def print_curves(curves, points):
    print("validation PSNR (dB) / SSIM at each iteration:")
    print("%-10s" % "arch" + "".join("%16d" % p for p in points))
    for label, curve, per_seed in curves:
        for name, c in _rows(label, curve, per_seed):
            print("%-10s" % name + "".join("%9.2f/%.4f" % c[p][:2] for p in points))
    if len(curves) > 1:  # rows "-punet": the first arch's lead over that arch
        first_label, first = curves[0][:2]
        for label, curve, _ in curves[1:]:
            name = label.split(":")[0]  # the arch's name, or all of the label where it is the first arch's
            print("%-10s" % ("-" + (label if name == first_label.split(":")[0] else name)) +
                  "".join("%+9.2f/%+.4f" % (first[p][0] - curve[p][0], first[p][1] - curve[p][1])
                          for p in points))


def write_curves(a, curves, points):
    """CSV and PNG of the curves beside the runs (or in results/ for a temporary work_dir). With several
    seeds: each seed's rows and the mean's in the CSV, the mean (thick) and each seed (thin) in the PNG."""
    seeds = a["seed"]
    name = "curves_lr%g" % a["learning_rate"] + ("" if list(seeds) == [0] else "_s" + "-".join(map(str, seeds)))
    base = a["out"] or os.path.join(a["work_dir"] or "results", name)
    with atomic_output(base + ".csv") as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["arch", "learning_rate", "seed", "iteration", "val_psnr", "val_ssim", "val_ms_ssim",
                        "train_s"])
            for label, curve, per_seed in curves:
                rows = list(per_seed.items()) + ([("mean", curve)] if len(per_seed) > 1 else [])
                for seed, c in rows:
                    for it in sorted(c):
                        w.writerow([label, a["learning_rate"], seed, it] + ["%.4f" % v for v in c[it]])
    fig = Figure(figsize=(11, 4.2))  # no pyplot: no GUI backend, no global figure to close
    axes = fig.subplots(1, 2)
    for k, (label, curve, per_seed) in enumerate(curves):
        its = sorted(curve)
        for ax, col in zip(axes, (0, 1)):
            ax.plot(its, [curve[i][col] for i in its], "-", color="C%d" % k,
                    label=label if len(seeds) == 1 else "%s, mean of %d seeds" % (label, len(seeds)))
            ax.plot(points, [curve[p][col] for p in points], "o", color="C%d" % k, ms=4)
            if len(per_seed) > 1:
                for c in per_seed.values():
                    ax.plot(sorted(c), [c[i][col] for i in sorted(c)], "-", color="C%d" % k, lw=0.7, alpha=0.4)
    for ax, title in zip(axes, ("validation PSNR (dB)", "validation SSIM")):
        ax.set(xlabel="iteration", ylabel=title, title=title)
        ax.ticklabel_format(axis="both", style="plain", useOffset=False)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("batch %d, %dx%d patches, Adam %g, %s, %s" % (
        a["batch_size"], a["patch"], a["patch"], a["learning_rate"],
        seed_words(seeds) + ("" if len(seeds) == 1 else " (thin lines: each seed)"), a["dataset_dir"]), fontsize=9)
    fig.tight_layout()
    with atomic_output(base + ".png", ".tmp.png") as tmp:
        fig.savefig(tmp, dpi=110)
    print("wrote %s.csv and %s.png" % (base, base))


def tradeoff(a, archs, curves, last):
    """Inference time at img_h x img_w of each arch and the MAI-style trade-off against the first:
    PSNR gained per doubling of run time."""
    tf = import_tf()
    sub = dict(a, train=False, tflite=False)
    subjects = [Subject(tf, arch, nmb, sub) for arch, nmb in archs]
    for s in subjects:
        s.run_infer()
    for _ in range(a["runs"]):
        for s in subjects:
            s.times["infer"].append(timed(s.run_infer))
    times = [statistics.median(s.times["infer"]) for s in subjects]
    print("at iteration %d; inference at %dx%d (TensorFlow, medians of %d interleaved runs):" % (
        last, a["img_w"], a["img_h"], a["runs"]))
    print("%-10s %10s %10s %7s %9s %8s %13s" % ("arch", "params", "infer ms", "ratio", "val PSNR", "dPSNR",
                                               "dB/doubling"))
    p0 = curves[0][1][last][0]
    for s, t, (label, curve, _) in zip(subjects, times, curves):
        p = curve[last][0]
        doublings = math.log2(t / times[0])
        per = "-" if abs(doublings) < 1e-3 else "%+.2f" % ((p - p0) / doublings)
        print("%-10s %10d %10.1f %7.3f %9.2f %+8.2f %13s" % (label, s.params, 1000 * t, t / times[0], p, p - p0, per))


def precision(a, archs):
    arch, nmb = archs[0]
    seed = one_seed(a)
    tf = import_tf()  # before anything imports tensorflow: it quiets TF's C++ logs
    if not checkpoint_exists(a["ckpt"]):
        raise UsageError("ckpt=%r: no such checkpoint (give the prefix, e.g. models/model_iteration_600.ckpt)"
                         % a["ckpt"])
    precisions = ["fp32", "fp16"] + (["int8"] if tf_major() >= 2 else [])
    names = load_dataset.paired_names(a["dataset_dir"], "val", "mediatek_raw/", "fujifilm/")
    raw_dir, rgb_dir = (os.path.join(a["dataset_dir"], "val", d) for d in ("mediatek_raw", "fujifilm"))
    vw, vh = load_dataset.raw_size(os.path.join(raw_dir, names[0]))
    val_raw, val_rgb = load_dataset.load_pairs(a["dataset_dir"], "val", "mediatek_raw/", "fujifilm/", names, vh, vw)
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size, (h, w) in (("val", (vh, vw)), ("img", (a["img_h"], a["img_w"]))):
            pb = os.path.join(tmp, "%s.pb" % size)
            freeze_checkpoint(tf, arch, nmb, a["ckpt"], h, w, pb)
            shape = (1, h // 2, w // 2, 4)
            calib = None
            for p in progress(precisions, desc="converting at %dx%d" % (w, h), unit="model"):
                if p == "int8":
                    calib = calib or list(calibration_inputs(a["dataset_dir"], "mediatek_raw/", shape,
                                                             a["calib_size"], seed))
                path = os.path.join(tmp, "%s_%s.tflite" % (size, p))
                with open(path, "wb") as f:
                    f.write(convert(tf, pb, shape, p, "uint8", calib))
                models[size, p] = TFLiteModel(tf, path, a["threads"])
                models[size, p].bytes = os.path.getsize(path)
            if size == "val":
                models["val", "graph"] = GraphModel(tf, pb)
        rows = {}
        ssim = SsimMeter(tf)
        val = []  # (index, input, target) for score_images
        for i in range(len(val_raw)):
            x, y = load_dataset.to_float(val_raw[i:i + 1], val_rgb[i:i + 1])
            val.append((i, x, y[0]))
        fp32_out = {}
        for p in ["fp32"] + [q for q in precisions if q != "fp32"]:
            ps, ss, ref, dmax = [], [], [], 0.0
            for r in score_images(models["val", p].run, val, ssim):
                ps.append(r.psnr)
                ss.append(r.ssim)
                if p == "fp32":
                    fp32_out[r.name] = r.out
                ref.append(psnr_between(r.out, fp32_out[r.name]))
                graph = np.clip(models["val", "graph"].run(r.x)[0], 0, 1)
                dmax = max(dmax, float(np.max(np.abs(r.out - graph))))
            rows[p] = [np.mean(ps), np.mean(ss), np.mean(ref), dmax]
        probe = np.random.RandomState(0).rand(1, a["img_h"] // 2, a["img_w"] // 2, 4).astype(np.float32)
        times = {p: [] for p in precisions}
        for p in precisions:
            models["img", p].timed_invoke(probe)  # warm-up
        for _ in progress(range(a["runs"]), desc="timing", unit="round"):
            for p in precisions:
                times[p].append(models["img", p].timed_invoke(probe))
    print("TensorFlow %s, Python %s, %d CPUs; %s:%d from %s; latency at %dx%d, TFLite threads %s, medians of "
          "%d interleaved runs; quality on %d validation images of %dx%d (%s)%s" % (
              tf_version(), platform.python_version(), os.cpu_count(), arch, nmb, a["ckpt"], a["img_w"], a["img_h"],
              models["img", "fp32"].threads, a["runs"], len(names), vw, vh, raw_dir,
              "; INT8: uint8 input/output, %d calibration inputs" % a["calib_size"] if "int8" in precisions else ""))
    print("%-9s %9s %11s %7s %9s %7s %13s %16s" % ("precision", "size KB", "latency ms", "ratio", "val PSNR",
                                                   "SSIM", "PSNR vs FP32", "max-abs vs graph"))
    base = statistics.median(times["fp32"])
    for p in precisions:
        t = statistics.median(times[p])
        print("%-9s %9.1f %11.1f %7.3f %9.2f %7.4f %13s %16.2g" % (
            p.upper(), models["img", p].bytes / 1024.0, 1000 * t, t / base, rows[p][0], rows[p][1],
            "-" if p == "fp32" else "%.2f" % rows[p][2], rows[p][3]))
    if "int8" not in precisions:
        print("(no INT8 row: TF %s's converter cannot quantise these graphs; run this on TF 2.x)" % tf_version())


def horovod(a, archs):
    seed = one_seed(a)
    load_dataset.paired_names(a["dataset_dir"], "train", "mediatek_raw/", "fujifilm/")
    runner = os.path.join(os.path.dirname(sys.executable), "horovodrun")
    if subprocess.run([sys.executable, "-c", "import horovod.tensorflow"], stderr=subprocess.DEVNULL).returncode:
        raise UsageError("mode=horovod needs Horovod in this stack: bash setup_env.sh tf2-horovod, then "
                         ".venv-tf2-horovod/bin/python benchmark.py mode=horovod (or WITH_HOROVOD=1 bash "
                         "setup_env.sh tf1 and .venv-tf1/bin/python)")
    arch, nmb = archs[0]
    rates, spans = {}, {}
    for ranks in (1, 2):
        seconds = {}
        for iters in (a["iters"], 2 * a["iters"]):
            with tempfile.TemporaryDirectory() as model_dir:
                cmd = [runner, "-np", str(ranks), "-H", "localhost:%d" % ranks, "--gloo", sys.executable,
                       os.path.join(HERE, "train_model.py"), "distributed=True", "arch=" + arch,
                       "num_maps_base=%d" % nmb, "dataset_dir=" + a["dataset_dir"], "model_dir=" + model_dir,
                       "content_loss=False", "tensorboard=False", "batch_size=%d" % a["batch_size"],
                       "patch_w=%d" % a["patch"], "patch_h=%d" % a["patch"], "train_size=100000",
                       "eval_step=%d" % iters, "num_train_iters=%d" % iters, "seed=%d" % seed]
                print("%d rank%s, %d iterations ..." % (ranks, "s" if ranks > 1 else "", iters), flush=True)
                proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
                if proc.returncode != 0:
                    raise UsageError("horovodrun failed (exit %d): %s" % (
                        proc.returncode, proc.stdout.strip().splitlines()[-1:] or ""))
                seconds[iters] = read_log_lines(find_log(model_dir, arch, 0, iters))[-1]["seconds"]
        spans[ranks] = seconds[2 * a["iters"]] - seconds[a["iters"]]
        rates[ranks] = ranks * a["batch_size"] * a["iters"] / max(spans[ranks], 1e-9)
    print("Horovod (Gloo, CPU), TF %s, %d CPUs; %s:%d, batch %d per rank, %dx%d patches; images/s from "
          "%d vs %d iterations" % (tf_version(), os.cpu_count(), arch, nmb, a["batch_size"], a["patch"], a["patch"],
                                   a["iters"], 2 * a["iters"]))
    print("%-6s %10s %12s" % ("ranks", "images/s", "efficiency"))
    for ranks, rate in rates.items():
        print("%-6d %10.1f %12.2f" % (ranks, rate, rate / (ranks * rates[1])))
    if min(spans.values()) < 3.0:  # the logs give seconds to 0.1 s
        print("note: the %d extra iterations took only %.1f s; the logs time to 0.1 s, so these rates are "
              "rough: raise iters for a measurement" % (a["iters"], min(spans.values())))


def main(argv):
    a = parse_args(ARGS, argv, prog="benchmark.py", doc=__doc__)
    if a["mode"] not in ("speed", "quality", "precision", "horovod"):
        raise UsageError("mode=%r: use speed, quality, precision or horovod" % a["mode"])
    archs = parse_archs(a["archs"], [("img_w", a["img_w"], "img_h", a["img_h"]),
                                     ("patch", a["patch"], "patch", a["patch"])])
    if a["mode"] == "speed":
        speed(a, archs)
    elif a["mode"] == "precision":
        precision(a, archs)
    elif a["mode"] == "horovod":
        horovod(a, archs)
    else:
        quality(a, archs)


if __name__ == "__main__":
    run_main(main)
