"""benchmark.py's speed mode: each arch's parameters, GFLOP and median inference, training-step and
TFLite FP32 times, built in one process and timed interleaved, with each ratio to the first arch."""
import os
import platform
import statistics

from bench_subject import Subject, time_interleaved
from progress import progress
from tfimport import import_tf, tf_version


def speed(a, archs):
    """Print the speed table of archs [(arch, nmb)], ratios to the first."""
    tf = import_tf()
    subjects = [Subject(tf, arch, nmb, a) for arch, nmb in progress(archs, desc="building", unit="arch")]
    kinds = ["infer"] + [kind for kind in ("train", "tflite") if a[kind]]
    time_interleaved(subjects, kinds, progress(range(a["runs"]), desc="timing", unit="round"))
    med = {(s.label, k): statistics.median(s.times[k]) for s in subjects for k in kinds}
    first = subjects[0].label
    threads = subjects[0].tflite.threads if a["tflite"] else "-"
    print("TensorFlow %s, Python %s, %s, %d CPUs; inference at %dx%d, training batch %d of %dx%d, "
          "TFLite threads %s; medians of %d interleaved runs; ratio = arch time / %s time" % (
              tf_version(), platform.python_version(), platform.machine(), os.cpu_count(),
              a["img_w"], a["img_h"], a["batch_size"], a["patch"], a["patch"], threads, a["runs"], first))
    head = "%-10s %10s %8s %12s %7s" % ("arch", "params", "GFLOP", "infer ms", "ratio")
    if a["train"]:
        head += " %12s %7s" % ("train ms", "ratio")
    if a["tflite"]:
        head += " %12s %7s" % ("tflite ms", "ratio")
    print(head)
    for s in subjects:
        row = "%-10s %10d %8.2f %12.1f %7.3f" % (s.label, s.params, s.gflop, 1000 * med[s.label, "infer"],
                                                 med[s.label, "infer"] / med[first, "infer"])
        for kind in ("train", "tflite"):
            if a[kind]:
                row += " %12.1f %7.3f" % (1000 * med[s.label, kind], med[s.label, kind] / med[first, kind])
        print(row)
