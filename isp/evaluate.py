"""Scoring a network's outputs: PSNR and SSIM against targets, the one per-image loop (with the
side-by-side PNGs), the metrics CSV, latency timing. Used by test_model.py, inference_tflite.py and
benchmark.py. Functions that need TensorFlow take the module `tf` (imported late, see isp/tfimport.py)."""
import csv
import math
import os
import re
import statistics
import time
from collections import namedtuple

import numpy as np

from isp import load_dataset
from isp import previews
from isp.errors import UsageError
from isp.progress import progress
from isp.utils import atomic_output, plural, print_if

ImageScore = namedtuple("ImageScore", "name x out seconds psnr ssim agreement")
ImageScore.__new__.__defaults__ = (None,)  # agreement: only where there is a target

# Below this scene_agreement a RAW and its target are taken for two different photos: pairs of one
# scene measure 0.76-0.98 on the demo data, pairs of two scenes -0.03-0.09 (two stereo views).
SAME_SCENE_MIN = 0.3

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
    """SSIM of two float RGB images [h, w, 3] in 0..1, as tf.image.ssim computes it (its mean over
    the positions of its 11x11 window inside the image), in one graph and one session for images
    of every size (built when first called; close() ends the session, as does leaving a `with`
    block). A tall image is taken in bands of rows, so that the graph holds a few arrays of a band's
    size, not of the photo's (a 12 MP photo's whole-image graph took gigabytes); the bands overlap
    by the window, so the mean of their means, weighted by the positions each holds, is the whole
    image's."""

    WINDOW = 11  # tf.image.ssim's filter_size
    BAND = 256  # window positions (rows) per band

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

    def _run(self, out, target):
        if self.sess is None:
            self._build()
        return float(self.sess.run(self.value, {self.a: out, self.b: target}))

    def __call__(self, out, target):
        positions = out.shape[0] - self.WINDOW + 1
        if positions <= self.BAND:
            return self._run(out, target)
        total = 0.0
        for top in range(0, positions, self.BAND):
            rows = min(self.BAND, positions - top)
            band = slice(top, top + rows + self.WINDOW - 1)
            total += rows * self._run(out[band], target[band])
        return total / positions

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


def _detail(img, cells=48):
    """An image's local structure: its means over blocks (about `cells` across its shorter side)
    minus their 3x3 neighbourhood's mean, so that the overall light and colour do not count."""
    h, w = img.shape
    b = max(1, min(h, w) // cells)
    m = img[:h // b * b, :w // b * b].reshape(h // b, b, w // b, b).mean(axis=(1, 3))
    p = np.pad(m, 1, mode="edge")
    return m - sum(p[i:i + m.shape[0], j:j + m.shape[1]] for i in range(3) for j in range(3)) / 9.0


def scene_agreement(x, target):
    """How alike the network input x [1, h/2, w/2, 4] and its float target [h, w, 3] are in structure:
    the correlation (-1..1) of their brightness's local detail. It reads the RAW, not the network's
    output, so an untrained network does not make a true pair look like two scenes."""
    raw = x[0].mean(axis=-1)
    rh, rw = raw.shape
    lum = (np.asarray(target, np.float32)[:2 * rh, :2 * rw] ** 2.2).mean(axis=-1)  # linear light, as the RAW
    lum = lum.reshape(rh, 2, rw, 2).mean(axis=(1, 3))
    a, b = _detail(raw).ravel(), _detail(lum).ravel()
    a, b = a - a.mean(), b - b.mean()
    norm = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / norm if norm > 0 else 0.0


def scene_warning(score):
    """The warning printed beside a PSNR whose RAW and target look like two different photos, else ''."""
    if score.agreement is None or score.agreement >= SAME_SCENE_MIN:
        return ""
    return ("  WARNING: the RAW and its target look like different scenes (structure correlation %.2f, a pair "
            "measures above %.1f): is the target another photo's?" % (score.agreement, SAME_SCENE_MIN))


def check_target_size(raw_path, raw_hw, target_path, target_key):
    """UsageError unless a test RAW's target has the RAW's size: the size of its file or the size it
    is read at (raw_hw: an odd PNG's even part; a DNG's RGGB-aligned mosaic, up to 2 rows and columns
    smaller). A target of another size is another photo's, whatever its name."""
    tw, th = load_dataset.image_size(target_path)
    ih, iw = raw_hw
    if raw_path.lower().endswith(".dng"):
        fits = 0 <= th - ih <= 2 and 0 <= tw - iw <= 2
    else:
        fits = (tw, th) in ((iw, ih), load_dataset.image_size(raw_path))
    if not fits:
        raise UsageError("target %r is %dx%d but its RAW %r is %dx%d: not the same photo's pair; put that RAW's "
                         "target there, or set %s= a folder of its targets" % (
                             target_path, tw, th, raw_path, iw, ih, target_key))


def check_target_sizes(raw_dir, target_dir, names, target_key):
    """check_target_size for every RAW of a folder with a target, from the files' headers (DNGs are
    converted to find their size; odd RAWs are taken at their even part)."""
    for name in names:
        target_path = target_for(target_dir, name)
        if os.path.isfile(target_path):
            raw_path = os.path.join(raw_dir, name)
            iw, ih = load_dataset.raw_size(raw_path, crop_odd=True)
            check_target_size(raw_path, (ih, iw), target_path, target_key)


def full_size(ih, iw, multiple):
    """The largest size <= ih x iw that is a multiple of `multiple` (what an arch needs)."""
    return ih - ih % multiple, iw - iw % multiple


def odd_note(path):
    """The note for a RAW PNG of odd width or height (read with crop_odd=True: its last row and/or
    column dropped), from its header; None for an even one or a DNG. Both scripts take odd RAWs so."""
    if path.lower().endswith(".dng"):
        return None
    ow, oh = load_dataset.image_size(path)
    if not (ow % 2 or oh % 2):
        return None
    return ("note: RAW %r is %dx%d (odd); its last %s dropped to keep the 2x2 Bayer grid: %dx%d" % (
        os.path.basename(path), ow, oh, "row and column are" if oh % 2 and ow % 2 else
        "row is" if oh % 2 else "column is", ow // 2 * 2, oh // 2 * 2))


def check_test_images(raw_dir, dslr_dir, names, h, w, multiple=2, crop_odd=False, target_key="dslr_dir"):
    """Check every test RAW (and target, where one exists) before anything is written, so that a
    corrupt, truncated, 8-bit or too small file, or a target of another size than its RAW
    (check_target_size), is named up front, not after half the results: from each PNG's header and
    chunk checksums, without decoding it (folder_images decodes each image once, to run it).
    h = w = None: each image at its own size (cropped to a multiple of `multiple`). crop_odd: an
    odd-sized RAW loses its last row/column (with a note) instead of being refused."""
    for fname in progress(names, desc="checking", unit="img", leave=False):
        path = os.path.join(raw_dir, fname)
        ih, iw = load_dataset.checked_raw_shape(path, crop_odd=crop_odd)
        if crop_odd:
            print_if(odd_note(path))
        target_path = target_for(dslr_dir, fname)
        if os.path.isfile(target_path):
            load_dataset.checked_rgb_shape(target_path)  # a corrupt target is named now
            check_target_size(path, (ih, iw), target_path, target_key)
        if h is None:
            need = full_size(ih, iw, multiple)
            if not need[0] or not need[1]:
                raise UsageError("test RAW %r is %dx%d, smaller than the %dx%d this arch needs at least"
                                 % (fname, iw, ih, multiple, multiple))
        elif ih < h or iw < w:
            raise UsageError("test RAW %r is %dx%d, smaller than img_w x img_h = %dx%d; "
                             "lower img_w/img_h" % (fname, iw, ih, w, h))


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


def timed_items(items, timing, key):
    """The items of an iterator, the seconds spent producing each added to timing[key] (what
    decoding the photos took, for the line that says where the time went)."""
    items = iter(items)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            return
        timing[key] = timing.get(key, 0.0) + time.perf_counter() - t0
        yield item


def time_line(timing, total):
    """Where the time went, from a dict of seconds by part: 'time: 24.1 s in all: decoding 3.1 s,
    inference 0.7 s, ..., start-up and the rest 2.0 s' (parts under 0.05 s left out)."""
    rest = total - sum(timing.values())
    parts = ["%s %.1f s" % (k, v) for k, v in list(timing.items()) + [("start-up and the rest", rest)] if v >= 0.05]
    return "time: %.1f s in all%s" % (total, ": " + ", ".join(parts) if parts else "")


def score_images(run, images, ssim, result_dir=None, tag="", timing=None):
    """The per-image loop: run the network on each (name, x, target) of `images`, clip its output
    to 0..1 and score the 8-bit image it becomes against the target (PSNR, SSIM by the meter
    `ssim`). With `result_dir`, writes <stem>_<tag>.png and, where there is a target,
    <stem>_<tag>_vs_target.png (output | target, labelled, with the PSNR and SSIM above). Yields an ImageScore per image (psnr, ssim
    and agreement, the scene_agreement of RAW and target, None without a target; seconds: the time of `run`).
    `timing`: a dict to which the seconds of inference, scoring and writing are added."""
    timing = {} if timing is None else timing
    for name, x, target in images:
        t0 = time.perf_counter()
        y = run(x)
        seconds = time.perf_counter() - t0
        timing["inference"] = timing.get("inference", 0.0) + seconds
        out = np.clip(y[0], 0.0, 1.0)
        out_u8 = previews.to_uint8(out)
        stem = os.path.splitext(str(name))[0]
        p = s = agreement = None
        t0 = time.perf_counter()
        if target is not None:
            out_f = out_u8.astype(np.float32) / 255.0
            p, s = psnr_between(out_f, target), ssim(out_f, target)
            agreement = scene_agreement(x, target)
        t1 = time.perf_counter()
        timing["PSNR/SSIM"] = timing.get("PSNR/SSIM", 0.0) + t1 - t0
        if result_dir:
            if target is not None:
                previews.save_png(os.path.join(result_dir, "%s_%s_vs_target.png" % (stem, tag)),
                                  previews.labelled_grid([[out_f, target]], ("output", "target"),
                                                         "%s, %s: PSNR %.2f dB, SSIM %.4f" % (stem, tag, p, s)))
            previews.save_png(os.path.join(result_dir, "%s_%s.png" % (stem, tag)), out_u8)
            timing["writing PNGs"] = timing.get("writing PNGs", 0.0) + time.perf_counter() - t1
        yield ImageScore(name, x, out, seconds, p, s, agreement)


def _folder_name(folder):
    """A folder's own name as a part of a file name (characters other than letters, digits, '.',
    '-' and '_' made '_')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(os.path.normpath(os.path.abspath(folder))))


def folder_tag(folder):
    """'' for the seed's test folder, else '_<folder name>': the part of an evaluation's output names
    that says which folder."""
    base = _folder_name(folder)
    return "" if base == DEFAULT_TEST_FOLDER else "_" + base


def model_tag(folder):
    """'' for a model in a folder named models (the default model_dir), else '<folder name>_': the
    part of an evaluation's output names that says which model (models/walk/ and models/walk2/ both
    have a model_iteration_300; every challenge export is a model_none.tflite)."""
    base = _folder_name(folder)
    return "" if base == "models" else base + "_"


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


MODEL_COLUMN = "model"  # the metrics CSV's last column: the absolute path of the model that wrote it


def csv_model(path):
    """The model that wrote a metrics CSV (its MODEL_COLUMN), or None (no such file, or one of
    before that column)."""
    if not os.path.isfile(path):
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows[0].get(MODEL_COLUMN) or None if rows else None


def refuse_to_replace(result_dir, files, overwrite, model):
    """UsageError (before any work) when result_dir already holds any of `files`, the outputs of this
    same evaluation, unless overwrite=True; always when their metrics CSV (the last of `files`)
    says another model wrote them (overwrite=True would replace that model's results). Returns how
    many of them are there (to be replaced)."""
    there = [f for f in files if os.path.exists(os.path.join(result_dir, f))]
    other = csv_model(os.path.join(result_dir, files[-1]))
    if there and other and other != os.path.abspath(model):
        raise UsageError("%s already holds outputs of another model under these names (%s, written by %s); set "
                         "result_dir= another folder" % (result_dir, _some(there), other))
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


def write_csv(path, header, rows, model=None):
    """A CSV file with a header row, written atomically; with `model`, a last column MODEL_COLUMN
    holding its absolute path on every row (refuse_to_replace reads it)."""
    if model is not None:
        header = list(header) + [MODEL_COLUMN]
        rows = [list(row) + [os.path.abspath(model)] for row in rows]
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
