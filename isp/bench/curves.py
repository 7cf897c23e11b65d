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
from collections import namedtuple

import numpy as np

from isp.bench import curves_report as bench_curves_report
from isp import load_dataset
from isp.bench.train import train_command
from isp.checkpoints import existing_iterations
from isp.errors import Interrupted, RunFailure, UsageError, child_with_signals, signal_name
from isp.train_log import parse_log_line, parse_log_name, read_log_lines


# What every arch trains with (the equal budget): the data, the batch, the square patch's side, the
# learning rate, and the seeds (each arch is trained once per seed)
Budget = namedtuple("Budget", "dataset_dir batch_size patch learning_rate seeds")


def curve_points(curve, iters):
    """The iterations at which quality mode reports (sorted), and the validation period: those of
    curve= (text, e.g. "1000,2000,5000"), or `iters` alone where it is empty."""
    if not curve:
        return [iters], iters
    try:
        points = sorted({int(w) for w in curve.split(",") if w.strip()})
    except ValueError:
        raise UsageError("curve=%r: expected comma-separated iterations, e.g. curve=1000,2000,5000" % curve)
    if not points or points[0] <= 0:
        raise UsageError("curve=%r: iterations must be positive" % curve)
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


def train_curve(budget, arch, nmb, seed, run_dir, points, step):
    """Train arch with this seed in run_dir up to the last curve point, on the Budget `budget`,
    resuming from its newest checkpoint."""
    last = points[-1]
    done = read_curve(run_dir) if os.path.isdir(run_dir) else {}
    label = "%s:%d" % (arch, nmb) + (" seed %d" % seed if len(budget.seeds) > 1 else "")
    if last in done:
        print("%s: complete in %s (delete that folder to train it again)" % (label, run_dir), flush=True)
        return done
    resume = bool(existing_iterations(run_dir, arch))
    cmd = train_command(arch, nmb, seed, run_dir, last, step, "result_dir=" + os.path.join(run_dir, "previews"),
                        "learning_rate=%g" % budget.learning_rate, *(["restore_iter=latest"] if resume else []),
                        dataset_dir=budget.dataset_dir, batch_size=budget.batch_size, patch=budget.patch)
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


def quality(archs, budget, curve, iters, work_dir="", out="", infer_size=None, runs=5):
    """Train each of archs [(arch, nmb)] on the Budget `budget` at each of its seeds (resuming its
    run in work_dir; "": a temporary folder) to `iters` or along curve= (curve_points) and print the
    validation figures at the last iteration or along the curve (the curve's CSV and PNG at `out`,
    "": beside the runs), then, with infer_size (img_h, img_w), the trade-off (`runs` rounds)."""
    load_dataset.paired_names(budget.dataset_dir, "train", "mediatek_raw/", "fujifilm/")
    load_dataset.paired_names(budget.dataset_dir, "val", "mediatek_raw/", "fujifilm/")
    points, step = curve_points(curve, iters)
    seeds = budget.seeds
    with contextlib.ExitStack() as stack:
        work = work_dir or stack.enter_context(tempfile.TemporaryDirectory())
        trained = {}  # (arch, nmb): {seed: curve}
        for seed in seeds:  # every arch at the first seed, then at the next: comparable pairs come early
            for arch, nmb in archs:
                run_dir = os.path.join(work, "%s%d_lr%g_b%d_p%d_s%d" % (
                    arch, nmb, budget.learning_rate, budget.batch_size, budget.patch, seed))
                run = train_curve(budget, arch, nmb, seed, run_dir, points, step)
                missing = [p for p in points if p not in run]
                if missing:
                    raise UsageError("the log of %s has no validation at iteration(s) %s" % (
                        run_dir, ",".join(map(str, missing))))
                trained.setdefault((arch, nmb), {})[seed] = run
    # (label, mean curve over the seeds, {seed: curve}); with one seed the mean is that seed's curve
    curves = [("%s:%d" % key, mean_curve(list(per_seed.values())), per_seed) for key, per_seed in trained.items()]
    base = out or os.path.join(work_dir or "results", bench_curves_report.curves_name(budget))
    bench_curves_report.report(budget, archs, curves, points, base, infer_size, runs)


def mean_curve(curves):
    """{iteration: mean of each figure} over the iterations that every curve has."""
    common = set.intersection(*(set(c) for c in curves))
    return {it: tuple(float(np.mean([c[it][k] for c in curves])) for k in range(len(curves[0][it])))
            for it in sorted(common)}
