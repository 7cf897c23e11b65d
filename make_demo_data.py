"""Make a small dataset in the MAI21 layout from real photos that scikit-image ships.

No download is needed or possible: the photos come from scikit-image's package data. Each photo
(8-bit sRGB) is the *target*; its RAW is made by an inverse ISP:

  1. undo the sRGB gamma (to linear light)
  2. undo a colour matrix (sRGB <- camera) and the white balance (divide R and B by their gains)
  3. mosaic to the RGGB Bayer pattern that the debayering expects (R at [0::2, 0::2])
  4. add shot noise (variance proportional to the signal) and read noise
  5. quantise to 10 bits (0..1023) and store as a single-channel 16-bit PNG

Train and val patches (256x256 by default) come from different photos; the test RAWs are
full-resolution scenes (the default 1088x1920 is larger than any shipped photo, so these are
upsampled) with their targets under test/<dslr_dir>/ for PSNR/SSIM.

    python make_demo_data.py out=raw_images/ train_count=240 val_count=24
"""
import importlib.util
import os
import shutil

import numpy as np
from PIL import Image

from utils import Arg, UsageError, parse_args, positive_int, progress as progress_bar, run_main, to_bool

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
    Arg("overwrite", to_bool, False,
        "replace an existing dataset folder"),
]

# Disjoint photos for each split (file names inside scikit-image's data folder).
TRAIN_PHOTOS = ("astronaut.png", "coffee.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png")
VAL_PHOTOS = ("rocket.jpg", "chelsea.png")
TEST_PHOTOS = ("motorcycle_left.png", "motorcycle_right.png")

# sRGB (linear) <- camera RGB; rows sum to 1 so grey stays grey. A typical smartphone matrix.
CCM = np.array([[1.70, -0.55, -0.15],
                [-0.25, 1.55, -0.30],
                [0.05, -0.60, 1.55]], np.float32)
WB_GAINS = (2.0, 1.0, 1.7)  # R, G, B gains the camera's ISP would apply
WHITE_LEVEL = 1023


def photo_folder():
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise UsageError("scikit-image is not installed; it ships the photos: pip install scikit-image")
    return os.path.join(os.path.dirname(spec.origin), "data")


def load_photo(name):
    path = os.path.join(photo_folder(), name)
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def inverse_isp(rgb_u8, rng):
    """8-bit sRGB [H, W, 3] (H, W even) -> 10-bit RGGB mosaic as uint16 [H, W]."""
    lin = srgb_to_linear(rgb_u8.astype(np.float32) / 255.0)
    cam = lin @ np.linalg.inv(CCM).T
    cam = np.clip(cam, 0.0, None) / np.asarray(WB_GAINS, np.float32)
    exposure = rng.uniform(0.8, 1.0)
    cam *= exposure * WHITE_LEVEL
    h, w = cam.shape[:2]
    mosaic = np.empty((h, w), np.float32)
    mosaic[0::2, 0::2] = cam[0::2, 0::2, 0]  # R
    mosaic[0::2, 1::2] = cam[0::2, 1::2, 1]  # G (R row)
    mosaic[1::2, 0::2] = cam[1::2, 0::2, 1]  # G (B row)
    mosaic[1::2, 1::2] = cam[1::2, 1::2, 2]  # B
    shot = rng.uniform(0.2, 0.6)   # variance per unit of signal, in DN
    read = rng.uniform(0.5, 2.0)   # read-noise sigma, in DN
    noisy = mosaic + rng.standard_normal(mosaic.shape).astype(np.float32) * np.sqrt(shot * mosaic + read ** 2)
    return np.clip(np.round(noisy), 0, WHITE_LEVEL).astype(np.uint16)


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


def make_dataset(out, train_count=240, val_count=24, test_count=2, patch_size=256, test_h=1088,
                 test_w=1920, dslr_dir="fujifilm/", phone_dir="mediatek_raw/",
                 test_dir="fujifilm_full_resolution/", seed=0, overwrite=False, progress=True):
    for name, value in (("patch_size", patch_size), ("test_h", test_h), ("test_w", test_w)):
        if value % 2:
            raise UsageError("%s=%d must be even (a Bayer mosaic has 2x2 cells)" % (name, value))
    if test_count > len(TEST_PHOTOS):
        raise UsageError("test_count=%d: at most %d test scenes exist" % (test_count, len(TEST_PHOTOS)))
    if os.path.exists(out) and os.listdir(out) and not (set(os.listdir(out)) <= {".gitkeep"}):
        if not overwrite:
            raise UsageError("dataset folder %r is not empty; pass overwrite=True to replace it" % out)
    rng = np.random.RandomState(seed)
    tmp = out.rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    jobs = []
    for split, photos, count in (("train", TRAIN_PHOTOS, train_count), ("val", VAL_PHOTOS, val_count)):
        jobs.append((split, [load_photo(p) for p in photos], count))
    total = train_count + val_count + test_count
    bar = progress_bar(total=total, desc="making demo data", unit="img", disable=not progress)
    for split, photos, count in jobs:
        raw_dir = os.path.join(tmp, split, phone_dir)
        rgb_dir = os.path.join(tmp, split, dslr_dir)
        os.makedirs(raw_dir)
        os.makedirs(rgb_dir)
        for i, rgb in enumerate(random_patches(photos, count, patch_size, rng)):
            save_pair(inverse_isp(rgb, rng), rgb, os.path.join(raw_dir, "%d.png" % i),
                      os.path.join(rgb_dir, "%d.png" % i))
            bar.update()
    raw_dir = os.path.join(tmp, "test", test_dir)
    rgb_dir = os.path.join(tmp, "test", dslr_dir)
    os.makedirs(raw_dir)
    os.makedirs(rgb_dir)
    for i, photo in enumerate(TEST_PHOTOS[:test_count]):
        rgb = full_scene(load_photo(photo), test_h, test_w)
        save_pair(inverse_isp(rgb, rng), rgb, os.path.join(raw_dir, "%d.png" % (i + 1)),
                  os.path.join(rgb_dir, "%d.png" % (i + 1)))
        bar.update()
    bar.close()
    # swap in the finished dataset only now: an interrupted run leaves no half-made folder
    if os.path.exists(out):
        keep = os.path.join(out, ".gitkeep")
        had_keep = os.path.exists(keep)
        shutil.rmtree(out)
        os.replace(tmp, out)
        if had_keep:
            open(keep, "w").close()
    else:
        os.replace(tmp, out)
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


if __name__ == "__main__":
    run_main(main)
