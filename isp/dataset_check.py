"""check_dataset.py's library: each pair of a dataset measured in one pass (file checks, the RAW's
value range and clipping, the misalignment RAW -> target by phase correlation, the correlation left
after aligning, brightness and colour), then judged against the dataset's own spread.

One pair is decoded at a time (a row of numbers per pair is all that is kept), so a dataset of any
size is checked in bounded memory; the contact sheet decodes its few worst pairs again.

The misalignment: the RAW's R, mean G and B planes brought to the target's colour (per-channel ratios
of their linear means over unclipped cells) and gamma-coded, against the target sampled at the same
Bayer sites (so neither side has an offset of its own); the luminance of both windowed (Hann) and
registered by skimage's upsampled phase correlation (1/UPSAMPLE of a cell). A pair with too little
detail (MIN_DETAIL) is not registered: its shift would be noise.
shift_x, shift_y are in target pixels, positive where the target's content lies right of / below
the RAW's.
"""
import csv
import io
import os
import time

import numpy as np
from PIL import Image

from isp import load_dataset
from isp import previews
from isp.errors import UsageError
from isp.progress import progress
from isp.unprocess import linear_to_srgb, srgb_to_linear
from isp.utils import atomic_output, atomic_write_text

WHITE_LEVELS = (1023, 4095, 16383, 65535)  # 10, 12, 14, 16 bits: the white level a RAW's largest value implies
CLIP_SHARE = 0.98  # a RAW value at or above this share of the white level counts as clipped
TARGET_CLIP = 0.95  # a linear target value at or above this (sRGB 250 of 255) counts as clipped
TARGET_BLACK = 0.001  # ... and at or below this (sRGB 3 of 255) in any channel, clipped at black
MIN_UNCLIPPED = 0.05  # share of cells unclipped below which a pair's brightness and colour are not judged
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
MIN_DETAIL = 0.004  # mean gamma-coded luminance step between neighbouring cells: below, nothing to register
UPSAMPLE = 20  # phase correlation's sub-cell resolution: 1/20 of a 2x2 cell (0.1 target pixel)
MIN_SIDE = 16  # half-resolution cells: smaller pairs are not registered
ROBUST_SIGMA = 1.4826  # MAD -> standard deviation of a normal distribution
MIN_SPREAD = 0.05  # stops: the smallest spread a dataset's brightness or colour is judged against
FIELDS = ("split", "name", "problem", "width", "height", "white_level", "raw_max", "clipped", "target_clipped",
          "shift_x", "shift_y", "corr", "detail", "gain", "colour_r", "colour_b", "z_brightness", "z_colour", "score",
          "flags")
OUTPUTS = ("pairs.csv", "exclude.txt", "worst_pairs.jpg")


class Limits:
    """What makes a pair bad: a shift above max_shift pixels, a correlation after aligning below
    min_corr, a clipped share of the RAW above max_clipped, a brightness or colour further than
    max_z robust standard deviations from the dataset's median. (The target's clipped share is
    only reported: a DSLR's look clips highlights by design.)"""

    def __init__(self, max_shift=4.0, min_corr=0.5, max_clipped=0.05, max_z=8.0):
        self.max_shift, self.min_corr, self.max_clipped, self.max_z = max_shift, min_corr, max_clipped, max_z


def split_pairs(dataset_dir, split, phone_dir, dslr_dir, raw_key="phone_dir"):
    """(pairs, notes) of one split: pairs as (name, RAW path or None, target path or None) for
    every RAW and every target (a RAW without a target and a target without a RAW are pairs with
    one path missing: reported, not fatal); notes: problems of the folder (mixed formats).
    raw_key: the key that names the RAW folder, for the message where it does not exist."""
    raw_dir = os.path.join(dataset_dir, split, phone_dir)
    rgb_dir = os.path.join(dataset_dir, split, dslr_dir)
    load_dataset.require_split(dataset_dir, split, raw_dir)
    for folder, key in ((raw_dir, raw_key), (rgb_dir, "dslr_dir")):
        load_dataset.require_folder(folder, "%s %s" % (split, "target" if key == "dslr_dir" else "RAW"), key)
    raws = load_dataset.list_pngs(raw_dir, "%s RAW" % split)
    notes = []
    try:
        load_dataset.target_ext(rgb_dir, "%s target" % split)
    except UsageError as err:
        notes.append(str(err))
    targets = {}
    for name in sorted(os.listdir(rgb_dir)):
        stem, ext = os.path.splitext(name)
        if ext.lower() in load_dataset.TARGET_EXTS:
            targets.setdefault(stem, name)
    pairs = []
    for name in raws:
        target = targets.pop(os.path.splitext(name)[0], None)
        pairs.append((name, os.path.join(raw_dir, name), target and os.path.join(rgb_dir, target)))
    pairs.extend((name, None, os.path.join(rgb_dir, name)) for name in sorted(targets.values()))
    return pairs, notes


def read_pair(raw_path, rgb_path):
    """(RAW mosaic, target) of a pair; UsageError for any file problem (its one line)."""
    if raw_path is None:
        raise UsageError("target without a RAW")
    if rgb_path is None:
        raise UsageError("RAW without a target")
    raw = load_dataset.read_raw(raw_path)
    rgb = load_dataset.read_rgb(rgb_path)
    if rgb.shape[:2] != raw.shape:
        raise UsageError("RAW is %dx%d but its target is %dx%d" % (raw.shape[1], raw.shape[0], rgb.shape[1],
                                                                  rgb.shape[0]))
    return raw, rgb


def halves(raw, rgb):
    """(RAW as linear R, G, B at half resolution, the target's linear R, G, B sampled at the same
    Bayer sites): the same sampling on both sides, so registration has no offset of its own."""
    planes = load_dataset.bayer_planes(raw).astype(np.float32)  # B, Gb, R, Gr
    raw_rgb = np.stack([planes[..., 2], 0.5 * (planes[..., 1] + planes[..., 3]), planes[..., 0]], axis=-1)
    h, w = raw.shape
    lin = srgb_to_linear(rgb[:h, :w].astype(np.float32) / 255.0).astype(np.float32)
    tgt = np.stack([lin[0::2, 0::2, 0], 0.5 * (lin[0::2, 1::2, 1] + lin[1::2, 0::2, 1]), lin[1::2, 1::2, 2]], axis=-1)
    return raw_rgb, tgt


def matching_gains(raw_rgb, tgt, white):
    """(gains, judged): per-channel gains that bring the RAW's linear RGB to the target's, the
    ratio of their means over the cells clipped in neither (at white, or the target at black: a
    colour out of its gamut), so that a blown sky does not count as a colour or brightness; where
    fewer than MIN_UNCLIPPED of the cells are unclipped, over all of them, and judged is False (the
    pair's brightness and colour are then not compared with the dataset's)."""
    unclipped = ((tgt.max(axis=-1) < TARGET_CLIP) & (tgt.min(axis=-1) > TARGET_BLACK) &
                 (raw_rgb.max(axis=-1) < CLIP_SHARE * white))
    judged = bool(unclipped.mean() >= MIN_UNCLIPPED)
    cells = unclipped if judged else np.ones(unclipped.shape, bool)
    eps = 1e-6
    return (tgt[cells].mean(axis=0) + eps) / (raw_rgb[cells].mean(axis=0) + eps), judged


def colour_matched(raw_rgb, gains):
    """The RAW's half-resolution RGB brought to the target's colour roughly (per-channel gains,
    sRGB gamma): what registration, the correlation and the contact sheet see."""
    return linear_to_srgb(raw_rgb * gains).astype(np.float32)


def register(a, b):
    """(dy, dx, corr): the shift, in cells, of b's content against a's (b[y + dy, x + dx] ~ a[y, x]),
    and the correlation of a and b over their overlap once b is moved back by it (rounded)."""
    from skimage.registration import phase_cross_correlation  # only what registers pairs needs it
    h, w = a.shape
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    prepared = [(x - x.mean()) * window for x in (a, b)]
    moved = phase_cross_correlation(prepared[0], prepared[1], upsample_factor=UPSAMPLE)[0]
    dy, dx = -float(moved[0]), -float(moved[1])  # skimage: the shift that moves b onto a
    iy, ix = int(round(dy)), int(round(dx))
    if abs(iy) >= h // 2 or abs(ix) >= w // 2:
        return dy, dx, 0.0
    ya, yb = max(0, -iy), max(0, iy)
    xa, xb = max(0, -ix), max(0, ix)
    oa = a[ya:ya + h - abs(iy), xa:xa + w - abs(ix)]
    ob = b[yb:yb + h - abs(iy), xb:xb + w - abs(ix)]
    sa, sb = oa.std(), ob.std()
    corr = float(((oa - oa.mean()) * (ob - ob.mean())).mean() / (sa * sb)) if sa > 0 and sb > 0 else 0.0
    return dy, dx, corr


def measure(raw, rgb):
    """The numbers of one decoded pair (a dict of FIELDS, and the RAW's clipped share at each of
    WHITE_LEVELS, judged once the dataset's white level is known)."""
    top = int(raw.max())
    row = {"width": raw.shape[1], "height": raw.shape[0], "raw_max": top,
           "white_level": next((w for w in WHITE_LEVELS if top <= w), WHITE_LEVELS[-1]),
           "clipped_at": [float(np.mean(raw >= CLIP_SHARE * w)) for w in WHITE_LEVELS],
           "target_clipped": float(np.mean(rgb.max(axis=-1) >= 255))}
    raw_rgb, tgt = halves(raw, rgb)
    gains, judged = matching_gains(raw_rgb, tgt, row["white_level"])
    nan = float("nan")
    row["gain"] = float(np.log2(gains[1] * row["white_level"])) if judged else nan  # target level per RAW share of white
    row["colour_r"], row["colour_b"] = (float(np.log2(gains[i] / gains[1])) if judged else nan for i in (0, 2))
    a, b = colour_matched(raw_rgb, gains) @ LUMA, linear_to_srgb(tgt).astype(np.float32) @ LUMA
    row["detail"] = float(np.mean(np.abs(np.diff(b, axis=0))) + np.mean(np.abs(np.diff(b, axis=1))))
    if min(tgt.shape[:2]) < MIN_SIDE or row["detail"] < MIN_DETAIL:  # a flat pair: a shift would be noise
        row.update(shift_x=float("nan"), shift_y=float("nan"), corr=float("nan"))
        return row
    dy, dx, corr = register(a, b)
    row.update(shift_x=2 * dx, shift_y=2 * dy, corr=corr)
    return row


def check_pairs(pairs, show_progress=True):
    """Measure every (split, name, RAW path, target path): a list of rows, one per pair (a file
    problem in `problem`), and the seconds it took."""
    rows, t0 = [], time.monotonic()
    for split, name, raw_path, rgb_path in progress(pairs, desc="checking pairs", unit="pair",
                                                    disable=not show_progress):
        row = {"split": split, "name": name, "problem": ""}
        try:
            row.update(measure(*read_pair(raw_path, rgb_path)))
        except UsageError as err:
            row["problem"] = "%s: %s" % (problem_kind(str(err)), err)
        rows.append(row)
    return rows, time.monotonic() - t0


PROBLEM_KINDS = (("without a target", "no target"), ("without a RAW", "no RAW"),
                 ("single-channel 16-bit", "RAW not 16-bit Bayer"), ("odd size", "RAW of odd size"),
                 ("8-bit RGB", "target not 8-bit RGB"), ("but its target is", "sizes differ"),
                 ("cannot read", "unreadable"))


def problem_kind(message):
    """A file problem's kind in a few words, for counting (from read_pair's and load_dataset's messages)."""
    return next((kind for needle, kind in PROBLEM_KINDS if needle in message), "other")


def robust_z(values):
    """(value - median) / (1.4826 MAD) of each value (the spread at least MIN_SPREAD); nan for
    a value not measured, which the median and the spread leave out."""
    v = np.asarray(values, np.float64)
    known = v[np.isfinite(v)]
    if not len(known):
        return v
    med = np.median(known)
    spread = max(ROBUST_SIGMA * float(np.median(np.abs(known - med))), MIN_SPREAD)
    return (v - med) / spread


def judge(rows, limits):
    """Fill in each measured row's clipped share (at the dataset's white level, the most common
    one), its brightness and colour z-scores, its `flags` and `score` (the largest of its
    measures over its limit: above 1 is a bad pair; a file problem is infinitely bad). The
    dataset's white level."""
    good = [r for r in rows if not r["problem"]]
    whites = [r["white_level"] for r in good]
    white = max(set(whites), key=whites.count) if whites else WHITE_LEVELS[0]
    z_b = robust_z([r["gain"] for r in good])
    z_r, z_bl = robust_z([r["colour_r"] for r in good]), robust_z([r["colour_b"] for r in good])
    for k, r in enumerate(good):
        r["clipped"] = r.pop("clipped_at")[WHITE_LEVELS.index(white)]
        r["z_brightness"], r["z_colour"] = float(z_b[k]), float(max(abs(z_r[k]), abs(z_bl[k])))
        measures = {"shift": np.hypot(r["shift_x"], r["shift_y"]) / limits.max_shift,
                    "corr": (1 - r["corr"]) / (1 - limits.min_corr),
                    "clipped": r["clipped"] / limits.max_clipped,
                    "brightness": abs(r["z_brightness"]) / limits.max_z,
                    "colour": r["z_colour"] / limits.max_z,
                    "bit depth": 2.0 if r["white_level"] > white else 0.0}
        measures = {k: v for k, v in measures.items() if np.isfinite(v)}
        r["score"] = max(measures.values())
        r["flags"] = " ".join(k.replace(" ", "_") for k, v in sorted(measures.items(), key=lambda kv: -kv[1]) if v > 1)
    for r in rows:
        if r["problem"]:
            r["score"], r["flags"] = float("inf"), "file"
    return white


def worst(rows, count):
    """The `count` rows of the highest score (ties by split and name)."""
    return sorted(rows, key=lambda r: (-r["score"], r["split"], r["name"]))[:count]


def describe(r):
    """A pair's numbers in a few words, for the summary and the contact sheet."""
    if r["problem"]:
        return r["problem"]
    return "shift %+.1f, %+.1f px; corr %.2f; clipped %.1f%%; brightness z %+.1f, colour z %.1f" % (
        r["shift_x"], r["shift_y"], r["corr"], 100 * r["clipped"], r["z_brightness"], r["z_colour"])


def spread(values, unit=""):
    v = np.asarray([x for x in values if np.isfinite(x)], np.float64)
    if not len(v):
        return "none measured"
    return "median %.2f%s, 95th percentile %.2f%s, max %.2f%s" % (
        np.median(v), unit, np.percentile(v, 95), unit, v.max(), unit)


def summary(rows, white, seconds, limits, notes, out, shown):
    """The printed summary: counts and the speed, the distributions of clipping, shift and
    correlation, the bad pairs and the worst ones."""
    good = [r for r in rows if not r["problem"]]
    bad = [r for r in rows if r["score"] > 1]
    splits = sorted({r["split"] for r in rows})
    lines = ["checked %d pairs (%s) in %.1f s, %.1f pairs/s on this machine; file problems: %s" % (
        len(rows), ", ".join("%s %d" % (s, sum(r["split"] == s for r in rows)) for s in splits), seconds,
        len(rows) / max(seconds, 1e-9), problem_counts(rows))]
    lines.extend("folder problem: %s" % n for n in notes)
    if good:
        whites = sorted({r["white_level"] for r in good})
        lines.append("RAW: white level %d (%d-bit%s) in %d of %d pairs%s; clipped share %s (targets: %s)" % (
            white, int(np.log2(white + 1)), ", as MAI21's" if white == 1023 else "",
            sum(r["white_level"] == white for r in good), len(good),
            "" if whites == [white] else " (others: %s)" % ", ".join(str(w) for w in whites if w != white),
            spread([100 * r["clipped"] for r in good], "%"), spread([100 * r["target_clipped"] for r in good], "%")))
        lines.append("shift |x, y|: %s (x %s, y %s); correlation after aligning: median %.3f, 5th percentile "
                     "%.3f, min %.3f" % ((spread([np.hypot(r["shift_x"], r["shift_y"]) for r in good], " px"),
                                          span([r["shift_x"] for r in good]), span([r["shift_y"] for r in good])) +
                                         tuple(f([r["corr"] for r in good if np.isfinite(r["corr"])] or [float("nan")])
                                               for f in (np.median, lambda v: np.percentile(v, 5), np.min))))
    lines.append("bad pairs: %d (shift > %g px, correlation < %g, clipped > %g%%, brightness or colour beyond %g "
                 "robust sd, file problems) in %s; the worst (contact sheet %s):" % (
                     len(bad), limits.max_shift, limits.min_corr, 100 * limits.max_clipped, limits.max_z,
                     os.path.join(out, "exclude.txt"), os.path.join(out, "worst_pairs.jpg")))
    for r in shown:
        lines.append("  %-16s score %5.1f  %-20s %s" % ("%s/%s" % (r["split"], r["name"]),
                                                      min(r["score"], 999.9), r["flags"] or "-", describe(r)))
    return "\n".join(lines)


def problem_counts(rows):
    """The file problems by kind: "none", or e.g. "no target 2; unreadable 1"."""
    counts = {}
    for r in rows:
        if r["problem"]:
            kind = r["problem"].split(": ")[0]
            counts[kind] = counts.get(kind, 0) + 1
    return "; ".join("%s %d" % kv for kv in sorted(counts.items())) or "none"


def span(values):
    v = [x for x in values if np.isfinite(x)]
    return "%+.2f to %+.2f" % (min(v), max(v)) if v else "none"


def read_truth(path):
    """make_demo_data.py's shifts.csv as {(split, name): row}; UsageError for a file that is not one."""
    try:
        with open(path) as f:
            truth = {(r["split"], r["name"]): r for r in csv.DictReader(f)}
        for r in truth.values():
            float(r["shift_x"]), float(r["shift_y"]), r["bad"]
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise UsageError("truth=%s: not make_demo_data.py's shifts.csv (%s)" % (path, err))
    return truth


def against_truth(truth, path, rows, shown):
    """A line comparing the measured shifts with the true ones (read_truth of `path`): the share of
    the pairs not spoilt on purpose within 0.5 px of their true shift (in x and in y), and how many
    of the spoilt pairs are among the worst `shown`."""
    errors = []
    for r in rows:
        known = truth.get((r["split"], r["name"]))
        if known is None or known["bad"]:
            continue
        errors.append(max(abs(r.get("shift_" + a, float("nan")) - float(known["shift_" + a])) for a in "xy"))
    errors = np.asarray(errors, np.float64)
    within = int(np.sum(errors <= 0.5))  # a pair not measured (nan) is not within
    spoilt = [k for k, r in truth.items() if r["bad"] and k in {(x["split"], x["name"]) for x in rows}]
    worst_keys = {(r["split"], r["name"]) for r in shown}
    return ("against the truth in %s: %d of %d pairs within 0.5 px of their true shift in x and y (%.1f%%), "
            "error median %.2f px, max %.2f px; pairs spoilt on purpose among the %d worst: %d of %d (%s)" % (
                path, within, len(errors), 100.0 * within / max(len(errors), 1),
                np.nanmedian(errors) if len(errors) else float("nan"),
                np.nanmax(errors) if len(errors) else float("nan"),
                len(shown), sum(k in worst_keys for k in spoilt), len(spoilt),
                ", ".join("%s/%s %s" % (k + (truth[k]["bad"],)) for k in spoilt) or "none"))


def write_csv(path, rows):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FIELDS)
    for r in rows:
        writer.writerow([_cell(r.get(k, "")) for k in FIELDS])
    atomic_write_text(path, buf.getvalue())


def _cell(value):
    if isinstance(value, float):
        return "inf" if value == float("inf") else "" if not np.isfinite(value) else "%.4g" % value
    return value


def write_exclude(path, rows):
    """The bad pairs, one split/name a line (what train_model.py exclude= reads)."""
    atomic_write_text(path, "".join("%s/%s\n" % (r["split"], r["name"]) for r in rows if r["score"] > 1))


SHEET_SIDE = 192  # pixels: each picture of the contact sheet fits this square


def sheet_row(r, raw_path, rgb_path):
    """One labelled row of the contact sheet: RAW preview (in the target's colour) | target |
    difference of their luminances (x2, unaligned: a shift shows as double edges), each shrunk to fit SHEET_SIDE; a pair that cannot be read shows grey."""
    caption = "%s/%s: %s" % (r["split"], r["name"], describe(r))
    try:
        raw, rgb = read_pair(raw_path, rgb_path)
    except UsageError:
        blank = np.full((SHEET_SIDE, SHEET_SIDE, 3), 0.5, np.float32)
        return previews.labelled_grid([[blank, blank, blank]], ["RAW preview", "target", "difference x2"], caption)
    raw_rgb, tgt = halves(raw, rgb)
    views = [colour_matched(raw_rgb, matching_gains(raw_rgb, tgt, r["white_level"])[0]),
             linear_to_srgb(tgt).astype(np.float32)]
    lum = [v @ LUMA for v in views]
    views.append(np.repeat(np.clip(2 * np.abs(lum[0] - lum[1]), 0, 1)[..., None], 3, axis=-1))
    scale = SHEET_SIDE / max(views[0].shape[:2])
    size = (max(1, int(round(views[0].shape[1] * scale))), max(1, int(round(views[0].shape[0] * scale))))
    small = [np.asarray(Image.fromarray(previews.to_uint8(v)).resize(size, Image.BILINEAR), np.float32) / 255
             for v in views]
    return previews.labelled_grid([small], ["RAW preview", "target", "difference x2"], caption)


def write_sheet(path, rows, paths):
    """The contact sheet of `rows` (paths: (split, name) -> (RAW path, target path)) as a JPEG."""
    parts = [sheet_row(r, *paths[(r["split"], r["name"])]).astype(np.float32) / 255 for r in rows]
    sheet = previews.to_uint8(previews.grid([[p] for p in parts], gap=8))
    with atomic_output(path, ".tmp.jpg") as tmp:
        Image.fromarray(sheet).save(tmp, quality=80)


def check_outputs(out, overwrite):
    """UsageError where `out` already holds one of OUTPUTS and overwrite is False (never replaced
    unasked), or is a file."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError("out=%r is a file, not a folder" % out)
    there = [n for n in OUTPUTS if os.path.exists(os.path.join(out, n))]
    if there and not overwrite:
        raise UsageError("out=%r already holds %s from an earlier check; pass overwrite=True to replace them, or "
                         "choose another out=" % (out, ", ".join(there)))
