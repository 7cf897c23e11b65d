"""Scoring a network's outputs: PSNR and SSIM against targets, the one per-image loop (with the
side-by-side PNGs), the metrics CSV, latency timing. Used by test_model.py, inference_tflite.py and
benchmark.py. Functions that need TensorFlow take the module `tf` (imported late, see tfimport.py)."""
import csv
import math
import os
import re
import statistics
import time
from collections import namedtuple

import numpy as np

import load_dataset
import previews
from errors import UsageError
from progress import progress
from utils import atomic_output, plural

ImageScore = namedtuple("ImageScore", "name x out seconds psnr ssim")

# The seed's test folder: evaluations on it keep the seed's output names; any other folder puts
# its own name into them, so that evaluations of one model on two folders never share a file.
DEFAULT_TEST_FOLDER = "fujifilm_full_resolution"


# Two PSNRs under two names. The training log's `psnr` (train_log.LOG_HEADER) is the PSNR of the
# mean MSE over the validation patches: one figure for the set, its MSE averaged as the loss is.
# The evaluations (test_model.py, inference_tflite.py, benchmark.py mode=precision) print the mean
# of the per-image PSNRs (psnr_between per image), as the challenge scores a test set.
def psnr(mse, peak=1.0):
    """PSNR in dB from a mean squared error on data in 0..peak."""
    if mse <= 0:
        return float("inf")
    return 10.0 * math.log10(peak * peak / mse)


def psnr_between(a, b):
    """PSNR in dB of two float images in 0..1."""
    return psnr(float(np.mean((a - b) ** 2)))


class SsimMeter:
    """SSIM of two float RGB images [h, w, 3] in 0..1, computed by tf.image.ssim in a graph and a
    session of its own, one for images of every size (built when first called; close() ends the
    session, as does leaving a `with` block)."""

    def __init__(self, tf):
        self.tf = tf
        self.sess = None

    def _build(self):
        tf = self.tf
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.a = tf.placeholder(tf.float32, [None, None, 3])
            self.b = tf.placeholder(tf.float32, [None, None, 3])
            self.value = tf.image.ssim(self.a[None], self.b[None], 1.0)[0]
        self.sess = tf.Session(graph=self.graph)

    def __call__(self, out, target):
        if self.sess is None:
            self._build()
        return float(self.sess.run(self.value, {self.a: out, self.b: target}))

    def close(self):
        if self.sess is not None:
            self.sess.close()
            self.sess = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def target_for(dslr_dir, fname):
    """The target of a test RAW: the PNG or JPEG of the same stem (x.png or x.jpg for x.png or x.dng;
    x.png, which does not exist, where neither does)."""
    return load_dataset.find_target(dslr_dir, fname)


def full_size(ih, iw, multiple):
    """The largest size <= ih x iw that is a multiple of `multiple` (what an arch needs)."""
    return ih - ih % multiple, iw - iw % multiple


def check_test_images(raw_dir, dslr_dir, names, h, w, multiple=2, crop_odd=False):
    """Check every test RAW (and target, where one exists) before anything is written, so that a
    corrupt, truncated, 8-bit or too small file is named up front, not after half the results:
    from each PNG's header and chunk checksums, without decoding it (folder_images decodes each
    image once, to run it). h = w = None: each image at its own size (cropped to a multiple of
    `multiple`). crop_odd: an odd-sized RAW loses its last row/column (with a note) instead of
    being refused."""
    for fname in progress(names, desc="checking", unit="img", leave=False):
        path = os.path.join(raw_dir, fname)
        ih, iw = load_dataset.checked_raw_shape(path, crop_odd=crop_odd)
        if crop_odd and not fname.lower().endswith(".dng"):
            ow, oh = load_dataset.image_size(path)
            if (oh, ow) != (ih, iw):
                print("note: RAW %r is %dx%d (odd); its last %s dropped to keep the 2x2 Bayer grid: %dx%d"
                      % (fname, ow, oh, "row and column are" if oh % 2 and ow % 2 else
                         "row is" if oh % 2 else "column is", iw, ih))
        if h is None:
            need = full_size(ih, iw, multiple)
            if not need[0] or not need[1]:
                raise UsageError("test RAW %r is %dx%d, smaller than the %dx%d this arch needs at least"
                                 % (fname, iw, ih, multiple, multiple))
            than = "its RAW's %dx%d" % (need[1], need[0])
        else:
            if ih < h or iw < w:
                raise UsageError("test RAW %r is %dx%d, smaller than img_w x img_h = %dx%d; "
                                 "lower img_w/img_h" % (fname, iw, ih, w, h))
            need, than = (h, w), "img_w x img_h = %dx%d" % (w, h)
        target_path = target_for(dslr_dir, fname)
        if os.path.isfile(target_path):
            th, tw = load_dataset.checked_rgb_shape(target_path)
            if th < need[0] or tw < need[1]:
                raise UsageError("target %r is %dx%d, smaller than %s" % (target_path, tw, th, than))


def folder_images(raw_dir, target_dir, names, h, w, multiple=2, crop_odd=False):
    """(name, network input [1, h/2, w/2, 4], float target [h, w, 3] or None) for each RAW of a
    folder (PNG or DNG), cropped to h x w from the top left (h = w = None: to its own size, made a
    multiple of `multiple`); the target is <target_dir>/<stem>.png or .jpg."""
    fixed = (h, w)
    for name in names:
        raw = load_dataset.read_raw(os.path.join(raw_dir, name), crop_odd=crop_odd)
        h, w = full_size(raw.shape[0], raw.shape[1], multiple) if fixed[0] is None else fixed
        x = load_dataset.extract_bayer_channels(raw[:h, :w])[None]
        target = None
        target_path = target_for(target_dir, name)
        if os.path.isfile(target_path):
            target = load_dataset.read_rgb(target_path)[:h, :w]
            if target.shape[:2] != (h, w):
                raise UsageError("target %r is smaller than its RAW's %dx%d crop" % (target_path, w, h))
            target = target.astype(np.float32) / 255.0
        yield name, x, target


def score_images(run, images, ssim, result_dir=None, tag=""):
    """The per-image loop: run the network on each (name, x, target) of `images`, clip its output
    to 0..1 and score the 8-bit image it becomes against the target (PSNR, SSIM by the meter
    `ssim`). With `result_dir`, writes <stem>_<tag>.png and, where there is a target,
    <stem>_<tag>_vs_target.png (output | target, labelled, with the PSNR and SSIM above). Yields an ImageScore per image (psnr and ssim
    None without a target; seconds: the time of `run`)."""
    for name, x, target in images:
        t0 = time.perf_counter()
        y = run(x)
        seconds = time.perf_counter() - t0
        out = np.clip(y[0], 0.0, 1.0)
        out_u8 = previews.to_uint8(out)
        stem = os.path.splitext(str(name))[0]
        p = s = None
        if target is not None:
            out_f = out_u8.astype(np.float32) / 255.0
            p, s = psnr_between(out_f, target), ssim(out_f, target)
            if result_dir:
                previews.save_png(os.path.join(result_dir, "%s_%s_vs_target.png" % (stem, tag)),
                                  previews.labelled_grid([[out_f, target]], ("output", "target"),
                                                         "%s, %s: PSNR %.2f dB, SSIM %.4f" % (stem, tag, p, s)))
        if result_dir:
            previews.save_png(os.path.join(result_dir, "%s_%s.png" % (stem, tag)), out_u8)
        yield ImageScore(name, x, out, seconds, p, s)


def folder_tag(folder):
    """'' for the seed's test folder, else '_<folder name>' (characters other than letters, digits,
    '.', '-' and '_' made '_'): the part of an evaluation's output names that says which folder."""
    base = os.path.basename(os.path.normpath(folder))
    return "" if base == DEFAULT_TEST_FOLDER else "_" + re.sub(r"[^A-Za-z0-9._-]+", "_", base)


def output_names(names, tag, dslr_dir):
    """The files an evaluation named `tag` writes into its result_dir for the RAWs `names`: per
    image <stem>_<tag>.png and, where a target exists, <stem>_<tag>_vs_target.png; then
    <tag>_metrics.csv."""
    out = []
    for name in names:
        stem = os.path.splitext(name)[0]
        out.append("%s_%s.png" % (stem, tag))
        if os.path.isfile(target_for(dslr_dir, name)):
            out.append("%s_%s_vs_target.png" % (stem, tag))
    return out + ["%s_metrics.csv" % tag]


def _some(files, most=3):
    """A few file names for a one-line message: all of up to `most`, else the first ones and a count."""
    if len(files) <= most:
        return ", ".join(files)
    return "%s and %d more" % (", ".join(files[:most]), len(files) - most)


def refuse_to_replace(result_dir, files, overwrite):
    """UsageError (before any work) when result_dir already holds any of `files`, the outputs of this
    same evaluation, unless overwrite=True. Returns how many of them are there (to be replaced)."""
    there = [f for f in files if os.path.exists(os.path.join(result_dir, f))]
    if there and not overwrite:
        raise UsageError("%s already holds the outputs of this evaluation (%s); set overwrite=True to replace "
                         "them, or result_dir= another folder" % (result_dir, _some(there)))
    return len(there)


def written_line(result_dir, results, tag, replaced=0):
    """What an evaluation wrote, in one line: the result PNGs, the side-by-side PNGs (where there
    were targets) and the metrics CSV, by name."""
    stems = [os.path.splitext(str(r.name))[0] for r in results]
    side = [s for s, r in zip(stems, results) if r.psnr is not None]
    parts = ["%s (%s)" % (plural(len(stems), "result PNG", "result PNGs"),
                          _some(["%s_%s.png" % (s, tag) for s in stems]))]
    if side:
        parts.append("%s (%s)" % (plural(len(side), "side-by-side PNG with its target",
                                         "side-by-side PNGs with their targets"),
                                  _some(["%s_%s_vs_target.png" % (s, tag) for s in side])))
    return "wrote %s and %s_metrics.csv to %s%s" % (
        ", ".join(parts), tag, result_dir,
        " (replacing %s, overwrite=True)" % plural(replaced, "earlier file", "earlier files") if replaced else "")


def write_csv(path, header, rows):
    """A CSV file with a header row, written atomically."""
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)


def timed(fn):
    """Seconds that fn() takes."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_seconds(fn, runs):
    """The median of `runs` timed calls of fn (warm it up first)."""
    return statistics.median([timed(fn) for _ in range(runs)])


def probe_input(h, w):
    """The input every latency is measured on: a fixed random RAW [1, h/2, w/2, 4] in 0..1."""
    return np.random.RandomState(0).rand(1, h // 2, w // 2, 4).astype(np.float32)


def interleaved(calls, rounds):
    """Call each of `calls` ({key: fn}) once to warm it up, then each in turn once per round of
    `rounds` (an iterable), so that a slow moment of the machine hits every one alike; {key: [what
    fn returned in each round]}."""
    for fn in calls.values():
        fn()
    out = {key: [] for key in calls}
    for _ in rounds:
        for key, fn in calls.items():
            out[key].append(fn())
    return out
