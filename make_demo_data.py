"""Make a dataset in the MAI21 layout from good photos: the ones scikit-image and matplotlib ship,
or any folder of yours (photos_dir=), unprocessed into a phone's RAW space: a made-up phone's, or
your own phone's from one of its DNGs (profile=).

No download is needed or possible: the shipped photos come from the packages' data. Each photo is
the scene; for variety the training crops' hues are turned and their saturation scaled at random
(`recolour`; neutrals stay neutral). A scene's RAW is made by an inverse ISP (isp/unprocess.py):

  1. undo the sRGB gamma (to linear light)
  2. shift the scene by up to `shift` pixels against the target (pairs aligned by feature matching
     are never exact) and blur it a little (`blur`: the phone's small lens is softer than the DSLR's)
  3. go to the camera's colour space and undo the white balance of this scene's light, drawn per
     scene from tungsten ~2850 K to shade ~7500 K (`wb`), so the network has to infer the light
     from the image: the demo phone's one colour matrix and gains along the daylight locus, or,
     with profile=, the DNG's colour matrices at that light, off the locus as its AsShotNeutral is
  4. expose: brightness drawn per scene over `exposure_stops` stops
  5. mosaic to the RGGB Bayer pattern that the debayering expects (R at [0::2, 0::2])
  6. add shot noise (variance proportional to the signal) and read noise (the profile's
     NoiseProfile, else drawn per scene), both raised per scene by an ISO gain over `iso_stops` stops
  7. quantise (with profile=, at the sensor's black and white levels first) to 10 bits (0..1023),
     as dng2png.py converts a DNG, and store as a single-channel 16-bit PNG

Its target is the scene with a DSLR look that no inverse ISP undoes (`look`): a contrast tone
curve, more saturation and mild sharpening, the same for the whole dataset. `effects=False` (or
every strength 0) gives the plain inverse ISP of earlier versions; with `more_photos=False` too
(the five training photos of earlier versions) the training data are theirs byte for byte. Each
split draws from its own random streams, so the val and test data do not depend on train_count,
the training photos or recolour.

Train and val patches (256x256 by default) come from different photos (photos_dir=: split by photo,
one photo decoded at a time); the test RAWs are full-resolution scenes (resized to cover
test_h x test_w) with their targets under test/<dslr_dir>/ for PSNR/SSIM; `dng=True` also writes
them as the phone's DNGs would hold them, to try DNG input on (test/dng/<n>.dng; the demo phone is
a GRBG sensor, 12-bit with a black level; read back, they lose a column to the RGGB alignment).
`preview=PATH` also writes a picture of the first training pairs (RAW as the sensor saw it | target).

Every pair's true misalignment is written to <out>/shifts.csv (split, name, shift_x, shift_y: in target
pixels, positive where the target's content lies right of / below the RAW's, as check_dataset.py
measures it; `bad`: how a pair was spoilt). `bad_pairs=N` spoils N training pairs on purpose, in
turn: another scene's target, a 20-px shift, a blown exposure (for testing check_dataset.py).
`dslr_format=jpg` writes the targets as JPEGs; with `val_split=test` (and dslr_dir=canon/
phone_dir=huawei_raw/ test_dir=huawei_full_resolution/) it is the Zurich RAW-to-RGB layout:
train/ and test/ patches, full-resolution test RAWs without targets.

    python make_demo_data.py out=demo/raw_images/ train_count=240 val_count=24

It writes only into a new or empty folder, or over a demo dataset it made itself: a marker file
(`.make_demo_data`) lists the files it wrote, and overwrite=True replaces exactly those (any other
file in the folder stays). A folder without the marker (e.g. the real MAI21 data) is never touched.
"""
import os
import shutil

from isp.errors import UsageError, run_main  # first: a third-party module missing below is one line (isp/errors.py)

import numpy as np
from PIL import Image
from scipy import ndimage

from isp import load_dataset
from isp import previews
from isp import unprocess
from isp.args import Arg, non_negative_float, non_negative_int, parse_args, positive_int, to_bool
from isp.camera_profile import read_profile
from isp.photo_source import PhotoFolder, ShippedPhotos, training_photos
from isp.progress import progress as progress_bar
from isp.unprocess import draw_scene, inverse_isp, write_scene_dng
from isp.utils import atomic_write_text, plural, replace_folder, restore_set_aside

ARGS = [
    Arg("out", str, "raw_images/", "dataset folder to write (train/, val/, test/)"),
    Arg("train_count", positive_int, 240, "number of training patches"),
    Arg("val_count", positive_int, 24, "number of validation patches"),
    Arg("test_count", positive_int, 2, "number of full-resolution test scenes (at most 2 from the shipped photos)"),
    Arg("patch_size", positive_int, 256, "side of the square train/val patches (even)"),
    Arg("test_h", positive_int, 1088, "height of the test RAWs and targets (even)"),
    Arg("test_w", positive_int, 1920, "width of the test RAWs and targets (even)"),
    Arg("dslr_dir", str, "fujifilm/", "target sub-folder name"),
    Arg("phone_dir", str, "mediatek_raw/", "RAW sub-folder name"),
    Arg("test_dir", str, "fujifilm_full_resolution/", "test RAW sub-folder name"),
    Arg("dslr_format", str, "png", "the targets' format: png, or jpg (as the Zurich RAW-to-RGB set's canon/)"),
    Arg("val_split", str, "val", "the split folder of the validation patches: val, or test (the Zurich layout; "
        "the full-resolution test RAWs then get no targets, as there)"),
    Arg("bad_pairs", non_negative_int, 0, "spoil this many training pairs on purpose (another scene's target, "
        "a 20-px shift, a blown exposure in turn; recorded in shifts.csv) to test check_dataset.py on"),
    Arg("seed", int, 0, "random seed"),
    Arg("wb", non_negative_float, 1.0,
        "per-scene illuminant: spread of the white balance along the daylight locus "
        "(1: tungsten to shade; 0: one light for every scene: daylight, with profile= the DNG's own)"),
    Arg("exposure_stops", non_negative_float, 1.0, "per-scene exposure: RAW brightness varies over this many stops (0: off)"),
    Arg("iso_stops", non_negative_float, 1.5, "per-scene ISO: shot and read noise raised by up to this many stops (0: off)"),
    Arg("look", non_negative_float, 1.0,
        "strength of the DSLR look on the targets: tone curve, saturation, sharpening (0: the photo itself)"),
    Arg("blur", non_negative_float, 0.6, "phone optics: Gaussian lens blur sigma of the RAW side, in pixels (0: off)"),
    Arg("shift", non_negative_float, 1.0, "misalignment: RAW shifted against the target by up to this many pixels (0: off)"),
    Arg("recolour", non_negative_float, 0.5,
        "scene variety of the training crops: hues (of the sRGB values) turned by up to 180 degrees x this "
        "(at most 180) and saturation scaled by up to 2^(+-this/2), greys kept grey (0: the photos' own "
        "colours; val and test never)"),
    Arg("effects", to_bool, True, "False: none of the seven keys above (the plain inverse ISP of earlier versions; their "
        "training data with more_photos=False too)"),
    Arg("more_photos", to_bool, True,
        "False: the training crops come from the five colour photos of earlier versions only"),
    Arg("dng", to_bool, True, "also write the test scenes as the phone's DNGs to test/dng/ (to try DNG input on)"),
    Arg("photos_dir", str, "", "a folder of your photos (JPEG/PNG, searched recursively) as the scenes, "
        "instead of the shipped ones; split into train/val/test by photo"),
    Arg("profile", str, "", "one DNG from your phone: unprocess with its sensor's profile (CFA, black/white "
        "level, colour matrices, AsShotNeutral, NoiseProfile) instead of the demo phone's"),
    Arg("preview", str, "", "also write a PNG of the first training pairs (RAW as seen | target) to this path"),
    Arg("overwrite", to_bool, False,
        "replace the files of a demo dataset this script made in `out` (it never touches other files)"),
]
EFFECT_KEYS = ("wb", "exposure_stops", "iso_stops", "look", "blur", "shift", "recolour")
NO_EFFECTS = dict.fromkeys(EFFECT_KEYS, 0.0)

PREVIEW_PAIRS = 4
GREY_AXIS = np.full(3, 1 / np.sqrt(3.0))


def recolour(rgb_u8, angle, saturation):
    """Turn the hues of an 8-bit sRGB image by `angle` (radians) about the grey axis and scale its
    saturation (distance from that axis): a grey pixel stays the same grey."""
    k = GREY_AXIS
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    turn = np.cos(angle) * np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * np.outer(k, k)
    x = rgb_u8.astype(np.float32) / 255.0
    x = x @ turn.T.astype(np.float32)
    mean = x.mean(axis=-1, keepdims=True)
    x = mean + saturation * (x - mean)
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def dslr_look(rgb_u8, strength):
    """The fixed "DSLR look" of the targets: an S tone curve about mid-grey (more contrast), more
    saturation, and an unsharp mask. strength 0 returns the photo unchanged."""
    if not strength:
        return rgb_u8
    x = rgb_u8.astype(np.float32) / 255.0
    a = min(0.5 * strength, 0.9)  # slope 1 + a at mid-grey, 1 - a at black and white: monotonic
    x = x - a * np.sin(2 * np.pi * x) / (2 * np.pi)
    luma = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = luma[..., None] + (1.0 + 0.3 * strength) * (x - luma[..., None])
    x = x + 0.6 * strength * (x - ndimage.gaussian_filter(x, sigma=(1.0, 1.0, 0), mode="reflect"))
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def make_pair(rgb_u8, rng, fx_rng, strengths, camera=None, record=None):
    """(RAW mosaic, target) for one scene (camera, record: see unprocess.inverse_isp; it also gets
    the scene's "shift" as (shift_x, shift_y) in check_dataset.py's sense)."""
    scene = draw_scene(fx_rng, strengths)
    if record is not None:
        dy, dx = scene["shift"]  # the RAW's content moved by (dy, dx): the target's lies at minus that
        record["shift"] = (-dx, -dy)
    return (inverse_isp(rgb_u8, rng, scene, strengths["blur"], camera, record), dslr_look(rgb_u8, strengths["look"]))


BAD_KINDS = ("other scene", "shift 20 px", "blown exposure")
BAD_SHIFT = 20  # pixels, to the right: the target's content moves right


def spoil(kind, raw, target, previous_target, shift):
    """(raw, target, true shift) of a pair spoilt on purpose (BAD_KINDS): the target of the scene
    before it, the target moved BAD_SHIFT pixels right (its edge repeated), the RAW brightened until
    its median reaches the white level (at least 2 stops; clipped there)."""
    if kind == "other scene":
        return raw, previous_target, shift
    if kind == "shift 20 px":
        moved = np.concatenate([np.repeat(target[:, :1], BAD_SHIFT, axis=1), target[:, :-BAD_SHIFT]], axis=1)
        return raw, moved, (shift[0] + BAD_SHIFT, shift[1])
    gain = max(4.0, unprocess.WHITE_LEVEL / max(float(np.median(raw)), 1.0))  # at least half the sites clip
    return np.minimum(np.round(raw * gain), unprocess.WHITE_LEVEL).astype(np.uint16), target, shift


def spoilt_indices(count, bad_pairs):
    """The training pairs bad_pairs=N spoils: spread over the set, never the first (whose target
    would have no scene before it)."""
    return {1 + (j * (count - 1)) // bad_pairs: BAD_KINDS[j % len(BAD_KINDS)] for j in range(bad_pairs)}


def write_preview(path, pairs, per_row=2, labels=("RAW (as the sensor saw it)", "target")):
    """A labelled PNG of the pairs, `per_row` pairs (RAW as the sensor saw it | target) to a row: the
    RAW with no white balance and no brightening, so a dark or tinted scene looks dark or tinted."""
    views = [(previews.raw_preview(load_dataset.bayer_planes(raw).astype(np.float32), unprocess.WHITE_LEVEL), rgb / 255.0)
             for raw, rgb in pairs]
    rows = [[img for pair in views[i:i + per_row] for img in pair] for i in range(0, len(views), per_row)]
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    previews.save_png(path, previews.labelled_grid(rows, labels * min(per_row, len(pairs))))


def save_pair(raw, rgb, raw_path, rgb_path):
    Image.fromarray(raw).save(raw_path)
    if rgb_path is not None:
        Image.fromarray(rgb).save(rgb_path, **({"quality": 95} if rgb_path.endswith(".jpg") else {}))


def full_scene(img, h, w):
    """Resize (keeping the aspect) so the photo covers h x w, then centre-crop to it."""
    ih, iw = img.shape[:2]
    scale = max(h / ih, w / iw)
    if scale != 1:
        size = (max(w, int(round(iw * scale))), max(h, int(round(ih * scale))))
        img = np.asarray(Image.fromarray(img).resize(size, Image.LANCZOS))
    ih, iw = img.shape[:2]
    y, x = (ih - h) // 2, (iw - w) // 2
    return np.ascontiguousarray(img[y:y + h, x:x + w])


TRUTH_FILE = "shifts.csv"  # in `out`: each pair's true shift (and how a pair was spoilt on purpose)
MARKER = ".make_demo_data"  # in `out`: the files this script wrote there, one relative path a line


def _files_under(folder):
    """Relative paths of the files under folder (sorted, '/'-separated)."""
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            found.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    return sorted(found)


def earlier_files(out, overwrite):
    """The files an earlier run wrote to `out` (from its marker; [] for a new or empty folder).
    UsageError for a non-empty folder without a marker (someone else's data: never touched, even
    with overwrite=True) and for an earlier demo dataset without overwrite=True."""
    if not os.path.isdir(out) or set(os.listdir(out)) <= {".gitkeep"}:
        if os.path.exists(out) and not os.path.isdir(out):
            raise UsageError("out=%r is a file, not a folder" % out)
        return []
    marker = os.path.join(out, MARKER)
    if not os.path.isfile(marker):
        raise UsageError("%r holds files that make_demo_data.py did not write (it has no %s marker); "
                         "it never replaces or deletes them: choose a new or empty folder with out="
                         % (out, MARKER))
    if not overwrite:
        raise UsageError("%r holds an earlier demo dataset; pass overwrite=True to replace the files "
                         "make_demo_data.py wrote there (other files stay), or choose another out=" % out)
    with open(marker) as f:
        return [line.strip() for line in f if line.strip()]


def swap_in(tmp, out, overwrite):
    """Put the finished dataset in tmp at out in one step (utils.replace_folder: a crash leaves the
    earlier dataset or the new one there, never a mix). The files of out that the earlier run did
    not write (every one not in its marker) and its empty folders are linked into tmp first, at the
    same places; the earlier demo files leave with the old folder, which is then deleted."""
    old = set(earlier_files(out, overwrite))
    new = _files_under(tmp)
    clash = [rel for rel in new if rel not in old and os.path.exists(os.path.join(out, rel))]
    if clash:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UsageError("%r already holds %s (and %d more), which make_demo_data.py did not write; "
                         "move it away or choose another out=" % (out, clash[0], len(clash) - 1))
    atomic_write_text(os.path.join(tmp, MARKER), "".join(rel + "\n" for rel in new))
    if os.path.isdir(out):
        for rel in _files_under(out):
            if rel not in old and rel != MARKER:
                os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
                try:
                    os.link(os.path.join(out, rel), os.path.join(tmp, rel))
                except OSError:  # a file system without hard links
                    shutil.copy2(os.path.join(out, rel), os.path.join(tmp, rel))
        for root, folders, files in os.walk(out):
            if not folders and not files:
                os.makedirs(os.path.join(tmp, os.path.relpath(root, out)), exist_ok=True)
    replaced = replace_folder(tmp, out)
    if replaced:
        shutil.rmtree(replaced)


def make_dataset(out, train_count=240, val_count=24, test_count=2, patch_size=256, test_h=1088,
                 test_w=1920, dslr_dir="fujifilm/", phone_dir="mediatek_raw/",
                 test_dir="fujifilm_full_resolution/", seed=0, overwrite=False, progress=True,
                 effects=True, more_photos=True, preview="", dng=True, photos_dir="", profile="", log=print,
                 dslr_format="png", val_split="val", bad_pairs=0, **strengths):
    """Write the dataset to `out`; strengths: the EFFECT_KEYS (missing ones take their defaults;
    effects=False sets all of them to 0). `log` gets the lines that say what was used (the
    profile, each default taken for a missing DNG tag, the photos' split, photos skipped)."""
    unknown = set(strengths) - set(EFFECT_KEYS)
    if unknown:
        raise TypeError("unknown effect(s): %s" % ", ".join(sorted(unknown)))
    defaults = {arg.name: arg.default for arg in ARGS if arg.name in EFFECT_KEYS}
    strengths = dict(NO_EFFECTS) if not effects else dict(defaults, **strengths)
    for name, value in (("patch_size", patch_size), ("test_h", test_h), ("test_w", test_w)):
        if value % 2:
            raise UsageError("%s=%d must be even (a Bayer mosaic has 2x2 cells)" % (name, value))
    if dslr_format not in ("png", "jpg"):
        raise UsageError("dslr_format=%s: png or jpg" % dslr_format)
    if val_split not in ("val", "test"):
        raise UsageError("val_split=%s: val, or test (the Zurich layout)" % val_split)
    if val_split == "test" and os.path.normpath(test_dir) in (os.path.normpath(phone_dir), os.path.normpath(dslr_dir)):
        raise UsageError("val_split=test puts the validation patches into test/%s and test/%s: test_dir=%s must "
                         "differ from both (e.g. huawei_full_resolution/)" % (phone_dir, dslr_dir, test_dir))
    if bad_pairs > max(train_count - 1, 0):
        raise UsageError("bad_pairs=%d: at most train_count - 1 = %d" % (bad_pairs, train_count - 1))
    restore_set_aside(out)  # a run that crashed while it swapped its dataset in
    earlier_files(out, overwrite)  # refuses a folder it did not make (before any work)
    camera = unprocess.ProfileCamera(read_profile(profile)) if profile else unprocess.DemoCamera()
    if profile:
        log("profile " + camera.profile.describe())
    tmp = out.rstrip("/") + ".partial"
    if photos_dir:
        source = PhotoFolder(photos_dir, patch_size, test_count, seed, skip=(out, tmp))
        log("photos_dir %s: %d train, %d val and %d test photos" % tuple(
            [photos_dir] + [len(source.split[k]) for k in ("train", "val", "test")]))
    else:
        source = ShippedPhotos(more_photos, test_count)  # every photo read before anything is written
    for note in list(camera.notes) + list(source.notes):
        log("note: " + note)
    # Each split draws from its own streams (crops and noise; the effects), and recolour from its
    # own, so the val and test data do not depend on train_count, the training photos or recolour.
    # The training streams are those of earlier versions.
    streams = {split: (np.random.RandomState(a), np.random.RandomState(b)) for split, a, b in (
        ("train", seed, [seed, 1]), ("val", [seed, 3], [seed, 4]), ("test", [seed, 5], [seed, 6]))}
    hue_rng = np.random.RandomState([seed, 2])
    shown, truth = [], ["split,name,shift_x,shift_y,bad\n"]
    spoilt = spoilt_indices(train_count, bad_pairs) if bad_pairs else {}
    ext = "." + dslr_format
    shutil.rmtree(tmp, ignore_errors=True)
    bar = progress_bar(total=train_count + val_count + test_count, desc="making demo data", unit="img",
                       disable=not progress)
    try:
        for split, count in (("train", train_count), ("val", val_count)):
            rng, fx_rng = streams[split]
            folder = val_split if split == "val" else split
            raw_dir, rgb_dir = _split_dirs(tmp, folder, phone_dir, dslr_dir)
            previous = None
            for i, rgb in enumerate(source.patches(split, count, patch_size, rng)):
                if split == "train" and strengths["recolour"]:
                    angle, sat = hue_rng.uniform(-1, 1), hue_rng.uniform(-1, 1)
                    rgb = recolour(rgb, np.pi * angle * min(strengths["recolour"], 1.0),
                                   2.0 ** (0.5 * sat * strengths["recolour"]))
                record = {}
                raw, target = make_pair(rgb, rng, fx_rng, strengths, camera, record)
                shift, kind = record["shift"], spoilt.get(i, "") if split == "train" else ""
                clean_target = target
                if kind:
                    raw, target, shift = spoil(kind, raw, target, previous, shift)
                previous = clean_target
                save_pair(raw, target, os.path.join(raw_dir, "%d.png" % i), os.path.join(rgb_dir, "%d%s" % (i, ext)))
                truth.append("%s,%d.png,%.4f,%.4f,%s\n" % ((folder, i) + tuple(shift) + (kind,)))
                if split == "train" and len(shown) < PREVIEW_PAIRS:
                    shown.append((raw, target))
                bar.update()
        raw_dir = os.path.join(tmp, "test", test_dir)
        os.makedirs(raw_dir)
        rgb_dir = None if val_split == "test" else os.path.join(tmp, "test", dslr_dir)
        if rgb_dir is not None:
            os.makedirs(rgb_dir)
        rng, fx_rng = streams["test"]
        for i, photo in enumerate(source.scenes()):
            record = {}
            raw, target = make_pair(full_scene(photo, test_h, test_w), rng, fx_rng, strengths, camera, record)
            del photo
            save_pair(raw, target, os.path.join(raw_dir, "%d.png" % (i + 1)),
                      None if rgb_dir is None else os.path.join(rgb_dir, "%d%s" % (i + 1, ext)))
            if rgb_dir is not None:
                truth.append("test,%d.png,%.4f,%.4f,\n" % ((i + 1,) + tuple(record["shift"])))
            if dng:
                os.makedirs(os.path.join(tmp, "test", "dng"), exist_ok=True)
                write_scene_dng(os.path.join(tmp, "test", "dng", "%d.dng" % (i + 1)), raw, camera, record,
                                "make_demo_data.py")
            bar.update()
        atomic_write_text(os.path.join(tmp, TRUTH_FILE), "".join(truth))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # nothing half-written stays
        raise
    finally:
        bar.close()
    swap_in(tmp, out, overwrite)  # only now: an interrupted run leaves the old dataset as it was
    if preview:
        write_preview(preview, shown)
    return out


def _split_dirs(tmp, split, raw_sub, rgb_sub):
    dirs = (os.path.join(tmp, split, raw_sub), os.path.join(tmp, split, rgb_sub))
    for folder in dirs:
        os.makedirs(folder)
    return dirs


def main(argv):
    a = parse_args(ARGS, argv, doc=__doc__)
    out = a.pop("out")
    try:
        make_dataset(out, **a)
    except OSError as err:
        raise UsageError("cannot write the dataset to %r: %s" % (out, err))
    print("wrote %d train and %s (%dx%d) and %s (%dx%d) to %s" % (
        a["train_count"], plural(a["val_count"], "val patch", "val patches"), a["patch_size"], a["patch_size"],
        plural(a["test_count"], "test scene", "test scenes"), a["test_w"], a["test_h"], out))
    if a["effects"]:
        print("effects: " + ", ".join("%s=%g" % (k, a[k]) for k in EFFECT_KEYS))
    else:
        print("effects: none (the plain inverse ISP)")
    if not a["photos_dir"]:
        photos = len(training_photos(a["more_photos"]))
        print("training crops from %d of the %d training photos%s" % (
            min(photos, a["train_count"]), photos, "" if a["more_photos"] else " (more_photos=False)"))
    if a["dng"]:
        print("the test scenes also as DNGs of %s in %s (for test_model.py dataset_dir=%s test_dir=dng "
              "img_h=full img_w=full)" % ("the profile's sensor" if a["profile"] else "a %s sensor" % unprocess.DemoCamera.cfa,
                                          os.path.join(out, "test", "dng", ""), out))
    if a["bad_pairs"]:
        print("%d training pairs spoilt on purpose (%s in turn)" % (a["bad_pairs"], ", ".join(BAD_KINDS)))
    print("true shifts of the pairs: %s" % os.path.join(out, TRUTH_FILE))
    if a["preview"]:
        print("preview of the first training pairs: %s" % a["preview"])


if __name__ == "__main__":
    run_main(main)
