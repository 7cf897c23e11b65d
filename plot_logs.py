"""Plot training logs (models/logs_*.txt) as a PNG: loss and validation PSNR against iterations.

    python plot_logs.py logs=models/logs_model_0-100000.txt out=results/training.png
    python plot_logs.py logs=models/logs_model_0-600.txt,models/logs_punet_0-600.txt

Several runs go on one figure with a legend. A run is given by its first log: the logs that resume
it in the same folder (logs_model_202-400.txt after logs_model_0-400.txt stopped at 202) are joined
to it; by its model_dir (each run in it); or by log files joined with + (`logs=a.txt+b.txt`). Left: training
loss (mean since the previous validation) and validation loss; right: validation PSNR. Axes carry
plain numbers (no 10^k or offset notation); the log-scale loss axis labels its minor ticks too
where fewer than two powers of ten are in view. Default labels come from the names:
`logs_punet_0-600.txt` is "punet 0-600", a resumed run's `logs_punet_0-600.txt+logs_punet_600-1200.txt`
"punet 0-1200"; a run whose lines stop short of its planned end says so ("punet 0-202 (of 0-600)");
the seed's `logs_0-600.txt` (no arch) is labelled by its file name.
"""
import os

from isp.errors import UsageError, run_main  # first: a third-party module missing below is one line (isp/errors.py)

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter

from isp.args import Arg, parse_args
from isp.train_log import parse_log_name, read_log_lines, run_logs
from isp.utils import atomic_output, plural

ARGS = [
    Arg("logs", str, "", "comma-separated runs: a run's first log (its resumed logs beside it are joined), a "
                         "model_dir (each run in it) or log files joined with +"),
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


def drawn_label(paths, rows):
    """The label of what is drawn: default_label's "<arch> <start>-<end>", with the step the drawn
    lines reach where that is short of the planned end ("model 0-202 (of 0-400)": a run that
    stopped and was not resumed, or whose resumed log was not given)."""
    parsed = [parse_log_name(p) for p in paths]
    if all(parsed) and parsed[0][0] and rows:
        start, planned, last = min(p[1] for p in parsed), max(p[2] for p in parsed), max(r[0] for r in rows)
        if last != planned:
            return "%s %d-%d (of %d-%d)" % (parsed[0][0], start, last, start, planned)
    return default_label(paths)


def _last_step(path):
    rows = read_log_lines(path)
    return rows[-1]["step"] if rows else None


def run_files(path):
    """A run's logs from its first: `path`, then each log of the same arch in its folder that starts
    where the ones before end (a resume writes logs_<arch>_<last step>-<end>.txt)."""
    parsed = parse_log_name(path)
    if not parsed:
        return [path]
    by_start = {start: p for start, _, p in run_logs(os.path.dirname(path), parsed[0])}
    files, last = [path], _last_step(path)
    while last in by_start and by_start[last] not in files:
        files.append(by_start[last])
        last = _last_step(files[-1])
    return files


def folder_runs(folder):
    """Every run whose logs are in a model_dir: [[its log files, first to last]], by arch and start."""
    runs = []
    for arch in sorted({parse_log_name(n)[0] or "" for n in os.listdir(folder) if parse_log_name(n)}):
        logs = run_logs(folder, arch or None)
        resumed = {p for path in (p for _, _, p in logs) for p in run_files(path)[1:]}
        runs += [run_files(p) for _, _, p in logs if p not in resumed]
    if not runs:
        raise UsageError("%r holds no training logs (logs_<arch>_<start>-<end>.txt)" % folder)
    return runs


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
    files = []
    for group in groups:
        paths = [p.strip() for p in group.split("+") if p.strip()]
        if len(paths) == 1 and os.path.isdir(paths[0]):
            files += folder_runs(paths[0])
        elif len(paths) == 1 and os.path.isfile(paths[0]):
            files.append(run_files(paths[0]))
            if len(files[-1]) > 1:
                print("joined the resumed run's %s to %s" % (", ".join(files[-1][1:]), paths[0]))
        else:
            files.append(paths)
    if labels and len(labels) != len(files):
        raise UsageError("%d labels for %d runs (a model_dir in logs= gives one run per first log)" % (
            len(labels), len(files)))
    runs = []
    for k, paths in enumerate(files):
        rows = sorted(r for path in paths for r in read_log(path))
        runs.append((labels[k] if labels else drawn_label(paths, rows), rows))
    folder = os.path.dirname(os.path.abspath(a["out"]))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError("cannot write %r: folder missing or not writable" % a["out"])
    plot(runs, a["out"], a["title"])
    print("wrote %s (%s)" % (a["out"], plural(len(runs), "run")))


if __name__ == "__main__":
    run_main(main)
