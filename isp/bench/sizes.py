"""benchmark.py's sizes mode: a photo of 2, 12 and 48 MP through the graph (whole) and through the
TFLite files (the any-size one whole, the fixed-size one in tiles): time and peak memory. Each
measurement runs in a fresh process (multiprocessing's spawn), so that its peak resident memory is
its own, not the largest of the run so far."""
import multiprocessing
import os
import shutil
import tempfile

import numpy as np

from isp.checkpoints import freeze_checkpoint
from isp.evaluate import median_seconds
from isp.utils import plural

# the photos measured by default (W x H): the challenge's size, a 12 MP and a 48 MP camera
DEFAULT_SIZES = "1920x1088,4000x3000,8000x6000"
WAYS = ("graph, whole photo", "TFLite any-size, whole photo", "TFLite 1920x1088, tiled")


def _measure(way, files, arch, num_maps_base, h, w, runs, threads, queue):
    """One way at one size, in its own process: (median seconds, peak MB) put on the queue."""
    try:
        from isp import model, tiles
        from isp.tfimport import import_tf
        from isp.tflite import TFLiteModel
        tf = import_tf()
        x = np.random.RandomState(0).rand(1, h // 2, w // 2, 4).astype(np.float32) * 0.5
        if way == WAYS[0]:
            g = tf.Graph()
            with g.as_default():
                inp = tf.placeholder(tf.float32, [1, None, None, 4])
                out = model.build(arch, inp, num_maps_base)
                sess = tf.Session(graph=g)
                tf.train.Saver().restore(sess, files["ckpt"])

            def run():
                return sess.run(out, {inp: x})
        elif way == WAYS[1]:
            m = TFLiteModel(tf, files["none"], threads)

            def run():
                return m.run(x)
        else:
            m = TFLiteModel(tf, files["tiled"], threads)
            light = model.tile_light if m.light is not None else None
            tiled = tiles.Tiled(m.run, m.shape[1], m.shape[2], tiles.DEFAULT_OVERLAP, light,
                                tiles.align_of(arch))

            def run():
                return tiled(x)
        run()  # warm-up
        queue.put((median_seconds(run, runs), tiles.peak_memory_mb()))
    except Exception as err:  # the parent prints it in the row
        queue.put(("%s: %s" % (type(err).__name__, str(err).splitlines()[0][:120] if str(err) else ""), None))


def sizes(tf, arch, num_maps_base, ckpt, photo_sizes, runs, threads):
    """Freeze and convert the checkpoint (the any-size file and, for arch=model, the tile file), then
    print a row per photo size ((h, w) each) and way."""
    from isp.tflite import convert
    work = tempfile.mkdtemp(prefix="bench-sizes-")
    try:
        files = {"ckpt": ckpt}
        light = arch == "model"
        for key, h, w in (("none", None, None), ("tiled", 1088, 1920)):
            pb = os.path.join(work, key + ".pb")
            freeze_checkpoint(tf, arch, num_maps_base, ckpt, h, w, pb, light=light and key == "tiled")
            shape = (1, None, None, 4) if h is None else (1, h // 2, w // 2, 4)
            files[key] = os.path.join(work, key + ".tflite")
            with open(files[key], "wb") as f:
                f.write(convert(tf, pb, shape, "fp32", light=light and key == "tiled"))
        print("%s (num_maps_base=%d) from %s; median of %s after a warm-up, each in a fresh process; peak: the "
              "process's resident memory (TF and the interpreter included)" % (arch, num_maps_base, ckpt,
                                                                                plural(runs, "run")))
        print("%-6s %-11s %-30s %10s %12s" % ("size", "photo", "way", "time s", "peak MB"))
        ctx = multiprocessing.get_context("spawn")
        for h, w in photo_sizes:
            label = "%.0f MP" % (h * w / 1e6) if h * w >= 1e6 else "%.2f MP" % (h * w / 1e6)
            for way in WAYS:
                queue = ctx.Queue()
                p = ctx.Process(target=_measure, args=(way, files, arch, num_maps_base, h, w, runs, threads, queue))
                p.start()
                seconds, peak = queue.get()
                p.join()
                if peak is None:
                    print("%-6s %-11s %-30s  failed: %s" % (label, "%dx%d" % (w, h), way, seconds))
                else:
                    print("%-6s %-11s %-30s %10.2f %12.0f" % (label, "%dx%d" % (w, h), way, seconds, peak), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
