"""The training log: train_model.py writes a line per validation to
<model_dir>/logs_<arch>_<restore_iter>-<num_train_iters>.txt (e.g. logs_model_0-600.txt; the seed's
runs wrote logs_0-600.txt, without the arch, and both names are read), plot_logs.py and
benchmark.py read them back. This module is the one place that knows the name and the line format.
A log starts with a header line (LOG_HEADER: which PSNR it gives), then a line per validation:

    step 600 | training loss: 9.1234 | validation: loss 8.7654, content 0.0000, mse 0.012345,
    psnr 19.09, ms-ssim 0.8123, ssim 0.7011 | 123.4 s          (one line)

and, where there is something to say, notes after it: `| data wait 0.12 s` (the seconds the
training loop waited for its patch pool at the re-draws since the line before: only where one
happened), `| input wait 0.1 ms/step` (the mean time a step waited for its batch since the line
before), `| skipped 2 bad training files`, `| interrupt save (SIGTERM)`. Lines without these notes
(older logs) read back as well.
"""
import os
import re

FIELDS = ("loss", "content", "mse", "psnr", "ms_ssim", "ssim")  # the validation figures, in order
# A log's first line (logs from before it have none; every reader skips it): which PSNR it gives
LOG_HEADER = ("# psnr: the PSNR of the mean MSE over the validation patches (test_model.py and "
              "inference_tflite.py print the mean of the per-image PSNRs)")
_NUMBER = r"([^\s,|]+)"
_LINE = re.compile(r"step (\d+) \| training loss: %s \| validation: loss %s, content %s, mse %s, psnr %s, "
                   r"ms-ssim %s, ssim %s(?: \| %s s)?((?: \| [^|]*)*?)\s*$" % ((_NUMBER,) * 8))


_WAITS = {"data_wait_s": re.compile(r"^data wait ([^\s|]+) s$"),  # parse_log_line's key: its note
          "input_wait_ms": re.compile(r"^input wait ([^\s|]+) ms/step$")}
_NAME = re.compile(r"^logs_(?:([A-Za-z][A-Za-z0-9]*)_)?(\d+)-(\d+)\.txt$")


def log_path(model_dir, arch, start, end):
    """logs_<arch>_<start>-<end>.txt: one file per run, named by its arch, where it started and
    where it ends."""
    return os.path.join(model_dir, "logs_%s_%d-%d.txt" % (arch, start, end))


def parse_log_name(path):
    """(arch, start, end) from a log's file name; arch is None for the seed's logs_<start>-<end>.txt.
    None for any other name."""
    m = _NAME.match(os.path.basename(path))
    if not m:
        return None
    return m.group(1), int(m.group(2)), int(m.group(3))


def find_log(model_dir, arch, start, end):
    """The log of a run: logs_<arch>_<start>-<end>.txt, or the seed's logs_<start>-<end>.txt where
    only that exists (runs from before the arch was in the name)."""
    path = log_path(model_dir, arch, start, end)
    old = os.path.join(model_dir, "logs_%d-%d.txt" % (start, end))
    return old if not os.path.isfile(path) and os.path.isfile(old) else path


def run_logs(model_dir, arch):
    """[(start, end, path)] of the logs named for `arch` in model_dir, sorted."""
    found = []
    if os.path.isdir(model_dir):
        for name in os.listdir(model_dir):
            parsed = parse_log_name(name)
            if parsed and parsed[0] == arch:
                found.append((parsed[1], parsed[2], os.path.join(model_dir, name)))
    return sorted(found)


def log_text(path, line):
    """What appending `line` to the log at `path` adds: the line, after the header in a new log."""
    return ("" if os.path.exists(path) else LOG_HEADER + "\n") + line + "\n"


def format_log_line(step, train_loss, validation, seconds, notes=(), data_wait=None, input_wait=None):
    """The line for `step`: mean training loss since the last line, the validation figures
    (a dict with FIELDS), the seconds since the run started, the seconds waited for patch pools
    since the last line (data_wait; None: no re-draw happened), the milliseconds a step waited for
    its batch, on average since the last line (input_wait; None: not said) and any notes (words
    without '|')."""
    v = validation
    notes = ((["data wait %.2f s" % data_wait] if data_wait is not None else []) +
             (["input wait %.1f ms/step" % input_wait] if input_wait is not None else []) + list(notes))
    return ("step %d | training loss: %.4f | validation: loss %.4f, content %.4f, mse %.6f, psnr %.2f, "
            "ms-ssim %.4f, ssim %.4f | %.1f s" % (step, train_loss, v["loss"], v["content"], v["mse"],
                                                  v["psnr"], v["ms_ssim"], v["ssim"], seconds)
            + "".join(" | " + note for note in notes))


def parse_log_line(line):
    """A dict with step, train_loss, FIELDS, seconds (None if the line has none), data_wait_s and
    input_wait_ms (each None if the line has none) and notes (a list, without those two) from a log
    line; None for any other line."""
    m = _LINE.match(line)
    if not m:
        return None
    try:
        values = [float(g) for g in m.groups()[1:8]]
        seconds = float(m.group(9)) if m.group(9) is not None else None
    except ValueError:
        return None
    notes = [n.strip() for n in m.group(10).split("|") if n.strip()]
    out = {"step": int(m.group(1)), "train_loss": values[0], "seconds": seconds}
    for key, pattern in _WAITS.items():
        out[key] = None
        for note in notes:
            found = pattern.match(note)
            value = _number(found.group(1)) if found else None
            if value is not None:
                out[key] = value
                notes = [n for n in notes if n is not note]
                break
    out["notes"] = notes
    out.update(zip(FIELDS, values[1:]))
    return out


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def read_log_lines(path):
    """Every parsed line of a log file, in order (other lines are skipped)."""
    with open(path) as f:
        return [row for row in map(parse_log_line, f) if row is not None]
