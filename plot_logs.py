"""Plot training logs (models/logs_*.txt) as a PNG: loss and validation PSNR against iterations.

    python plot_logs.py logs=models/logs_model_0-100000.txt out=results/training.png
    python plot_logs.py logs=models/logs_model_0-600.txt,models/logs_punet_0-600.txt

Several logs go on one figure with a legend (a resumed run's logs can be given together under
one label: `logs=models/logs_model_0-1000.txt+models/logs_model_1000-2000.txt`). Left: training
loss (mean since the previous validation) and validation loss; right: validation PSNR. Axes carry
plain numbers (no 10^k or offset notation); the log-scale loss axis labels its minor ticks too
where fewer than two powers of ten are in view. Default labels come from the names:
`logs_punet_0-600.txt` is "punet 0-600", a resumed run's `logs_punet_0-600.txt+logs_punet_600-1200.txt`
"punet 0-1200"; the seed's `logs_0-600.txt` (no arch) is labelled by its file name.
"""
import os

from errors import UsageError, run_main  # first: a third-party module missing below is one line (errors.py)

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter

from args import Arg, parse_args
from train_log import parse_log_name, read_log_lines
from utils import atomic_output, plural

ARGS = [
    Arg("logs", str, "", "comma-separated log files; join a resumed run's files with +"),
    Arg("labels", str, "", "comma-separated legend labels (default: the file names)"),
    Arg("out", str, "results/training.png", "PNG to write"),
    Arg("title", str, "", "figure title"),
]


def read_log(path):
    """[(step, training loss, validation loss, validation PSNR)] from a train_model.py log."""
    if not os.path.isfile(path):
        raise UsageError("log file %r not found" % path)
    rows = [(r["step"], r["train_loss"], r["loss"], r["psnr"]) for r in read_log_lines(path)]
    if not rows:
        raise UsageError("%r holds no train_model.py validation lines" % path)
    return rows


def plain(value, _pos=None):
    """A tick label as a plain number: 2000, 0.5, 12 (not 2x10^3 or an offset)."""
    return "%g" % value if abs(value) < 1e6 else "%d" % value


class MinorLogLabels(Formatter):
    """Minor tick labels of a log axis, shown only while fewer than two major ticks (powers of ten)
    are in view: losses within one power of ten would otherwise leave the axis without a number,
    while over several powers the minor labels would crowd it."""

    def __call__(self, value, pos=None):
        lo, hi = sorted(self.axis.get_view_interval())
        if lo <= 0:
            return ""
        powers = [p for p in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
                  if lo <= 10.0 ** p <= hi]
        return "" if len(powers) >= 2 else plain(value)


def default_label(paths):
    """The label of one run from its log file(s): "punet 0-1200" for logs_punet_0-600.txt and
    logs_punet_600-1200.txt (its whole span), else the file names."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    parsed = [parse_log_name(p) for p in paths]
    if all(parsed) and parsed[0][0] and len({p[0] for p in parsed}) == 1:
        return "%s %d-%d" % (parsed[0][0], min(p[1] for p in parsed), max(p[2] for p in parsed))
    return "+".join(os.path.basename(p) for p in paths)


def plot(runs, out, title=""):
    """runs: [(label, rows)]; writes the figure to `out` atomically and returns it."""
    fig = Figure(figsize=(11, 4.2))  # no pyplot: no GUI backend, no global figure to close
    ax_loss, ax_psnr = fig.subplots(1, 2)
    for k, (label, rows) in enumerate(runs):
        colour = "C%d" % (k % 10)
        steps = [r[0] for r in rows]
        ax_loss.plot(steps, [r[1] for r in rows], "--", color=colour, label="%s train" % label)
        ax_loss.plot(steps, [r[2] for r in rows], "-o", color=colour, ms=3, label="%s val" % label)
        ax_psnr.plot(steps, [r[3] for r in rows], "-o", color=colour, ms=3, label=label)
    ax_loss.set(xlabel="iteration", ylabel="loss", yscale="log", title="loss")
    ax_loss.yaxis.set_minor_formatter(MinorLogLabels())
    ax_psnr.set(xlabel="iteration", ylabel="PSNR (dB)", title="validation PSNR")
    for ax in (ax_loss, ax_psnr):
        ax.xaxis.set_major_formatter(FuncFormatter(plain))
        ax.yaxis.set_major_formatter(FuncFormatter(plain))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(out, ".tmp.png") as tmp:
        fig.savefig(tmp, dpi=110)
    return fig


def main(argv):
    a = parse_args(ARGS, argv, prog="plot_logs.py", doc=__doc__)
    groups = [g for g in a["logs"].split(",") if g.strip()]
    if not groups:
        raise UsageError("no logs given: logs=models/logs_0-100000.txt[,other.txt]")
    labels = [l for l in a["labels"].split(",") if l.strip()] if a["labels"] else []
    if labels and len(labels) != len(groups):
        raise UsageError("%d labels for %d logs" % (len(labels), len(groups)))
    runs = []
    for k, group in enumerate(groups):
        paths = [p.strip() for p in group.split("+") if p.strip()]
        rows = sorted(r for path in paths for r in read_log(path))
        runs.append((labels[k] if labels else default_label(paths), rows))
    folder = os.path.dirname(os.path.abspath(a["out"]))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError("cannot write %r: folder missing or not writable" % a["out"])
    plot(runs, a["out"], a["title"])
    print("wrote %s (%s)" % (a["out"], plural(len(runs), "run")))


if __name__ == "__main__":
    run_main(main)
