"""benchmark.py's speed mode: each arch's parameters, GFLOP and median inference, training-step and
TFLite FP32 times, built in one process and timed interleaved, with each ratio to the first arch."""
import os
import platform
import statistics

from isp.bench.subject import Subject, time_interleaved
from isp.progress import progress
from isp.tfimport import import_tf, tf_version


def speed(archs, img_h, img_w, batch_size, patch, runs, threads=None, train=True, tflite=True):
    """Print the speed table of archs [(arch, nmb)], ratios to the first: inference at img_h x img_w,
    with train a training step of batch_size patches of side `patch`, with tflite TFLite FP32 with
    `threads` threads; medians of `runs` interleaved rounds."""
    tf = import_tf()
    subjects = [Subject(tf, arch, nmb, img_h, img_w, (batch_size, patch) if train else None, tflite, threads)
                for arch, nmb in progress(archs, desc="building", unit="arch")]
    timed_kinds = {"train": train, "tflite": tflite}
    kinds = ["infer"] + [kind for kind in ("train", "tflite") if timed_kinds[kind]]
    time_interleaved(subjects, kinds, progress(range(runs), desc="timing", unit="round"))
    med = {(s.label, k): statistics.median(s.times[k]) for s in subjects for k in kinds}
    first = subjects[0].label
    threads = subjects[0].tflite.threads if tflite else "-"
    print("TensorFlow %s, Python %s, %s, %d CPUs; inference at %dx%d, training batch %d of %dx%d, "
          "TFLite threads %s; medians of %d interleaved runs; ratio = arch time / %s time" % (
              tf_version(), platform.python_version(), platform.machine(), os.cpu_count(),
              img_w, img_h, batch_size, patch, patch, threads, runs, first))
    head = "%-10s %10s %8s %12s %7s" % ("arch", "params", "GFLOP", "infer ms", "ratio")
    if train:
        head += " %12s %7s" % ("train ms", "ratio")
    if tflite:
        head += " %12s %7s" % ("tflite ms", "ratio")
    print(head)
    for s in subjects:
        row = "%-10s %10d %8.2f %12.1f %7.3f" % (s.label, s.params, s.gflop, 1000 * med[s.label, "infer"],
                                                 med[s.label, "infer"] / med[first, "infer"])
        for kind in ("train", "tflite"):
            if timed_kinds[kind]:
                row += " %12.1f %7.3f" % (1000 * med[s.label, kind], med[s.label, kind] / med[first, kind])
        print(row)
