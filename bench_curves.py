"""benchmark.py's quality mode: each arch trained by train_model.py with identical settings, one
resumable run folder per arch and seed, read back from its logs; the validation figures at the last
iteration or along a learning curve (table, CSV, PNG; the mean over seeds), and the MAI-style
trade-off of quality against inference time."""
import contextlib
import csv
import glob
import math
import os
import signal
import statistics
import subprocess
import tempfile
import time

import numpy as np
from matplotlib.figure import Figure

import load_dataset
from bench_subject import Subject, time_interleaved
from bench_train import train_command
from checkpoints import existing_iterations
from train_log import parse_log_line, parse_log_name, read_log_lines
from utils import Interrupted, UsageError, atomic_output, import_tf, signal_name


def seed_words(seeds):
    """"seed 0" or "seeds 0,1,2"."""
    return ("seed " if len(seeds) == 1 else "seeds ") + str(seeds)



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
    cmd = train_command(a, arch, nmb, seed, run_dir, last, step, "result_dir=" + os.path.join(run_dir, "previews"),
                        "learning_rate=%g" % a["learning_rate"], *(["restore_iter=latest"] if resume else []))
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
    """Train each of archs [(arch, nmb)] at each seed (resuming its run in work_dir) and print the
    validation figures at the last iteration or along the curve, then the trade-off."""
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
    time_interleaved(subjects, ["infer"], range(a["runs"]))
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
