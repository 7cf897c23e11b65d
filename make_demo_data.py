"""Make a small dataset in the MAI21 layout from real photos that scikit-image and matplotlib ship.

No download is needed or possible: the photos come from the packages' data. Each photo (8-bit
sRGB; the grey textures tinted to their natural colours) is the scene; for variety the training
crops' hues are turned and their saturation scaled at random (`recolour`; neutrals stay neutral).
A scene's RAW is made by an inverse ISP:

  1. undo the sRGB gamma (to linear light)
  2. shift the scene by up to `shift` pixels against the target (pairs aligned by feature matching
     are never exact) and blur it a little (`blur`: the phone's small lens is softer than the DSLR's)
  3. undo a colour matrix (sRGB <- camera) and the white balance of this scene's light: its R and B
     gains are drawn per scene along the daylight locus (`wb`: tungsten ~2850 K to shade ~7500 K),
     so the network has to infer the light from the image
  4. expose: brightness drawn per scene over `exposure_stops` stops
  5. mosaic to the RGGB Bayer pattern that the debayering expects (R at [0::2, 0::2])
  6. add shot noise (variance proportional to the signal) and read noise, both raised per scene by
     an ISO gain drawn over `iso_stops` stops
  7. quantise to 10 bits (0..1023) and store as a single-channel 16-bit PNG

Its target is the scene with a DSLR look that no inverse ISP undoes (`look`): a contrast tone
curve, more saturation and mild sharpening, the same for the whole dataset. `effects=False` (or
every strength 0) gives the plain inverse ISP of earlier versions; with `more_photos=False` too
(the five training photos of earlier versions) the training data are theirs byte for byte. Each
split draws from its own random streams, so the val and test data do not depend on train_count,
the training photos or recolour (they changed once, when each split got its own streams).

Train and val patches (256x256 by default) come from different photos; the test RAWs are
full-resolution scenes (the default 1920x1088 is larger than any shipped photo, so these are
upsampled) with their targets under test/<dslr_dir>/ for PSNR/SSIM; `dng=True` also writes them as
a phone's DNGs would hold them, to try DNG input on (test/dng/<n>.dng: a GRBG sensor, 12-bit with a
black level; read back, they lose a column to the RGGB alignment). `preview=PATH` also writes a
picture of the first training pairs (RAW as the sensor saw it | target).

    python make_demo_data.py out=demo/raw_images/ train_count=240 val_count=24

It writes only into a new or empty folder, or over a demo dataset it made itself: a marker file
(`.make_demo_data`) lists the files it wrote, and overwrite=True replaces exactly those (any other
file in the folder stays). A folder without the marker (e.g. the real MAI21 data) is never touched.
"""
import importlib.util
import os
import shutil

from errors import UsageError, run_main  # first: a third-party module missing below is one line (errors.py)

import numpy as np
from PIL import Image
from scipy import ndimage

import dng as dng_files
import load_dataset
import previews
from args import Arg, non_negative_float, parse_args, positive_int, to_bool
from progress import progress as progress_bar
from utils import atomic_write_text

ARGS = [
    Arg("out", str, "raw_images/", "dataset folder to write (train/, val/, test/)"),
    Arg("train_count", positive_int, 240, "number of training patches"),
    Arg("val_count", positive_int, 24, "number of validation patches"),
    Arg("test_count", positive_int, 2, "number of full-resolution test scenes (at most 2)"),
    Arg("patch_size", positive_int, 256, "side of the square train/val patches (even)"),
    Arg("test_h", positive_int, 1088, "height of the test RAWs and targets (even)"),
    Arg("test_w", positive_int, 1920, "width of the test RAWs and targets (even)"),
    Arg("dslr_dir", str, "fujifilm/", "target sub-folder name"),
    Arg("phone_dir", str, "mediatek_raw/", "RAW sub-folder name"),
    Arg("test_dir", str, "fujifilm_full_resolution/", "test RAW sub-folder name"),
    Arg("seed", int, 0, "random seed"),
    Arg("wb", non_negative_float, 1.0,
        "per-scene illuminant: spread of the white balance along the daylight locus "
        "(1: tungsten to shade; 0: the same daylight gains for every scene)"),
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
    Arg("dng", to_bool, True, "also write the test scenes as a GRBG sensor's DNGs to test/dng/ (to try DNG input on)"),
    Arg("preview", str, "", "also write a PNG of the first training pairs (RAW as seen | target) to this path"),
    Arg("overwrite", to_bool, False,
        "replace the files of a demo dataset this script made in `out` (it never touches other files)"),
]
EFFECT_KEYS = ("wb", "exposure_stops", "iso_stops", "look", "blur", "shift", "recolour")
NO_EFFECTS = dict.fromkeys(EFFECT_KEYS, 0.0)

# Disjoint photos for each split: file names inside scikit-image's data folder, "mpl:" names inside
# matplotlib's sample_data folder. The three grey textures (grass, gravel, brick) are given their
# natural colours (TEXTURE_TINTS). Five colour photos alone made the network learn their colours by
# heart on long runs (docs/experiments.md); the textures, a second photo of a person and `recolour`
# give it variety.
FIRST_PHOTOS = ("astronaut.png", "coffee.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png")
TRAIN_PHOTOS = FIRST_PHOTOS + ("mpl:grace_hopper.jpg", "grass.png", "gravel.png", "brick.png")
VAL_PHOTOS = ("rocket.jpg", "chelsea.png")
TEST_PHOTOS = ("motorcycle_left.png", "motorcycle_right.png")

# sRGB (linear) <- camera RGB; rows sum to 1 so grey stays grey. A typical smartphone matrix.
CCM = np.array([[1.70, -0.55, -0.15],
                [-0.25, 1.55, -0.30],
                [0.05, -0.60, 1.55]], np.float32)
WB_GAINS = (2.0, 1.0, 1.7)  # R, G, B gains the camera's ISP applies in daylight (~5500 K)
# The white-balance gains (R, B) of a typical phone sensor at the two ends of the illuminants the
# wb key spans, daylight being WB_GAINS: tungsten (~2850 K) needs little red gain and much blue
# gain, shade (~7500 K) the opposite. Gains in between lie on the log-linear path through them, so
# R and B move together, as along the daylight / Planckian locus; a small off-locus tint is added.
TUNGSTEN_GAINS = (1.30, 2.90)
SHADE_GAINS = (2.40, 1.40)
TINT_SIGMA = 0.02
# Linear-light RGB reflectance tints of the grey textures (typical colours of grass, gravel, brick).
TEXTURE_TINTS = {"grass.png": (0.45, 0.80, 0.25), "gravel.png": (0.85, 0.78, 0.66),
                 "brick.png": (0.90, 0.45, 0.30)}
WHITE_LEVEL = 1023
DNG_CFA, DNG_BLACK, DNG_WHITE = "GRBG", (256, 256, 256, 256), 4095  # the sample DNGs' sensor: not RGGB, 12-bit
PREVIEW_PAIRS = 4


# photo-name prefix -> (module, its pip name, the photos' folder inside it)
PHOTO_PACKAGES = {"": ("skimage", "scikit-image", "data"),
                  "mpl": ("matplotlib", "matplotlib", os.path.join("mpl-data", "sample_data"))}


def training_photos(more_photos=True):
    return TRAIN_PHOTOS if more_photos else FIRST_PHOTOS


def photo_folder(prefix=""):
    module, pip, folder = PHOTO_PACKAGES[prefix]  # KeyError: a name in the tables above with an unknown prefix
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise UsageError("%s is not installed; it ships the photos: pip install %s" % (pip, pip))
    return os.path.join(os.path.dirname(spec.origin), folder)


def load_photo(name):
    """A photo as 8-bit sRGB [H, W, 3]; a grey texture in its natural colour (TEXTURE_TINTS)."""
    prefix, _, file = name.rpartition(":")
    path = os.path.join(photo_folder(prefix), file)
    if not os.path.isfile(path):
        module, pip, _ = PHOTO_PACKAGES[prefix]
        raise UsageError("the photo %s is missing from %s's data (%s): pip install --force-reinstall %s" % (
            file, module, os.path.dirname(path), pip))
    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"))
    if name in TEXTURE_TINTS:
        lin = srgb_to_linear(rgb.astype(np.float32) / 255.0) * np.asarray(TEXTURE_TINTS[name], np.float32)
        rgb = (linear_to_srgb(lin) * 255.0 + 0.5).astype(np.uint8)
    return rgb


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


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


def wb_gains(u, tint=(0.0, 0.0)):
    """(R, G, B) gains at position u on the locus: -1 tungsten, 0 daylight, +1 shade."""
    end = TUNGSTEN_GAINS if u < 0 else SHADE_GAINS
    t = abs(u)
    r = WB_GAINS[0] ** (1 - t) * end[0] ** t * np.exp(tint[0])
    b = WB_GAINS[2] ** (1 - t) * end[1] ** t * np.exp(tint[1])
    return (float(r), 1.0, float(b))


def draw_scene(fx_rng, strengths):
    """One scene's effects: light, exposure, ISO, misalignment. Every value is drawn whatever
    the strengths, so that changing one strength leaves the others' draws unchanged."""
    u, t_r, t_b, ev, iso, dy, dx = (fx_rng.uniform(-1, 1), fx_rng.standard_normal(),
                                    fx_rng.standard_normal(), fx_rng.uniform(0, 1),
                                    fx_rng.uniform(0, 1), fx_rng.uniform(-1, 1), fx_rng.uniform(-1, 1))
    wb = min(strengths["wb"], 1.0)
    tint = (TINT_SIGMA * strengths["wb"] * t_r, TINT_SIGMA * strengths["wb"] * t_b)
    return {"gains": wb_gains(u * wb, tint) if strengths["wb"] else WB_GAINS,
            "exposure": 2.0 ** (-ev * strengths["exposure_stops"]),
            "iso": 2.0 ** (iso * strengths["iso_stops"]),
            "shift": (dy * strengths["shift"], dx * strengths["shift"])}


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


def inverse_isp(rgb_u8, rng, scene=None, blur=0.0):
    """8-bit sRGB [H, W, 3] (H, W even) -> 10-bit RGGB mosaic as uint16 [H, W].

    `scene` (from draw_scene) sets the light, exposure, ISO and shift; None is the plain inverse
    ISP (daylight gains). `blur` is the lens blur sigma in pixels."""
    lin = srgb_to_linear(rgb_u8.astype(np.float32) / 255.0)
    if scene is not None and any(scene["shift"]):
        lin = ndimage.shift(lin, tuple(scene["shift"]) + (0,), order=1, mode="reflect")
    if blur:
        lin = ndimage.gaussian_filter(lin, sigma=(blur, blur, 0), mode="reflect")
    gains = WB_GAINS if scene is None else scene["gains"]
    cam = lin @ np.linalg.inv(CCM).T
    cam = np.clip(cam, 0.0, None) / np.asarray(gains, np.float32)
    exposure = rng.uniform(0.8, 1.0)
    if scene is not None:
        exposure *= scene["exposure"]
    cam *= exposure * WHITE_LEVEL
    h, w = cam.shape[:2]
    mosaic = np.empty((h, w), np.float32)
    mosaic[0::2, 0::2] = cam[0::2, 0::2, 0]  # R
    mosaic[0::2, 1::2] = cam[0::2, 1::2, 1]  # G (R row)
    mosaic[1::2, 0::2] = cam[1::2, 0::2, 1]  # G (B row)
    mosaic[1::2, 1::2] = cam[1::2, 1::2, 2]  # B
    shot = rng.uniform(0.2, 0.6)   # variance per unit of signal, in DN
    read = rng.uniform(0.5, 2.0)   # read-noise sigma, in DN
    if scene is not None:
        shot, read = shot * scene["iso"], read * scene["iso"]
    noisy = mosaic + rng.standard_normal(mosaic.shape).astype(np.float32) * np.sqrt(shot * mosaic + read ** 2)
    return np.clip(np.round(noisy), 0, WHITE_LEVEL).astype(np.uint16)


def make_pair(rgb_u8, rng, fx_rng, strengths):
    """(RAW mosaic, target) for one scene."""
    scene = draw_scene(fx_rng, strengths)
    return (inverse_isp(rgb_u8, rng, scene, strengths["blur"]), dslr_look(rgb_u8, strengths["look"]))


def write_preview(path, pairs, per_row=2, labels=("RAW (as the sensor saw it)", "target")):
    """A labelled PNG of the pairs, `per_row` pairs (RAW as the sensor saw it | target) to a row: the
    RAW with no white balance and no brightening, so a dark or tinted scene looks dark or tinted."""
    views = [(previews.raw_preview(load_dataset.bayer_planes(raw).astype(np.float32), WHITE_LEVEL), rgb / 255.0)
             for raw, rgb in pairs]
    rows = [[img for pair in views[i:i + per_row] for img in pair] for i in range(0, len(views), per_row)]
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    previews.save_png(path, previews.labelled_grid(rows, labels * min(per_row, len(pairs))))


def save_pair(raw, rgb, raw_path, rgb_path):
    Image.fromarray(raw).save(raw_path)
    Image.fromarray(rgb).save(rgb_path)


def random_patches(photos, count, size, rng):
    """`count` random size x size crops (with random 90-degree turns and flips) from photos."""
    for i in range(count):
        img = photos[i % len(photos)]
        h, w = img.shape[:2]
        side = min(size, h - h % 2, w - w % 2)
        y = 2 * rng.randint(0, (h - side) // 2 + 1)
        x = 2 * rng.randint(0, (w - side) // 2 + 1)
        crop = img[y:y + side, x:x + side]
        crop = np.rot90(crop, rng.randint(4))
        if rng.randint(2):
            crop = crop[:, ::-1]
        if side != size:
            crop = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.BICUBIC))
        yield np.ascontiguousarray(crop)


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
    """Move the finished dataset from tmp into out: the files of the earlier demo dataset (listed
    in its marker) are removed, every other file in out stays; then the new marker is written."""
    old = set(earlier_files(out, overwrite))
    new = _files_under(tmp)
    clash = [rel for rel in new if rel not in old and os.path.exists(os.path.join(out, rel))]
    if clash:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UsageError("%r already holds %s (and %d more), which make_demo_data.py did not write; "
                         "move it away or choose another out=" % (out, clash[0], len(clash) - 1))
    for rel in sorted(old):
        path = os.path.join(out, rel)
        if os.path.isfile(path):
            os.remove(path)
    for rel in sorted({os.path.dirname(r) for r in old if os.path.dirname(r)}, key=len, reverse=True):
        folder = os.path.join(out, rel)
        while folder.rstrip("/") != out.rstrip("/") and os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)  # only folders its own files left empty
            folder = os.path.dirname(folder)
    for rel in new:
        os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
        os.replace(os.path.join(tmp, rel), os.path.join(out, rel))
    shutil.rmtree(tmp, ignore_errors=True)
    atomic_write_text(os.path.join(out, MARKER), "".join(rel + "\n" for rel in new))


def make_dataset(out, train_count=240, val_count=24, test_count=2, patch_size=256, test_h=1088,
                 test_w=1920, dslr_dir="fujifilm/", phone_dir="mediatek_raw/",
                 test_dir="fujifilm_full_resolution/", seed=0, overwrite=False, progress=True,
                 effects=True, more_photos=True, preview="", dng=True, **strengths):
    """Write the dataset to `out`; strengths: the EFFECT_KEYS (missing ones take their defaults;
    effects=False sets all of them to 0)."""
    unknown = set(strengths) - set(EFFECT_KEYS)
    if unknown:
        raise TypeError("unknown effect(s): %s" % ", ".join(sorted(unknown)))
    defaults = {arg.name: arg.default for arg in ARGS if arg.name in EFFECT_KEYS}
    strengths = dict(NO_EFFECTS) if not effects else dict(defaults, **strengths)
    for name, value in (("patch_size", patch_size), ("test_h", test_h), ("test_w", test_w)):
        if value % 2:
            raise UsageError("%s=%d must be even (a Bayer mosaic has 2x2 cells)" % (name, value))
    if test_count > len(TEST_PHOTOS):
        raise UsageError("test_count=%d: at most %d test scenes exist" % (test_count, len(TEST_PHOTOS)))
    earlier_files(out, overwrite)  # refuses a folder it did not make (before any work)
    # Each split draws from its own streams (crops and noise; the effects), and recolour from its
    # own, so the val and test data do not depend on train_count, the training photos or recolour.
    # The training streams are those of earlier versions.
    streams = {split: (np.random.RandomState(a), np.random.RandomState(b)) for split, a, b in (
        ("train", seed, [seed, 1]), ("val", [seed, 3], [seed, 4]), ("test", [seed, 5], [seed, 6]))}
    hue_rng = np.random.RandomState([seed, 2])
    shown = []
    tmp = out.rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    jobs = []
    for split, photos, count in (("train", training_photos(more_photos), train_count), ("val", VAL_PHOTOS, val_count)):
        jobs.append((split, [load_photo(p) for p in photos], count))
    test_photos = [load_photo(p) for p in TEST_PHOTOS[:test_count]]  # every photo read before anything is written
    total = train_count + val_count + test_count
    bar = progress_bar(total=total, desc="making demo data", unit="img", disable=not progress)
    for split, photos, count in jobs:
        rng, fx_rng = streams[split]
        raw_dir = os.path.join(tmp, split, phone_dir)
        rgb_dir = os.path.join(tmp, split, dslr_dir)
        os.makedirs(raw_dir)
        os.makedirs(rgb_dir)
        for i, rgb in enumerate(random_patches(photos, count, patch_size, rng)):
            if split == "train" and strengths["recolour"]:
                angle, sat = hue_rng.uniform(-1, 1), hue_rng.uniform(-1, 1)
                rgb = recolour(rgb, np.pi * angle * min(strengths["recolour"], 1.0),
                               2.0 ** (0.5 * sat * strengths["recolour"]))
            raw, target = make_pair(rgb, rng, fx_rng, strengths)
            save_pair(raw, target, os.path.join(raw_dir, "%d.png" % i), os.path.join(rgb_dir, "%d.png" % i))
            if split == "train" and len(shown) < PREVIEW_PAIRS:
                shown.append((raw, target))
            bar.update()
    raw_dir = os.path.join(tmp, "test", test_dir)
    rgb_dir = os.path.join(tmp, "test", dslr_dir)
    os.makedirs(raw_dir)
    os.makedirs(rgb_dir)
    rng, fx_rng = streams["test"]
    for i, photo in enumerate(test_photos):
        raw, target = make_pair(full_scene(photo, test_h, test_w), rng, fx_rng, strengths)
        save_pair(raw, target, os.path.join(raw_dir, "%d.png" % (i + 1)), os.path.join(rgb_dir, "%d.png" % (i + 1)))
        if dng:
            os.makedirs(os.path.join(tmp, "test", "dng"), exist_ok=True)
            dng_files.write_dng(os.path.join(tmp, "test", "dng", "%d.dng" % (i + 1)),
                                dng_files.sensor_mosaic(raw, DNG_CFA, DNG_BLACK, DNG_WHITE, WHITE_LEVEL), DNG_CFA,
                                DNG_BLACK, DNG_WHITE, dng_files.color_matrix(CCM), [1 / g for g in WB_GAINS], model="make_demo_data.py")
        bar.update()
    bar.close()
    swap_in(tmp, out, overwrite)  # only now: an interrupted run leaves the old dataset as it was
    if preview:
        write_preview(preview, shown)
    return out


def main(argv):
    a = parse_args(ARGS, argv, doc=__doc__)
    out = a.pop("out")
    try:
        make_dataset(out, **a)
    except OSError as err:
        raise UsageError("cannot write the dataset to %r: %s" % (out, err))
    print("wrote %d train and %d val patches (%dx%d) and %d test scenes (%dx%d) to %s" % (
        a["train_count"], a["val_count"], a["patch_size"], a["patch_size"], a["test_count"],
        a["test_w"], a["test_h"], out))
    if a["effects"]:
        print("effects: " + ", ".join("%s=%g" % (k, a[k]) for k in EFFECT_KEYS))
    else:
        print("effects: none (the plain inverse ISP)")
    photos = len(training_photos(a["more_photos"]))
    print("training crops from %d of the %d training photos%s" % (
        min(photos, a["train_count"]), photos, "" if a["more_photos"] else " (more_photos=False)"))
    if a["dng"]:
        print("the test scenes also as DNGs of a %s sensor in %s (for test_model.py dataset_dir=%s test_dir=dng "
              "img_h=full img_w=full)" % (DNG_CFA, os.path.join(out, "test", "dng", ""), out))
    if a["preview"]:
        print("preview of the first training pairs: %s" % a["preview"])


if __name__ == "__main__":
    run_main(main)
