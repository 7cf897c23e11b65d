"""How benchmark.py's quality mode shows its learning curves: the table at a single budget or at each
curve point (with the first arch's lead), the CSV and PNG, and the MAI-style trade-off of quality
against inference time. A curve is {iteration: (psnr, ssim, ms_ssim, seconds)}; each arch comes as
(label, mean curve over the seeds, {seed: curve})."""
import csv
import math
import statistics

from matplotlib.figure import Figure

from isp.bench.subject import Subject, time_interleaved
from isp.tfimport import import_tf
from isp.utils import atomic_output


def seed_words(seeds):
    """"seed 0" or "seeds 0,1,2"."""
    return ("seed " if len(seeds) == 1 else "seeds ") + str(seeds)


def curves_name(budget):
    """curves_lr<learning_rate>[_s<seeds>]: the default name of a curve's CSV and PNG."""
    seeds = budget.seeds
    return "curves_lr%g" % budget.learning_rate + ("" if list(seeds) == [0] else "_s" + "-".join(map(str, seeds)))


def report(budget, archs, curves, points, base, infer_size=None, runs=5):
    """Print the figures of archs [(arch, nmb)] trained on the bench_curves.Budget `budget` at the
    curve points (and write the CSV and PNG of a curve to base + .csv/.png), then, with infer_size
    (img_h, img_w), the trade-off at the last point (`runs` timed rounds)."""
    seeds = budget.seeds
    print("equal budget: batch %d, %dx%d patches, Adam %g, loss 20*MSE + 20*(1-SSIM), %s, data %s" % (
        budget.batch_size, budget.patch, budget.patch, budget.learning_rate,
        seed_words(seeds) + ("" if len(seeds) == 1 else " (each arch's row: the mean; its seeds below it)"),
        budget.dataset_dir))
    if len(points) == 1:  # a single budget: one row per arch
        print("%-10s %9s %8s %8s %9s" % ("arch", "val PSNR", "SSIM", "MS-SSIM", "train s"))
        for label, curve, per_seed in curves:
            for name, c in _rows(label, curve, per_seed):
                print("%-10s %9.2f %8.4f %8.4f %9.0f" % ((name,) + c[points[0]]))
    else:
        print_curves(curves, points)
        write_curves(budget, curves, points, base)
    if infer_size:
        tradeoff(archs, curves, points[-1], infer_size, runs)


def _rows(label, curve, per_seed):
    """The rows of one arch: its (mean) curve, then each seed's when there are several."""
    rows = [(label, curve)]
    if len(per_seed) > 1:
        rows += [("  seed %d" % seed, c) for seed, c in per_seed.items()]
    return rows


def print_curves(curves, points):
    """The PSNR/SSIM table at each point, then the first arch's lead over each other arch."""
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


def write_curves(budget, curves, points, base):
    """base.csv and base.png of the curves. With several seeds: each seed's rows and the mean's in
    the CSV, the mean (thick) and each seed (thin) in the PNG."""
    seeds = budget.seeds
    with atomic_output(base + ".csv") as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["arch", "learning_rate", "seed", "iteration", "val_psnr", "val_ssim", "val_ms_ssim",
                        "train_s"])
            for label, curve, per_seed in curves:
                rows = list(per_seed.items()) + ([("mean", curve)] if len(per_seed) > 1 else [])
                for seed, c in rows:
                    for it in sorted(c):
                        w.writerow([label, budget.learning_rate, seed, it] + ["%.4f" % v for v in c[it]])
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
        budget.batch_size, budget.patch, budget.patch, budget.learning_rate,
        seed_words(seeds) + ("" if len(seeds) == 1 else " (thin lines: each seed)"), budget.dataset_dir), fontsize=9)
    fig.tight_layout()
    with atomic_output(base + ".png", ".tmp.png") as tmp:
        fig.savefig(tmp, dpi=110)
    print("wrote %s.csv and %s.png" % (base, base))


def tradeoff(archs, curves, last, size, runs):
    """Inference time at size (img_h, img_w) of each arch (`runs` timed rounds) and the MAI-style
    trade-off against the first: PSNR gained per doubling of run time."""
    tf = import_tf()
    img_h, img_w = size
    subjects = [Subject(tf, arch, nmb, img_h, img_w) for arch, nmb in archs]
    time_interleaved(subjects, ["infer"], range(runs))
    times = [statistics.median(s.times["infer"]) for s in subjects]
    print("at iteration %d; inference at %dx%d (TensorFlow, medians of %d interleaved runs):" % (
        last, img_w, img_h, runs))
    print("%-10s %10s %10s %7s %9s %8s %13s" % ("arch", "params", "infer ms", "ratio", "val PSNR", "dPSNR",
                                               "dB/doubling"))
    p0 = curves[0][1][last][0]
    for s, t, (label, curve, _) in zip(subjects, times, curves):
        p = curve[last][0]
        doublings = math.log2(t / times[0])
        per = "-" if abs(doublings) < 1e-3 else "%+.2f" % ((p - p0) / doublings)
        print("%-10s %10d %10.1f %7.3f %9.2f %+8.2f %13s" % (label, s.params, 1000 * t, t / times[0], p, p - p0, per))
