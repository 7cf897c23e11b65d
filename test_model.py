"""Run a trained network on full-resolution RAW PNGs: result PNGs, PSNR/SSIM, latency, frozen graph.

    python test_model.py arch=model restore_iter=None img_h=1088 img_w=1920

Processes every RAW PNG in <dataset_dir>/test/<test_dir> (or, in a folder without PNGs, every DNG,
converted as dng2png.py does; an absolute test_dir is used as it is), cropped to img_h x img_w from
the top left, and writes <result_dir>/<name>_<checkpoint>.png. Where <dataset_dir>/test/<dslr_dir> holds
a target with the same name, prints PSNR and SSIM per image and their mean and writes
<name>_<checkpoint>_vs_target.png (output | target). <result_dir>/<checkpoint>_metrics.csv has a
row per image: PSNR, SSIM (empty without a target) and inference time in ms. Prints the latency
(median of `runs` runs after a warm-up) at 1 x img_h/2 x img_w/2 x 4.
`save=True` writes the checkpoint's meta graph (<checkpoint>.ckpt.meta) and the frozen graph
<model_dir>/<checkpoint>.pb (input `Placeholder`, output `output_l0`).
"""
import os
import statistics
import time

import numpy as np

from utils import (Arg, UsageError, atomic_output, check_arch_and_size, check_writable_dir, checkpoint_exists,
                   ensure_dir, optional_int, parse_args, positive_int, progress, psnr, run_main, to_bool,
                   write_frozen_graph)

ARGS = [
    Arg("dataset_dir", str, "raw_images/", "dataset root (test/ inside)"),
    Arg("test_dir", str, "fujifilm_full_resolution/", "sub-folder of <dataset_dir>/test with the RAW PNGs (or DNGs)"),
    Arg("dslr_dir", str, "fujifilm/", "sub-folder of <dataset_dir>/test with targets (optional)"),
    Arg("model_dir", str, "models/", "where the checkpoints are"),
    Arg("result_dir", str, "results/", "where result PNGs are written"),
    Arg("arch", str, "model", "network: model (compact) or punet (MAI21 baseline)"),
    Arg("num_maps_base", positive_int, 16, "base number of feature maps"),
    Arg("orig", to_bool, False, "load <model_dir>/original/<arch>_pretrained.ckpt"),
    Arg("restore_iter", optional_int, None, "checkpoint iteration (None: the last one)"),
    Arg("img_h", positive_int, 1088, "full-resolution height to process"),
    Arg("img_w", positive_int, 1920, "full-resolution width to process"),
    Arg("use_gpu", to_bool, True, "False hides all GPUs"),
    Arg("save", to_bool, True, "write the meta graph and the frozen .pb"),
    Arg("test_image", to_bool, True, "False: only build, save and time the model"),
    Arg("runs", positive_int, 5, "timed runs for the latency median (after one warm-up)"),
]


def find_checkpoint(a):
    """The checkpoint prefix that orig / restore_iter name (the last one for restore_iter=None)."""
    from train_model import ckpt_prefix, existing_iterations, require_checkpoint
    arch, model_dir = a["arch"], a["model_dir"]
    if a["orig"]:
        prefix = os.path.join(model_dir, "original", "%s_pretrained.ckpt" % arch)
        if not checkpoint_exists(prefix):
            raise UsageError("orig=True but %s(.index) does not exist; put the pretrained %s "
                             "checkpoint there or use orig=False" % (prefix, arch))
        return prefix
    if a["restore_iter"] is not None:
        return require_checkpoint(model_dir, arch, a["restore_iter"])
    have = existing_iterations(model_dir, arch)
    if not have:
        raise UsageError("no %s checkpoint (%s_iteration_N.ckpt) in %r; train first "
                         "(python train_model.py arch=%s) or pass orig=True" % (arch, arch, model_dir, arch))
    return ckpt_prefix(model_dir, arch, have[-1])


class SsimMeter:
    """SSIM of two uint8 RGB images, computed by tf.image.ssim in a graph of its own."""

    def __init__(self, tf, shape):
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.a = tf.placeholder(tf.float32, shape)
            self.b = tf.placeholder(tf.float32, shape)
            self.value = tf.image.ssim(self.a[None], self.b[None], 1.0)[0]
        self.sess = tf.Session(graph=self.graph)

    def __call__(self, out, target):
        return float(self.sess.run(self.value, {self.a: out, self.b: target}))


def write_csv(path, header, rows):
    import csv
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)


def target_for(dslr_dir, fname):
    """The target of a test RAW: the PNG of the same stem (x.png for x.png or x.dng)."""
    return os.path.join(dslr_dir, os.path.splitext(fname)[0] + ".png")


def check_test_images(raw_dir, dslr_dir, names, h, w):
    """Decode every test RAW (and target, where one exists) once before anything is written, so
    that a corrupt, truncated, 8-bit or too small file is named up front, not after half the
    results."""
    import load_dataset
    for fname in progress(names, desc="checking", unit="img", leave=False):
        ih, iw = load_dataset.read_raw(os.path.join(raw_dir, fname)).shape
        if ih < h or iw < w:
            raise UsageError("test RAW %r is %dx%d, smaller than img_w x img_h = %dx%d; "
                             "lower img_w/img_h" % (fname, iw, ih, w, h))
        target_path = target_for(dslr_dir, fname)
        if os.path.isfile(target_path):
            th, tw = load_dataset.read_rgb(target_path).shape[:2]
            if th < h or tw < w:
                raise UsageError("target %r is %dx%d, smaller than img_w x img_h = %dx%d"
                                 % (target_path, tw, th, w, h))


def main(argv):
    a = parse_args(ARGS, argv, prog="test_model.py", doc=__doc__)
    import load_dataset
    check_arch_and_size(a["arch"], "img_w", a["img_w"], "img_h", a["img_h"], a["num_maps_base"])
    prefix = find_checkpoint(a)
    name = os.path.basename(prefix)[:-len(".ckpt")]
    h, w = a["img_h"], a["img_w"]

    names = []
    raw_dir = os.path.join(a["dataset_dir"], "test", a["test_dir"])
    dslr_dir = os.path.join(a["dataset_dir"], "test", a["dslr_dir"])
    if a["test_image"]:
        names = load_dataset.list_raws(raw_dir, "test RAW")
        if names[0].lower().endswith(".dng"):
            print("%s holds DNG files: each is converted as dng2png.py does (black/white level, "
                  "RGGB alignment), then cropped to %dx%d from the top left" % (raw_dir, w, h))
        check_test_images(raw_dir, dslr_dir, names, h, w)

    from utils import import_tf
    tf = import_tf(use_gpu=a["use_gpu"])  # first TF import: hides GPUs before TF sees them
    import model
    x = tf.placeholder(tf.float32, [1, h // 2, w // 2, 4])  # named "Placeholder"
    out = model.build(a["arch"], x, a["num_maps_base"])
    saver = tf.train.Saver()
    config = tf.ConfigProto()
    config.gpu_options.allow_growth = True
    with tf.Session(config=config) as sess:
        try:
            saver.restore(sess, prefix)
        except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as err:
            raise UsageError(model.restore_error(prefix, a["arch"], a["num_maps_base"], err))
        print("restored %s (%s, num_maps_base=%d)" % (prefix, a["arch"], a["num_maps_base"]))
        if a["save"]:
            check_writable_dir(os.path.dirname(os.path.abspath(prefix)),
                               "the checkpoint's folder (save=True writes the .meta and .pb there; or save=False)")
        if names:
            ensure_dir(a["result_dir"], "result_dir")

        probe = np.random.RandomState(0).rand(1, h // 2, w // 2, 4).astype(np.float32)
        sess.run(out, {x: probe})  # warm-up, so that no image's time includes graph set-up
        scores = []   # (name, PSNR, SSIM) for images with a target
        rows = []     # CSV rows for every image
        ssim = None
        import previews
        for fname in progress(names, desc="processing", unit="img"):
            raw = load_dataset.read_raw(os.path.join(raw_dir, fname))
            inp = load_dataset.extract_bayer_channels(raw[:h, :w])[None]
            t0 = time.perf_counter()
            result = sess.run(out, {x: inp})[0]
            seconds = time.perf_counter() - t0
            result_u8 = previews.to_uint8(result)
            stem = os.path.splitext(fname)[0]
            previews.save_png(os.path.join(a["result_dir"], "%s_%s.png" % (stem, name)), result_u8)
            row = [fname, "", "", "%.1f" % (1000 * seconds)]
            target_path = target_for(dslr_dir, fname)
            if os.path.isfile(target_path):
                target = load_dataset.read_rgb(target_path)[:h, :w]
                out_f = result_u8.astype(np.float32) / 255.0
                tgt_f = target.astype(np.float32) / 255.0
                if ssim is None:
                    ssim = SsimMeter(tf, [h, w, 3])
                scores.append((fname, psnr(float(np.mean((out_f - tgt_f) ** 2))), ssim(out_f, tgt_f)))
                row[1:3] = ["%.4f" % scores[-1][1], "%.5f" % scores[-1][2]]
                previews.save_png(os.path.join(a["result_dir"], "%s_%s_vs_target.png" % (stem, name)),
                                  previews.grid([[out_f, tgt_f]]))
            rows.append(row)
        for fname, p, s in scores:
            print("%-24s PSNR %.2f dB  SSIM %.4f" % (fname, p, s))
        if names:
            csv_path = os.path.join(a["result_dir"], "%s_metrics.csv" % name)
            write_csv(csv_path, ["image", "psnr_db", "ssim", "inference_ms"], rows)
            print("wrote %d result PNGs (and %d side by side with their targets) and %s to %s" % (
                len(names), len(scores), os.path.basename(csv_path), a["result_dir"]))
        if scores:
            print("mean over %d images: PSNR %.2f dB  SSIM %.4f" % (
                len(scores), np.mean([p for _, p, _ in scores]), np.mean([s for _, _, s in scores])))
        elif names:
            print("no targets in %s: PSNR/SSIM not computed" % dslr_dir)

        times = []
        for _ in range(a["runs"]):
            t0 = time.perf_counter()
            sess.run(out, {x: probe})
            times.append(time.perf_counter() - t0)
        print("latency at %dx%d (input 1x%dx%dx4): median %.1f ms over %d runs" % (
            w, h, h // 2, w // 2, 1000 * statistics.median(times), a["runs"]))

        if a["save"]:
            meta = prefix + ".meta"
            with atomic_output(meta) as tmp:
                saver.export_meta_graph(tmp)
            pb = os.path.join(os.path.dirname(prefix), name + ".pb")
            nodes = write_frozen_graph(tf, sess, ["output_l0"], pb)
            print("wrote %s and the frozen graph %s (%d nodes, Placeholder -> output_l0, 1x%dx%dx4)"
                  % (meta, pb, nodes, h // 2, w // 2))


if __name__ == "__main__":
    run_main(main)
