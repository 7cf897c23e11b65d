"""benchmark.py's quality mode: each arch trained by train_model.py with identical settings, one
resumable run folder per arch and seed, its validation figures read back from the logs and averaged
over the seeds (bench_curves_report shows them)."""
import contextlib
import glob
import math
import os
import subprocess
import tempfile
import time

import numpy as np

import bench_curves_report
import load_dataset
from bench_train import train_command
from checkpoints import existing_iterations
from errors import Interrupted, RunFailure, UsageError, child_with_signals, signal_name
from train_log import parse_log_line, parse_log_name, read_log_lines


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
    cmd = train_command(arch, nmb, seed, run_dir, last, step, "result_dir=" + os.path.join(run_dir, "previews"),
                        "learning_rate=%g" % a["learning_rate"], *(["restore_iter=latest"] if resume else []),
                        dataset_dir=a["dataset_dir"], batch_size=a["batch_size"], patch=a["patch"])
    start_at = max(done) if done else 0
    print("%s: training to %d iterations%s, validating every %d ..." % (
        label, last, " (resuming from %d)" % start_at if resume and done else "", step), flush=True)
    os.makedirs(run_dir, exist_ok=True)
    err_path = os.path.join(run_dir, "train_stderr.txt")
    t0 = time.monotonic()
    with open(err_path, "a") as err:
        with child_with_signals(cmd, stdout=subprocess.PIPE, stderr=err, universal_newlines=True) as (proc, received):
            for line in proc.stdout:  # one plain progress line per validation (fine in a log file too)
                row = parse_log_line(line)
                if row:
                    it = row["step"]
                    rate = (time.monotonic() - t0) / max(it - start_at, 1)
                    print("  %s step %d/%d: val PSNR %.2f, SSIM %.4f, %.3f s/it, about %.0f min left" % (
                        label, it, last, row["psnr"], row["ssim"], rate, rate * (last - it) / 60), flush=True)
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
        raise RunFailure("training %s failed (exit %d): %s (all of it: %s)" % (
            label, proc.returncode, said, err_path))
    return read_curve(run_dir)


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
    bench_curves_report.report(a, archs, curves, points)


def mean_curve(curves):
    """{iteration: mean of each figure} over the iterations that every curve has."""
    common = set.intersection(*(set(c) for c in curves))
    return {it: tuple(float(np.mean([c[it][k] for c in curves])) for k in range(len(curves[0][it])))
            for it in sorted(common)}
