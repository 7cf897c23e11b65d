"""Put the outputs of several networks on the same test photos side by side, with their PSNR/SSIM.

    python compare_results.py runs=model_iteration_600,model_pretrained labels="600 iterations,pretrained"

Reads what test_model.py wrote to `result_dir` for each run: <result_dir>/<run>_metrics.csv and
<result_dir>/<image>_<run>.png. For every image of the first run's CSV it lays out one row: each
run's output, labelled with its PSNR and SSIM, then the target from `target_dir` (where there is
one); the rows are stacked into one PNG, shrunk by `shrink` to keep it light.
"""
import csv
import os

from isp.errors import UsageError, run_main  # first: a third-party module missing below is one line (isp/errors.py)

import numpy as np
from PIL import Image

from isp import load_dataset
from isp import previews
from isp.args import Arg, parse_args, positive_int, to_bool
from isp.utils import plural

ARGS = [
    Arg("result_dir", str, "results/", "where test_model.py wrote the runs' PNGs and metrics CSVs"),
    Arg("runs", str, "", "comma-separated run names: the <run> of <run>_metrics.csv (e.g. model_iteration_600)"),
    Arg("labels", str, "", "comma-separated column titles, one per run (default: the run names)"),
    Arg("target_dir", str, "raw_images/test/fujifilm/", "the targets (<image>.png or .jpg); a missing folder: no target column"),
    Arg("out", str, "", "the PNG to write (default <result_dir>/compare_<run>_<run>....png)"),
    Arg("shrink", positive_int, 2, "divide width and height by this"),
    Arg("overwrite", to_bool, False, "replace an existing `out`"),
]


def main(argv):
    a = parse_args(ARGS, argv, prog="compare_results.py", doc=__doc__)
    runs = [r.strip() for r in a["runs"].split(",") if r.strip()]
    if not runs:
        raise UsageError("runs= is empty: name the runs to compare, e.g. runs=model_iteration_600,model_pretrained "
                         "(the <run> of <result_dir>/<run>_metrics.csv)")
    labels = [t.strip() for t in a["labels"].split(",")] if a["labels"] else runs
    if len(labels) != len(runs):
        raise UsageError("labels= has %d titles for %d runs: give one per run" % (len(labels), len(runs)))
    out = a["out"] or os.path.join(a["result_dir"], "compare_%s.png" % "_".join(runs))
    if os.path.exists(out) and not a["overwrite"]:
        raise UsageError("%s exists; pass overwrite=True to replace it, or choose another out=" % out)
    scores = [read_scores(a["result_dir"], run) for run in runs]
    images = [name for name in scores[0] if all(name in s for s in scores[1:])]
    if not images:
        raise UsageError("the runs %s share no image in their metrics CSVs" % ", ".join(runs))
    for run in runs:  # every picture before any work: a missing one is named, nothing written
        for name in images:
            require(output_path(a["result_dir"], name, run), "result PNG of run %s" % run)
    rows, targets = [], 0
    for name in images:
        columns = [load(output_path(a["result_dir"], name, run), a["shrink"]) for run in runs]
        titles = [title(label, s[name]) for label, s in zip(labels, scores)]
        target = load_dataset.find_target(a["target_dir"], name)  # PNG or JPEG
        if os.path.isfile(target):
            columns.append(load(target, a["shrink"]))
            titles.append("target")
            targets += 1
        rows.append([previews.labelled_grid([columns], titles, name).astype(np.float32) / 255.0])
    previews.save_png(out, previews.grid(rows, gap=8))
    print("wrote %s: %s, %s%s" % (out, plural(len(images), "image"), " | ".join(labels),
                                          " | target" if targets else " (no targets in %s)" % a["target_dir"]))


def read_scores(result_dir, run):
    """{image: (psnr, ssim)} from <result_dir>/<run>_metrics.csv (None where there was no target)."""
    path = require(os.path.join(result_dir, "%s_metrics.csv" % run), "metrics CSV of run %s" % run)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {r["image"]: (float(r["psnr_db"]) if r["psnr_db"] else None, float(r["ssim"]) if r["ssim"] else None)
            for r in rows}


def output_path(result_dir, image, run):
    return os.path.join(result_dir, "%s_%s.png" % (os.path.splitext(image)[0], run))


def require(path, what):
    if not os.path.isfile(path):
        raise UsageError("no %s: %s does not exist (run test_model.py for it first)" % (what, path))
    return path


def load(path, shrink):
    img = Image.open(path).convert("RGB")
    if shrink > 1:
        img = img.resize((max(1, img.width // shrink), max(1, img.height // shrink)), Image.BILINEAR)
    return np.asarray(img, np.float32) / 255.0


def title(label, score):
    psnr, ssim = score
    return label if psnr is None else "%s: PSNR %.2f dB, SSIM %.4f" % (label, psnr, ssim)


if __name__ == "__main__":
    run_main(main)
