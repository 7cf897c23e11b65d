"""The training log line: train_model.py writes one per validation to <model_dir>/logs_<a>-<b>.txt,
plot_logs.py and benchmark.py read them back. This module is the one place that knows its format.

    step 600 | training loss: 9.1234 | validation: loss 8.7654, content 0.0000, mse 0.012345,
    psnr 19.09, ms-ssim 0.8123, ssim 0.7011 | 123.4 s          (one line)
"""
import os
import re

FIELDS = ("loss", "content", "mse", "psnr", "ms_ssim", "ssim")  # the validation figures, in order
_NUMBER = r"([^\s,|]+)"
_LINE = re.compile(r"step (\d+) \| training loss: %s \| validation: loss %s, content %s, mse %s, psnr %s, "
                   r"ms-ssim %s, ssim %s(?: \| %s s)?\s*$" % ((_NUMBER,) * 8))


def log_path(model_dir, start, end):
    """logs_<start>-<end>.txt: one file per run, named by where it started and where it ends."""
    return os.path.join(model_dir, "logs_%d-%d.txt" % (start, end))


def format_log_line(step, train_loss, validation, seconds):
    """The line for `step`: mean training loss since the last line, the validation figures
    (a dict with FIELDS) and the seconds since the run started."""
    v = validation
    return ("step %d | training loss: %.4f | validation: loss %.4f, content %.4f, mse %.6f, psnr %.2f, "
            "ms-ssim %.4f, ssim %.4f | %.1f s" % (step, train_loss, v["loss"], v["content"], v["mse"],
                                                  v["psnr"], v["ms_ssim"], v["ssim"], seconds))


def parse_log_line(line):
    """A dict with step, train_loss, FIELDS and seconds (None if the line has none) from a log
    line; None for any other line."""
    m = _LINE.match(line)
    if not m:
        return None
    try:
        values = [float(g) for g in m.groups()[1:8]]
        seconds = float(m.group(9)) if m.group(9) is not None else None
    except ValueError:
        return None
    out = {"step": int(m.group(1)), "train_loss": values[0], "seconds": seconds}
    out.update(zip(FIELDS, values[1:]))
    return out


def read_log_lines(path):
    """Every parsed line of a log file, in order (other lines are skipped)."""
    with open(path) as f:
        return [row for row in map(parse_log_line, f) if row is not None]
