"""benchmark.py's precision mode: a checkpoint frozen and converted to TFLite FP32, FP16 and INT8;
per precision its file size, latency (interleaved medians), and on the validation patches and on
the full-size test scenes (where the dataset has them at img_h x img_w): PSNR/SSIM against the
targets, PSNR against the FP32 TFLite output and max-abs against the TF graph."""
import functools
import os
import platform
import statistics
import tempfile

import numpy as np

from isp import load_dataset
from isp.checkpoints import checkpoint_exists, freeze_checkpoint
from isp.errors import UsageError
from isp.evaluate import DEFAULT_TEST_FOLDER, SsimMeter, interleaved, probe_input, psnr_between, score_images
from isp.progress import progress
from isp.tfimport import import_tf, tf_major, tf_version
from isp.tflite import GraphModel, TFLiteModel, calibration_inputs, convert
from isp.utils import plural


def precision(archs, seed, ckpt, dataset_dir, img_h, img_w, runs, threads=None, calib_size=100):
    """Print the precision table of the first arch of archs [(arch, nmb)] from its checkpoint
    `ckpt`: quality on dataset_dir's validation pairs and its test scenes of img_h x img_w, latency
    at that size (medians of `runs` interleaved runs, `threads` threads); `seed` draws the
    calib_size INT8 calibration inputs."""
    arch, nmb = archs[0]
    tf = import_tf()  # before anything imports tensorflow: it quiets TF's C++ logs
    if not checkpoint_exists(ckpt):
        raise UsageError("ckpt=%r: no such checkpoint (give the prefix, e.g. models/model_iteration_600.ckpt)"
                         % ckpt)
    precisions = ["fp32", "fp16"] + (["int8"] if tf_major() >= 2 else [])
    names = load_dataset.paired_names(dataset_dir, "val", "mediatek_raw/", "fujifilm/")
    raw_dir = os.path.join(dataset_dir, "val", "mediatek_raw")
    vw, vh = load_dataset.raw_size(os.path.join(raw_dir, names[0]))
    sets = {"val": load_dataset.load_pairs(dataset_dir, "val", "mediatek_raw/", "fujifilm/", names, vh, vw)}
    test_names = full_size_test_names(dataset_dir, img_h, img_w)
    if test_names:
        sets["img"] = load_dataset.load_pairs(dataset_dir, "test", DEFAULT_TEST_FOLDER, "fujifilm/", test_names,
                                              img_h, img_w)
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {"val": (vh, vw), "img": (img_h, img_w)}  # quality at both, latency at the second
        models = converted_models(tf, arch, nmb, ckpt, precisions, sizes, tmp, dataset_dir=dataset_dir,
                                  calib_size=calib_size, seed=seed, threads=threads)
        rows = {size: quality_rows(tf, models, size, precisions, raw, rgb) for size, (raw, rgb) in sets.items()}
        times = interleaved_latencies(models, precisions, img_h, img_w, runs)
    print("TensorFlow %s, Python %s, %d CPUs; %s:%d from %s; latency at %dx%d, TFLite threads %s, medians of "
          "%d interleaved runs%s" % (
              tf_version(), platform.python_version(), os.cpu_count(), arch, nmb, ckpt, img_w, img_h,
              models["img", "fp32"].threads, runs,
              "; INT8: uint8 input/output, %d calibration inputs" % calib_size if "int8" in precisions else ""))
    print("quality on %d validation images of %dx%d (%s)%s" % (
        len(names), vw, vh, raw_dir, "; on %s of %dx%d (%s)" % (
            plural(len(test_names), "test scene"), img_w, img_h, os.path.join(dataset_dir, "test", DEFAULT_TEST_FOLDER))
        if test_names else "; no test scenes of %dx%d in %s/test/%s" % (
            img_w, img_h, dataset_dir.rstrip("/"), DEFAULT_TEST_FOLDER)))
    print("%-9s %9s %11s %7s  %-5s %9s %7s %13s %16s" % ("precision", "size KiB", "latency ms", "ratio", "on",
                                                         "PSNR", "SSIM", "PSNR vs FP32", "max-abs vs graph"))
    base = statistics.median(times["fp32"])
    for p in precisions:
        t = statistics.median(times[p])
        for k, size in enumerate(rows):
            r = rows[size][p]
            head = ("%-9s %9.1f %11.1f %7.3f" % (p.upper(), models["img", p].bytes / 1024.0, 1000 * t, t / base)
                    if k == 0 else " " * 39)
            print("%s  %-5s %9.2f %7.4f %13s %16.2g" % (head, "val" if size == "val" else "test", r[0], r[1],
                                                       "-" if p == "fp32" else "%.2f" % r[2], r[3]))
    if "int8" not in precisions:
        print("(no INT8 row: TF %s's converter cannot quantise these graphs; run this on TF 2.x)" % tf_version())


def full_size_test_names(dataset_dir, img_h, img_w):
    """The test scenes whose RAW is img_h x img_w (the latency size), or []: not every dataset has
    them (the real MAI21 test RAWs are kept by the organisers)."""
    raw_dir = os.path.join(dataset_dir, "test", DEFAULT_TEST_FOLDER)
    if not os.path.isdir(raw_dir):
        return []
    names = load_dataset.paired_names(dataset_dir, "test", DEFAULT_TEST_FOLDER, "fujifilm/")
    return [n for n in names if load_dataset.raw_size(os.path.join(raw_dir, n)) == (img_w, img_h)]


def converted_models(tf, arch, nmb, ckpt, precisions, sizes, tmp, dataset_dir, calib_size, seed, threads):
    """{(size, precision): TFLiteModel (with its file's .bytes, `threads` threads)} for each size
    name: (h, w) of `sizes`, converted in the folder tmp from the checkpoint `ckpt` frozen at that
    size (INT8: calibrated on calib_size training RAWs of dataset_dir drawn by `seed`); and
    (size, "graph"): the frozen graph itself at each size."""
    models = {}
    for size, (h, w) in sizes.items():
        pb = os.path.join(tmp, "%s.pb" % size)
        freeze_checkpoint(tf, arch, nmb, ckpt, h, w, pb)
        shape = (1, h // 2, w // 2, 4)
        calib = None
        for p in progress(precisions, desc="converting at %dx%d" % (w, h), unit="model"):
            if p == "int8":
                calib = calib or list(calibration_inputs(dataset_dir, "mediatek_raw/", shape,
                                                         calib_size, seed))
            path = os.path.join(tmp, "%s_%s.tflite" % (size, p))
            with open(path, "wb") as f:
                f.write(convert(tf, pb, shape, p, "uint8", calib))
            models[size, p] = TFLiteModel(tf, path, threads)
            models[size, p].bytes = os.path.getsize(path)
        models[size, "graph"] = GraphModel(tf, pb)
    return models


def quality_rows(tf, models, size, precisions, raws, rgbs):
    """{precision: [mean PSNR, mean SSIM against the targets, mean PSNR against the FP32 model's
    output, max-abs against the graph]} on the pairs (raws, rgbs), by the models of that size."""
    rows = {}
    images = []  # (index, input, target) for score_images
    for i in range(len(raws)):
        x, y = load_dataset.to_float(raws[i:i + 1], rgbs[i:i + 1])
        images.append((i, x, y[0]))
    fp32_out = {}
    with SsimMeter(tf) as ssim:
        for p in ["fp32"] + [q for q in precisions if q != "fp32"]:
            ps, ss, ref, dmax = [], [], [], 0.0
            for r in score_images(models[size, p].run, images, ssim):
                ps.append(r.psnr)
                ss.append(r.ssim)
                if p == "fp32":
                    fp32_out[r.name] = r.out
                ref.append(psnr_between(r.out, fp32_out[r.name]))
                graph = np.clip(models[size, "graph"].run(r.x)[0], 0, 1)
                dmax = max(dmax, float(np.max(np.abs(r.out - graph))))
            rows[p] = [np.mean(ps), np.mean(ss), np.mean(ref), dmax]
    return rows


def interleaved_latencies(models, precisions, img_h, img_w, runs):
    """{precision: [seconds of each run]} of the models at the size "img", after a warm-up, one run
    of each precision in turn per round."""
    probe = probe_input(img_h, img_w)
    return interleaved({p: functools.partial(models["img", p].timed_invoke, probe) for p in precisions},
                       progress(range(runs), desc="timing", unit="round"))
