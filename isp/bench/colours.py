"""benchmark.py's colours mode: does a photo's colour move with its size? Each test scene of a
dataset is rendered whole at its own size and at a quarter and a sixteenth of its pixels, its Bayer
planes binned 2x2 once and twice (the same scene, light and exposure, as a camera's binning mode
gives them), and each output channel's mean is printed per size, in levels of 255. The means are
summed in float64: NumPy sums a column of a float32 image in float32, which over 8 MP can be off by
several levels. A global statistic that grows with the photo moves them by many levels
(docs/experiments.md, sections 13 and 16); a faithful rendering of a binned photo moves them a
little too, where the photo has fine detail, because the rendering is not linear (section 16: 1.9
levels on a collage of the demo's test photos)."""
import os

import numpy as np

from isp import load_dataset
from isp.archs import SIZE_MULTIPLE
from isp.checkpoints import checkpoint_exists, restore
from isp.errors import UsageError
from isp.evaluate import DEFAULT_TEST_FOLDER, check_test_images, odd_note, target_for
from isp.utils import plural, print_if

BINNINGS = 2  # a quarter and a sixteenth of the pixels beside the photo's own size
CHANNELS = "RGB"


def binned(planes):
    """2x2 binning of each Bayer plane ([1, h, w, c], h and w even; c = 4 planes, or an image's 3
    channels): the same scene at a quarter of the pixels, float32."""
    _, h, w, c = planes.shape
    return planes.reshape(1, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4), dtype=np.float64).astype(np.float32)


def mean_colour(rgb):
    """Each channel's mean of an [h, w, 3] image in [0, 1], in levels of 255, summed in float64."""
    return 255.0 * rgb.reshape(-1, 3).mean(axis=0, dtype=np.float64)


def spread(colours):
    """(levels, channel index): the largest move of one channel's mean across the sizes."""
    colours = np.array(colours)
    moves = colours.max(axis=0) - colours.min(axis=0)
    return float(moves.max()), int(moves.argmax())


def colours(tf, arch, num_maps_base, ckpt, dataset_dir, test_dir=DEFAULT_TEST_FOLDER):
    """Print each test scene's mean colour at its size and binned once and twice, with its spread.
    test_dir: the RAW sub-folder of <dataset_dir>/test/ (PNGs or DNGs; an absolute path as it is)."""
    from isp import model
    if not checkpoint_exists(ckpt):
        raise UsageError("ckpt=%r: no such checkpoint (give the prefix, e.g. models/original/model_pretrained.ckpt)"
                         % ckpt)
    raw_dir = os.path.join(dataset_dir, "test", test_dir)
    target_dir = os.path.join(dataset_dir, "test", "fujifilm")
    load_dataset.require_folder(raw_dir, "test RAW", "test_dir")
    names = load_dataset.list_raws(raw_dir, "test RAW")
    check_test_images(raw_dir, target_dir, names, None, None, SIZE_MULTIPLE[arch], crop_odd=True)
    multiple = SIZE_MULTIPLE[arch] << BINNINGS  # halved twice, each size still one the arch takes
    width = max([14] + [len(n) + 1 for n in names])
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [1, None, None, 4])
        out = model.build(arch, x, num_maps_base)
        with tf.Session() as sess:
            restore(tf, tf.train.Saver(), sess, ckpt, arch, num_maps_base)
            print("%s (num_maps_base=%d) from %s on %s in %s: each scene whole, then its Bayer planes binned 2x2 "
                  "once and twice (the same light and exposure); each output channel's mean, levels of 255"
                  % (arch, num_maps_base, ckpt, plural(len(names), "test scene"), raw_dir))
            print("%-*s %-11s %7s %7s %7s" % (width, "scene", "size", "R", "G", "B"))
            worst = (-1.0, None, 0)
            for name in names:
                path = os.path.join(raw_dir, name)
                print_if(odd_note(path))
                raw = load_dataset.read_raw(path, crop_odd=True)
                ih, iw = raw.shape
                h, w = ih // multiple * multiple, iw // multiple * multiple
                if not h or not w:
                    raise UsageError("test RAW %r is %dx%d: binned twice it would be smaller than the %dx%d this "
                                     "arch needs; give larger photos" % (name, iw, ih, SIZE_MULTIPLE[arch],
                                                                         SIZE_MULTIPLE[arch]))
                planes = load_dataset.extract_bayer_channels(raw[:h, :w])[None]
                del raw
                means = []
                for k in range(BINNINGS + 1):
                    means.append(mean_colour(np.clip(sess.run(out, {x: planes})[0], 0.0, 1.0)))
                    print("%-*s %-11s %7.1f %7.1f %7.1f" % (
                        width, name if k == 0 else "", "%dx%d" % (w >> k, h >> k), *means[-1]), flush=True)
                    if k < BINNINGS:
                        planes = binned(planes)
                levels, c = spread(means)
                notes = ["spread %.1f levels (%s)" % (levels, CHANNELS[c])]
                target_path = target_for(target_dir, name)
                if os.path.isfile(target_path):
                    target = load_dataset.read_rgb(target_path)[:h, :w].astype(np.float32) / 255.0
                    notes.append("target %s" % " ".join("%.1f" % v for v in mean_colour(target)))
                if (h, w) != (ih, iw):
                    notes.append("cropped from %dx%d to halve twice" % (iw, ih))
                print("%-*s %s" % (width, "", "; ".join(notes)))
                worst = max(worst, (levels, name, c))
    print("largest spread: %.1f levels of 255 (%s, %s). A faithful rendering of a binned photo moves its mean a "
          "little too, where the photo has fine detail (docs/experiments.md, section 16)"
          % (worst[0], worst[1], CHANNELS[worst[2]]))
