"""Where make_demo_data.py's scenes come from: the photos scikit-image and matplotlib ship (ShippedPhotos,
a fixed split, read whole up front: they are few and small), or any folder of the user's photos
(PhotoFolder: JPEG and PNG found recursively, EXIF orientation applied, photos smaller than a patch
skipped with a note, split into train/val/test by photo, and decoded one photo at a time, so memory
does not grow with the number of photos). Both cut the same random crops (random_crop).
"""
import importlib.util
import os

import numpy as np
from PIL import Image, ImageOps

from isp.errors import UsageError
from isp.unprocess import linear_to_srgb, srgb_to_linear
from isp.utils import plural

# Disjoint photos for each split: file names inside scikit-image's data folder, "mpl:" names inside
# matplotlib's sample_data folder. The three grey textures (grass, gravel, brick) are given their
# natural colours (TEXTURE_TINTS). Five colour photos alone made the network learn their colours by
# heart on long runs (docs/experiments.md); the textures, a second photo of a person and `recolour`
# give it variety.
FIRST_PHOTOS = ("astronaut.png", "coffee.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png")
TRAIN_PHOTOS = FIRST_PHOTOS + ("mpl:grace_hopper.jpg", "grass.png", "gravel.png", "brick.png")
VAL_PHOTOS = ("rocket.jpg", "chelsea.png")
TEST_PHOTOS = ("motorcycle_left.png", "motorcycle_right.png")
# Linear-light RGB reflectance tints of the grey textures (typical colours of grass, gravel, brick).
TEXTURE_TINTS = {"grass.png": (0.45, 0.80, 0.25), "gravel.png": (0.85, 0.78, 0.66),
                 "brick.png": (0.90, 0.45, 0.30)}
# photo-name prefix -> (module, its pip name, the photos' folder inside it)
PHOTO_PACKAGES = {"": ("skimage", "scikit-image", "data"),
                  "mpl": ("matplotlib", "matplotlib", os.path.join("mpl-data", "sample_data"))}
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
VAL_SHARE = 0.1  # of a photo folder's photos (at least one) go to validation
NAMED_SKIPS = 5  # skipped photos named in the note (then a count)


def training_photos(more_photos=True):
    return TRAIN_PHOTOS if more_photos else FIRST_PHOTOS


def photo_folder(prefix=""):
    module, pip, folder = PHOTO_PACKAGES[prefix]  # KeyError: a name in the tables above with an unknown prefix
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise UsageError("%s is not installed; it ships the photos: pip install %s" % (pip, pip))
    return os.path.join(os.path.dirname(spec.origin), folder)


def load_photo(name):
    """A shipped photo as 8-bit sRGB [H, W, 3]; a grey texture in its natural colour (TEXTURE_TINTS)."""
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


def read_photo(path):
    """A user's photo as 8-bit sRGB [H, W, 3], turned upright by its EXIF orientation."""
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey: to 8 bits, not clipped
                img = Image.fromarray((np.asarray(img, np.float64) / 257.0 + 0.5).astype(np.uint8))
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as err:
        raise UsageError("cannot decode the photo %r (%s); move it out of photos_dir" % (path, err))


def random_crop(img, size, rng):
    """A random size x size crop of img (even offsets), turned by a random multiple of 90 degrees and
    flipped at random; a photo smaller than size is cropped to its even square and resized up."""
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
    return np.ascontiguousarray(crop)


def random_patches(photos, count, size, rng):
    """`count` random crops (random_crop), taken from photos in turn."""
    for i in range(count):
        yield random_crop(photos[i % len(photos)], size, rng)


class ShippedPhotos:
    """The shipped photos, every one read before anything is written."""
    notes = ()

    def __init__(self, more_photos=True, test_count=2):
        if test_count > len(TEST_PHOTOS):
            raise UsageError("test_count=%d: at most %d test scenes exist" % (test_count, len(TEST_PHOTOS)))
        self.photos = {"train": [load_photo(p) for p in training_photos(more_photos)],
                       "val": [load_photo(p) for p in VAL_PHOTOS],
                       "test": [load_photo(p) for p in TEST_PHOTOS[:test_count]]}

    def patches(self, split, count, size, rng):
        return random_patches(self.photos[split], count, size, rng)

    def scenes(self):
        return iter(self.photos["test"])


class PhotoFolder:
    """The photos under a folder, split by photo into train, val (VAL_SHARE of them, at least one) and
    test (test_count of them) by a shuffle drawn from seed. Only the headers are read here."""

    def __init__(self, folder, min_side, test_count, seed, skip=()):
        if not os.path.isdir(folder):
            raise UsageError("photos_dir=%r is not a folder (give a folder of JPEG/PNG photos)" % folder)
        skip = {os.path.abspath(s) for s in skip}
        found, small, bad = [], [], []
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.abspath(os.path.join(root, d)) not in skip)
            for name in sorted(names):
                path = os.path.join(root, name)
                if name.startswith(".") or not name.lower().endswith(PHOTO_EXTENSIONS):
                    continue
                try:
                    with Image.open(path) as img:
                        size = img.size
                except (OSError, SyntaxError, ValueError):
                    bad.append(path)
                    continue
                (small if min(size) < min_side else found).append(path)
        self.notes = []
        for what, paths in (("smaller than a patch (%d px) on the shorter side" % min_side, small),
                            ("that cannot be read as images", bad)):
            if paths:
                named = ", ".join(os.path.relpath(p, folder) for p in paths[:NAMED_SKIPS])
                more = " and %d more" % (len(paths) - NAMED_SKIPS) if len(paths) > NAMED_SKIPS else ""
                self.notes.append("skipped %s %s: %s%s" % (plural(len(paths), "photo"), what, named, more))
        n_val = max(1, int(round(VAL_SHARE * len(found))))
        if len(found) < test_count + n_val + 1:
            raise UsageError("photos_dir=%r holds %s (JPEG/PNG, at least %d px on the shorter side); "
                             "it needs at least %d: %d for test (test_count), 1 for val, 1 for train" % (
                                 folder, plural(len(found), "usable photo"), min_side,
                                 test_count + 2, test_count))
        order = np.random.RandomState([seed, 7]).permutation(len(found))
        chosen = [found[i] for i in order]
        self.split = {"test": chosen[:test_count], "val": chosen[test_count:test_count + n_val],
                      "train": chosen[test_count + n_val:]}

    def patches(self, split, count, size, rng):
        """`count` crops shared out over the split's photos, photo by photo: one decoded at a time."""
        paths = self.split[split]
        for k, path in enumerate(paths):
            share = count // len(paths) + (k < count % len(paths))
            if not share:
                continue
            photo = read_photo(path)
            for _ in range(share):
                yield random_crop(photo, size, rng)
            del photo

    def scenes(self):
        for path in self.split["test"]:
            yield read_photo(path)
