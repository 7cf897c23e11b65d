"""The training log line: train_model.py writes one per validation to <model_dir>/logs_<a>-<b>.txt,
plot_logs.py and benchmark.py read them back. This module is the one place that knows its format.

    step 600 | training loss: 9.1234 | validation: loss 8.7654, content 0.0000, mse 0.012345,
    psnr 19.09, ms-ssim 0.8123, ssim 0.7011 | 123.4 s          (one line)

and, where there is something to say, notes after it: `| skipped 2 bad training files`,
`| interrupt save (SIGTERM)`.
"""
import os
import re

FIELDS = ("loss", "content", "mse", "psnr", "ms_ssim", "ssim")  # the validation figures, in order
_NUMBER = r"([^\s,|]+)"
_LINE = re.compile(r"step (\d+) \| training loss: %s \| validation: loss %s, content %s, mse %s, psnr %s, "
                   r"ms-ssim %s, ssim %s(?: \| %s s)?((?: \| [^|]*)*?)\s*$" % ((_NUMBER,) * 8))


def log_path(model_dir, start, end):
    """logs_<start>-<end>.txt: one file per run, named by where it started and where it ends."""
    return os.path.join(model_dir, "logs_%d-%d.txt" % (start, end))


def format_log_line(step, train_loss, validation, seconds, notes=()):
    """The line for `step`: mean training loss since the last line, the validation figures
    (a dict with FIELDS), the seconds since the run started and any notes (words without '|')."""
    v = validation
    return ("step %d | training loss: %.4f | validation: loss %.4f, content %.4f, mse %.6f, psnr %.2f, "
            "ms-ssim %.4f, ssim %.4f | %.1f s" % (step, train_loss, v["loss"], v["content"], v["mse"],
                                                  v["psnr"], v["ms_ssim"], v["ssim"], seconds)
            + "".join(" | " + note for note in notes))


def parse_log_line(line):
    """A dict with step, train_loss, FIELDS, seconds (None if the line has none) and notes (a
    list) from a log line; None for any other line."""
    m = _LINE.match(line)
    if not m:
        return None
    try:
        values = [float(g) for g in m.groups()[1:8]]
        seconds = float(m.group(9)) if m.group(9) is not None else None
    except ValueError:
        return None
    out = {"step": int(m.group(1)), "train_loss": values[0], "seconds": seconds,
           "notes": [n.strip() for n in m.group(10).split("|") if n.strip()]}
    out.update(zip(FIELDS, values[1:]))
    return out


def read_log_lines(path):
    """Every parsed line of a log file, in order (other lines are skipped)."""
    with open(path) as f:
        return [row for row in map(parse_log_line, f) if row is not None]
