"""Reading the MAI21 dataset layout (see README, "Data"): RAW 16-bit Bayer PNGs and 8-bit RGB targets,
PNG or JPEG (one format per folder, paired with the RAW of the same stem: the Zurich RAW-to-RGB set's
huawei_raw/0.png and canon/0.jpg).

Patches are kept compact in memory: RAW as uint16 Bayer planes [N, H/2, W/2, 4], targets as
uint8 [N, H, W, 3]. `to_float` turns one batch into network inputs (÷1020) and targets (÷255).
Training pools are decoded by several threads where asked (load_pairs' `workers`).
"""
import os
import sys

import numpy as np
import rawpy
from PIL import Image

from isp.errors import UsageError
from isp.progress import progress as progress_bar
from isp.thread_pool import for_each
from isp.utils import plural

RAW_SCALE = 4.0 * 255.0  # 10-bit RAW values 0..1023 -> ~0..1
RGB_SCALE = 255.0  # 8-bit targets -> 0..1
RAW_MAX = 1023  # 10-bit, as the MAI21 RAWs (DNGs are scaled to it)


def require_folder(folder, what, key):
    """UsageError unless folder exists, listing the folders its parent does hold (the fix is
    usually to name one of them with `key`=)."""
    if os.path.isdir(folder):
        return
    parent = os.path.dirname(os.path.normpath(folder))
    if not os.path.isdir(parent):  # nothing there to list: the path goes wrong higher up
        raise UsageError("%s folder %r does not exist, nor does its parent folder %s (check the path; "
                         "e.g. dataset_dir=)" % (what, folder, parent))
    there = sorted(n + "/" for n in os.listdir(parent) if os.path.isdir(os.path.join(parent, n)))
    if not there:
        raise UsageError("%s folder %r does not exist (%s holds no folders)" % (what, folder, parent))
    raise UsageError("%s folder %r does not exist; %s holds %s; set %s= to one of them" % (
        what, folder, parent, ", ".join(there), key))


def list_pngs(folder, what):
    """Sorted PNG names in a folder; UsageError if it is missing or holds none."""
    if not os.path.isdir(folder):
        raise UsageError("%s folder %r does not exist" % (what, folder))
    names = sorted((n for n in os.listdir(folder) if n.lower().endswith(".png")), key=_natural_key)
    if not names:
        raise UsageError("%s folder %r holds no PNG files" % (what, folder))
    return names


TARGET_EXTS = (".png", ".jpg", ".jpeg")  # the target formats, by extension (any case)


def target_ext(folder, what):
    """The extension of a target folder's images as spelt there (".png", ".jpg", ...): one format
    per folder. UsageError if the folder holds none or mixes them."""
    counts = {}
    for name in os.listdir(folder):
        ext = os.path.splitext(name)[1]
        if ext.lower() in TARGET_EXTS:
            counts[ext] = counts.get(ext, 0) + 1
    if not counts:
        raise UsageError("%s folder %r holds no PNG or JPEG files" % (what, folder))
    if len(counts) > 1:
        raise UsageError("%s folder %r mixes image formats (%s); keep one format per folder (convert the "
                         "others or move them away)" % (what, folder, ", ".join(
                             "%d %s" % (n, ext) for ext, n in sorted(counts.items(), key=lambda kv: -kv[1]))))
    return next(iter(counts))


def target_name(raw_name, ext):
    """The target file of a RAW: the same stem with the target folder's extension."""
    return os.path.splitext(raw_name)[0] + ext


def find_target(folder, raw_name):
    """The path of a RAW's target in `folder`: the PNG or JPEG of the same stem that exists there
    (a PNG first), else the PNG's path (which does not exist: no target)."""
    stem = os.path.join(folder, os.path.splitext(raw_name)[0])
    for ext in TARGET_EXTS:
        for spelt in (ext, ext.upper()):
            if os.path.isfile(stem + spelt):
                return stem + spelt
    return stem + ".png"


def list_raws(folder, what):
    """The RAW files of a folder: its PNGs, or, where it holds none, its DNGs (read through
    read_dng, so a phone's DNG folder can be processed directly)."""
    if os.path.isdir(folder) and not any(n.lower().endswith(".png") for n in os.listdir(folder)):
        dngs = sorted((n for n in os.listdir(folder) if n.lower().endswith(".dng")), key=_natural_key)
        if dngs:
            return dngs
    return list_pngs(folder, what)


def _natural_key(name):
    stem = os.path.splitext(name)[0]
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def image_size(path):
    """(width, height) of an image file from its header."""
    return _header(path, "RAW")[:2]


def raw_size(path, crop_odd=False):
    """(width, height) of a RAW PNG from its header (no decoding); UsageError unless it is a
    single-channel 16-bit PNG of even size (crop_odd: of any size, the size read_raw gives it, its
    even part). A DNG is converted to find out."""
    if _is_dng(path):
        h, w = read_raw(path).shape
        return w, h
    w, h, mode = _header(path, "RAW")
    _check_raw(path, mode, 2 if mode in RAW_MODES else 3, w, h, odd_ok=crop_odd)
    return (w // 2 * 2, h // 2 * 2) if crop_odd else (w, h)


RAW_MODES = ("I;16", "I;16B", "I;16L", "I")


def _check_raw(path, mode, ndim, w, h, odd_ok=False):
    if mode not in RAW_MODES or ndim != 2:
        raise UsageError("RAW file %r is not a single-channel 16-bit PNG (mode %s); "
                         "RAW inputs must be 16-bit Bayer mosaics" % (path, mode))
    if (h % 2 or w % 2) and not odd_ok:
        raise UsageError("RAW file %r has odd size %dx%d; a Bayer mosaic needs even sizes"
                         % (path, w, h))


def _is_dng(path):
    return path.lower().endswith(".dng")


def read_raw(path, crop_odd=False):
    """A RAW Bayer mosaic as uint16 [H, W]: a single-channel 16-bit PNG, or a DNG (converted to
    the same RGGB-aligned 10-bit mosaic by read_dng). An odd height or width is an error, or with
    crop_odd=True loses its last row/column (the Bayer grid starts at the top left)."""
    if _is_dng(path):
        return read_dng(path)[0]
    try:
        with Image.open(path) as img:
            mode = img.mode
            img.load()
            arr = np.asarray(img)
    except (OSError, SyntaxError, ValueError) as err:
        raise UsageError("cannot read RAW PNG %r (corrupt or truncated?): %s" % (path, err))
    _check_raw(path, mode, arr.ndim, arr.shape[-1], arr.shape[0], odd_ok=crop_odd)
    h, w = arr.shape[:2]
    return arr[:h - h % 2, :w - w % 2].astype(np.uint16, copy=False)


def _open_dng(path):
    """rawpy's reader of a camera RAW/DNG; UsageError (one line) for a file LibRaw cannot read."""
    try:
        return rawpy.imread(path)
    except (rawpy.LibRawError, OSError, ValueError) as err:
        detail = err.args[0] if err.args else type(err).__name__
        detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        raise UsageError("cannot read %r as a camera RAW/DNG (LibRaw: %s)" % (path, detail))


def _bayer_layout(raw, path):
    """(cfa, colour names, black level per colour index, white level) of an open RAW; UsageError
    for what is not an RGB 2x2 Bayer mosaic or has its white level at or below its black level."""
    if raw.raw_type != rawpy.RawType.Flat:
        raise UsageError("%r holds no Bayer mosaic (a linear DNG or a Foveon/stacked sensor, already "
                         "demosaiced); only Bayer RAWs can be converted" % path)
    pattern = raw.raw_pattern
    if pattern is None or pattern.shape != (2, 2):
        raise UsageError("%r has a %s colour filter pattern (X-Trans?), not a 2x2 Bayer one; "
                         "it cannot be converted" % (path, "x".join(map(str, np.shape(pattern))) or "no"))
    desc = raw.color_desc.decode("ascii", "replace")
    cfa = "".join(desc[i] for i in pattern.flat)
    if sorted(cfa) != ["B", "G", "G", "R"]:
        raise UsageError("%r has the colour filter %s, not an RGB Bayer pattern (RGGB, GRBG, GBRG "
                         "or BGGR); it cannot be converted" % (path, cfa))
    blacks = np.asarray(raw.black_level_per_channel, np.float32)
    white = float(raw.white_level)
    if white <= blacks.max():
        raise UsageError("%r has white level %g not above its black level %g" % (path, white, blacks.max()))
    return cfa, desc, blacks, white


def dng_sensor(path):
    """The sensor layout of a Bayer DNG as read_dng reads it: {"cfa": e.g. "GRBG", "black": the
    black level of each 2x2 position (row by row), "white": the white level}; read_dng's refusals."""
    with _open_dng(path) as raw:
        cfa, _, blacks, white = _bayer_layout(raw, path)
        black = tuple(float(blacks[i]) for i in raw.raw_pattern.flat)
    return {"cfa": cfa, "black": black, "white": white}


def read_dng(path):
    """(mosaic, note): the RGGB-aligned 10-bit mosaic as uint16 [H, W] (H, W even), and what was
    done to get it ("pattern GRBG, shifted by 0 rows and 1 column; black 64, white 4095")."""
    with _open_dng(path) as raw:
        cfa, desc, blacks, white = _bayer_layout(raw, path)
        dy, dx = divmod(cfa.index("R"), 2)
        mosaic = raw.raw_image_visible
        colors = raw.raw_colors_visible
        h, w = (mosaic.shape[0] - dy) // 2 * 2, (mosaic.shape[1] - dx) // 2 * 2
        if h < 2 or w < 2:
            raise UsageError("%r is too small (%dx%d)" % (path, mosaic.shape[1], mosaic.shape[0]))
        values = mosaic[dy:dy + h, dx:dx + w].astype(np.float32)
        black = blacks[colors[dy:dy + h, dx:dx + w]]
        out = np.clip(np.round((values - black) * (RAW_MAX / (white - black))), 0, RAW_MAX).astype(np.uint16)
    black_text = "%g" % blacks[0] if len(set(blacks.tolist())) == 1 else "%s (%s)" % (
        "/".join("%g" % b for b in blacks), "/".join(desc[:len(blacks)]))
    note = "pattern %s, shifted by %s and %s to RGGB; black %s, white %g -> 0..%d; %dx%d" % (
        cfa, plural(dy, "row"), plural(dx, "column"), black_text, white, RAW_MAX, w, h)
    return out, note


def read_rgb(path):
    """An RGB target (PNG or JPEG) as uint8 [H, W, 3]."""
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            arr = np.asarray(img.convert("RGB") if mode in ("RGBA", "P") else img)
    except (OSError, SyntaxError, ValueError) as err:
        raise UsageError("cannot read RGB %s %r (corrupt or truncated?): %s" % (_format(path), path, err))
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise UsageError("target file %r is not an 8-bit RGB %s (mode %s)" % (path, _format(path), mode))
    return arr


def bayer_planes(raw):
    """[.., H, W] mosaic -> [.., H/2, W/2, 4] planes in the order B, Gb, R, Gr (same dtype)."""
    return np.stack([raw[..., 1::2, 1::2], raw[..., 0::2, 1::2],
                     raw[..., 0::2, 0::2], raw[..., 1::2, 0::2]], axis=-1)


def extract_bayer_channels(raw):
    """The network input for one mosaic: float32 [H/2, W/2, 4] divided by 1020."""
    return bayer_planes(raw).astype(np.float32) / RAW_SCALE


def to_float(raw_planes, rgb=None):
    """uint16 planes (and uint8 targets) -> float32 network input (and target)."""
    x = raw_planes.astype(np.float32) / RAW_SCALE
    if rgb is None:
        return x
    return x, rgb.astype(np.float32) / RGB_SCALE


def paired_names(dataset_dir, split, phone_dir, dslr_dir, exclude=()):
    """The RAW names of <split>/<phone_dir> that have a target of the same stem in <split>/<dslr_dir>
    (PNG or JPEG, see target_ext); errors on a mismatch. Names in `exclude` (RAW names, see
    read_exclude) are left out, their targets too."""
    raw_dir = os.path.join(dataset_dir, split, phone_dir)
    rgb_dir = os.path.join(dataset_dir, split, dslr_dir)
    if not os.path.isdir(dataset_dir):
        raise UsageError("dataset folder %r does not exist (set dataset_dir=, or make the demo "
                         "data with: python make_demo_data.py)" % dataset_dir)
    require_split(dataset_dir, split, raw_dir)
    for folder, key in ((raw_dir, "phone_dir"), (rgb_dir, "dslr_dir")):
        require_folder(folder, "%s %s" % (split, "RAW" if key == "phone_dir" else "target"), key)
    raw_names = [n for n in list_pngs(raw_dir, "%s RAW" % split) if n not in exclude]
    ext = target_ext(rgb_dir, "%s target" % split)
    rgb_names = {n for n in os.listdir(rgb_dir) if n.endswith(ext)}.difference(target_name(n, ext) for n in exclude)
    missing = [n for n in raw_names if target_name(n, ext) not in rgb_names]
    extra = sorted(rgb_names.difference(target_name(n, ext) for n in raw_names))
    if missing or extra:
        raise UsageError("%s RAW and target folders hold different files (%d RAW without a target, "
                         "e.g. %r; %d targets without a RAW, e.g. %r)" % (
                             split, len(missing), missing[:1], len(extra), extra[:1]))
    return raw_names


def require_split(dataset_dir, split, raw_dir):
    """UsageError unless dataset_dir holds the split folder (raw_dir: the RAW folder in it), naming
    the folders it does hold (and, for a missing val/, the Zurich RAW-to-RGB set's way: validating
    on test/)."""
    if os.path.isdir(os.path.join(dataset_dir, split)):
        return
    there = sorted(n + "/" for n in os.listdir(dataset_dir) if os.path.isdir(os.path.join(dataset_dir, n)))
    raise UsageError("%s RAW folder %r does not exist, nor does %s/ in dataset folder %r (it holds %s)%s" % (
        split, raw_dir, split, dataset_dir, ", ".join(there) or "no folders",
        "; a dataset of train/ and test/ only (the Zurich RAW-to-RGB set) validates on test/ with val_split=test"
        if split == "val" else ""))


def _crop_box(h, w, patch_h, patch_w, offset, path):
    """(y, x) of a patch_h x patch_w crop of an h x w image: centred with offset=None, else placed
    by offset = (u, v) in [0, 1) along each axis. Even offsets keep the Bayer phase."""
    if patch_h > h or patch_w > w:
        raise UsageError("patch %dx%d is larger than image %r (%dx%d); lower patch_w/patch_h"
                         % (patch_w, patch_h, path, w, h))
    if offset is None:
        return (h - patch_h) // 4 * 2, (w - patch_w) // 4 * 2
    return tuple(2 * min(int(u * ((size - patch) // 2 + 1)), (size - patch) // 2)
                 for u, size, patch in ((offset[0], h, patch_h), (offset[1], w, patch_w)))


def check_pairs(dataset_dir, split, phone_dir, dslr_dir, names, patch_h, patch_w):
    """Read only the headers of every pair: RAW 16-bit single-channel, target RGB, same size,
    at least patch_h x patch_w. Fast (no decoding), so a whole dataset is checked before training
    starts; a truncated file is found when it is decoded (and named then)."""
    rgb_dir = os.path.join(dataset_dir, split, dslr_dir)
    ext = target_ext(rgb_dir, "%s target" % split)
    for name in progress_bar(names, desc="checking %s" % split, unit="img", leave=False):
        raw_path = os.path.join(dataset_dir, split, phone_dir, name)
        rgb_path = os.path.join(rgb_dir, target_name(name, ext))
        w, h = raw_size(raw_path)
        tw, th, tmode = _header(rgb_path, "target")
        if tmode not in ("RGB", "RGBA", "P"):
            raise UsageError("target file %r is not an 8-bit RGB %s (mode %s)" % (rgb_path, _format(rgb_path), tmode))
        if (tw, th) != (w, h):
            raise UsageError("RAW %r is %dx%d but its target is %dx%d; they must match" % (
                raw_path, w, h, tw, th))
        _crop_box(h, w, patch_h, patch_w, None, raw_path)


def verified_header(path, what):
    """(width, height, mode) of a PNG from its header once every chunk's checksum is verified
    (PIL's verify): a truncated or corrupt file is found without decoding its pixels. A JPEG
    target's header is read the same way (PIL verifies less of a JPEG: read_rgb finds the rest)."""
    try:
        with Image.open(path) as img:
            found = img.size + (img.mode,)
            img.verify()
    except (OSError, SyntaxError, ValueError) as err:
        raise UsageError("cannot read %s %s %r (corrupt or truncated?): %s" % (what, _format(path), path, err))
    return found


def checked_raw_shape(path, crop_odd=False):
    """(height, width) of the mosaic read_raw gives, with its UsageErrors, from the PNG's verified
    header (no decoding; a DNG is converted to find out)."""
    if _is_dng(path):
        return read_raw(path).shape
    w, h, mode = verified_header(path, "RAW")
    _check_raw(path, mode, 2 if mode in RAW_MODES else 3, w, h, odd_ok=crop_odd)
    return h - h % 2, w - w % 2


def checked_rgb_shape(path):
    """(height, width) of the target read_rgb gives, with its UsageErrors, from the PNG's verified
    header (no decoding)."""
    w, h, mode = verified_header(path, "RGB")
    if mode not in ("RGB", "RGBA", "P"):
        raise UsageError("target file %r is not an 8-bit RGB %s (mode %s)" % (path, _format(path), mode))
    return h, w


def _header(path, what):
    try:
        with Image.open(path) as img:
            return img.size + (img.mode,)
    except (OSError, SyntaxError, ValueError) as err:
        raise UsageError("cannot read %s %s %r (corrupt or not a %s?): %s" % (what, _format(path), path, _format(path), err))


def _format(path):
    return "JPEG" if path.lower().endswith((".jpg", ".jpeg")) else "PNG"


def load_pairs(dataset_dir, split, phone_dir, dslr_dir, names, patch_h, patch_w, offsets=None, bad=None,
               workers=0, stop=None, show_progress=True):
    """Read `names` as (uint16 planes [N, ph/2, pw/2, 4], uint8 targets [N, ph, pw, 3]).

    Images larger than the patch are cropped: centred, or at `offsets` (one (u, v) in [0, 1) per
    name, see _crop_box), so the patches depend only on the names and offsets, never on the order
    files are decoded in. A pair that cannot be decoded is a UsageError, or, given a dict `bad`, is
    left out and recorded there as name -> the one-line reason (the arrays are then shorter than
    `names`: views of the same buffers, never a copy). `workers` > 1 decodes in that many threads
    (PNG decoding releases the GIL). A set threading.Event `stop` ends the loading between files
    with thread_pool.Cancelled.
    """
    raw_dir = os.path.join(dataset_dir, split, phone_dir)
    rgb_dir = os.path.join(dataset_dir, split, dslr_dir)
    raws = np.empty((len(names), patch_h // 2, patch_w // 2, 4), np.uint16)
    rgbs = np.empty((len(names), patch_h, patch_w, 3), np.uint8)
    errors = [None] * len(names)
    ext = target_ext(rgb_dir, "%s target" % split)

    def one(k):
        raw_path = os.path.join(raw_dir, names[k])
        rgb_path = os.path.join(rgb_dir, target_name(names[k], ext))
        try:
            raw = read_raw(raw_path)
            rgb = read_rgb(rgb_path)
            if rgb.shape[:2] != raw.shape:
                raise UsageError("RAW %r is %dx%d but its target is %dx%d; they must match" % (
                    raw_path, raw.shape[1], raw.shape[0], rgb.shape[1], rgb.shape[0]))
        except UsageError as err:
            if bad is None:
                raise
            errors[k] = err
            return
        y, x = _crop_box(raw.shape[0], raw.shape[1], patch_h, patch_w, None if offsets is None else offsets[k],
                         raw_path)
        raws[k] = bayer_planes(raw[y:y + patch_h, x:x + patch_w])
        rgbs[k] = rgb[y:y + patch_h, x:x + patch_w]

    for_each(len(names), one, workers, stop, "loading %s" % split, show_progress)
    good = [k for k, err in enumerate(errors) if err is None]
    for k, err in enumerate(errors):
        if err is not None:
            bad[names[k]] = str(err)
    if len(good) == len(names):
        return raws, rgbs
    for j, k in enumerate(good):  # close the gaps in place (j <= k): no second copy of the arrays
        raws[j], rgbs[j] = raws[k], rgbs[k]
    return raws[:len(good)], rgbs[:len(good)]


def draw_training_pool(names, train_size, rng):
    """The random part of a training pool: `train_size` of `names` (sorted as given) and a crop
    offset (u, v) in [0, 1) for each. Everything else about the pool follows from these."""
    chosen = sorted(rng.choice(len(names), train_size, replace=False))
    return [names[i] for i in chosen], rng.random_sample((train_size, 2))


def load_training_batch(dataset_dir, phone_dir, dslr_dir, train_size, patch_h, patch_w, rng, bad=None, workers=0,
                        stop=None, show_progress=True, warn=True, exclude=()):
    """`train_size` random training pairs (all of them, with a warning unless warn=False, if fewer
    exist), drawn by draw_training_pool from `rng`. With a dict `bad`: its names are not drawn, and
    pairs that cannot be decoded are left out and added to it (see load_pairs, also for `workers`
    and `stop`). Names in `exclude` are never drawn."""
    names = paired_names(dataset_dir, "train", phone_dir, dslr_dir, exclude)
    if bad:
        names = [name for name in names if name not in bad]
    if train_size > len(names):
        if warn:
            sys.stderr.write("warning: train_size=%d but only %d training images exist; using all\n"
                             % (train_size, len(names)))
        train_size = len(names)
    chosen, offsets = draw_training_pool(names, train_size, rng)
    return load_pairs(dataset_dir, "train", phone_dir, dslr_dir, chosen, patch_h, patch_w, offsets, bad, workers,
                      stop, show_progress)


def load_val_data(dataset_dir, phone_dir, dslr_dir, patch_h, patch_w, split="val", exclude=()):
    """Every validation pair of `split` (but those in `exclude`), centre-cropped to the patch size."""
    names = paired_names(dataset_dir, split, phone_dir, dslr_dir, exclude)
    return load_pairs(dataset_dir, split, phone_dir, dslr_dir, names, patch_h, patch_w)


def read_exclude(path, dataset_dir, splits, phone_dir, dslr_dir):
    """{split: frozenset of RAW names} from an exclude file (check_dataset.py's exclude.txt: one
    split/name a line, e.g. train/12.png; blank lines and # comments ignored), for the `splits` a
    run reads, and how many lines name other splits (e.g. test). UsageError, naming the line, for a
    missing file, a line not of that form, a split folder that does not exist, or a name that is
    neither a RAW nor a target of its split."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise UsageError("exclude=%s: cannot read it (%s); name check_dataset.py's exclude.txt or your own list "
                         "of split/name lines" % (path, err.strerror or err))
    found, other = {split: set() for split in splits}, 0
    for number, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        split, _, name = entry.partition("/")
        if not name or "/" in name:
            raise UsageError("exclude=%s line %d: %r is not of the form split/name (e.g. train/12.png)"
                             % (path, number, line))
        if not os.path.isdir(os.path.join(dataset_dir, split)):
            raise UsageError("exclude=%s line %d: %r names split %r, which %s does not hold" % (
                path, number, line, split, dataset_dir))
        if split not in found:
            other += 1
            continue
        raw_dir, rgb_dir = os.path.join(dataset_dir, split, phone_dir), os.path.join(dataset_dir, split, dslr_dir)
        if not (os.path.isfile(os.path.join(raw_dir, name)) or
                os.path.isfile(find_target(rgb_dir, name))):
            raise UsageError("exclude=%s line %d: %s is neither a RAW in %s nor a target in %s (an exclude list of "
                             "another dataset?)" % (path, number, entry, raw_dir, rgb_dir))
        found[split].add(name)
    return {split: frozenset(names) for split, names in found.items()}, other
