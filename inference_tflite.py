"""Run a .tflite ISP on a folder of RAW PNGs: PSNR/SSIM against targets, parity against a
reference model, latency.

    python inference_tflite.py tflite=models/model_iteration_600.tflite
    python inference_tflite.py tflite=models/m_int8.tflite reference=models/m.tflite save_images=True
    python inference_tflite.py tflite=models/m_val.tflite raw_dir=raw_images/val/mediatek_raw/ \
        target_dir=raw_images/val/fujifilm/ reference=models/m_val.pb

The RAWs must have the size the model was converted for (2x its input's height and width;
crop=True takes the top-left part of larger ones). Quantised (uint8/int8) input and output tensors
are scaled with their scale and zero point. Per image it prints PSNR and SSIM against the target
(where `target_dir` has one of the same name) and, with `reference=` (a frozen .pb or another
.tflite of the same input size), the PSNR and max-abs difference against the reference's output;
then the means, and the median latency over `runs` invocations after a warm-up, with `threads`
interpreter threads. save_images=True writes <result_dir>/<stem>_<model>.png,
<stem>_<model>_vs_target.png (output | target) and <model>_metrics.csv.
"""
import contextlib
import os
import statistics
import sys
import time

import numpy as np

from utils import (Arg, UsageError, optional_int, parse_args, positive_int, progress, psnr, run_main,
                   to_bool)

ARGS = [
    Arg("tflite", str, "models/original/punet_pretrained.tflite", "the .tflite model"),
    Arg("raw_dir", str, "raw_images/test/fujifilm_full_resolution/", "folder of 16-bit RAW PNGs (or DNGs, converted as dng2png.py does)"),
    Arg("target_dir", str, "raw_images/test/fujifilm/", "folder of RGB targets of the same names (optional)"),
    Arg("reference", str, "", "a .pb or .tflite to compare outputs with (e.g. the FP32 model)"),
    Arg("result_dir", str, "results/", "where save_images writes"),
    Arg("save_images", to_bool, False, "write result PNGs, side-by-side PNGs and a CSV"),
    Arg("crop", to_bool, False, "take the top-left part of RAWs larger than the model's size"),
    Arg("threads", optional_int, None, "interpreter threads (None: one per CPU core; TF 1.15 cannot set them)"),
    Arg("runs", positive_int, 10, "timed invocations for the latency median (after one warm-up)"),
]
PARITY_TOL = 1e-4  # FP32 TFLite against the TF graph, max-abs on outputs in 0..1


def quantize(x, scale, zero_point, dtype):
    """Float -> the integer tensor a quantised model takes: round(x / scale) + zero_point, clipped."""
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(q, scale, zero_point):
    return (q.astype(np.float32) - zero_point) * np.float32(scale)


@contextlib.contextmanager
def native_stderr_silenced():
    """Hide what TFLite's C++ prints to stderr (\"INFO: Created TensorFlow Lite XNNPACK delegate\")
    while an interpreter is set up; our own errors are raised, and reported, afterwards."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class TFLiteModel:
    """One interpreter; run() takes and returns float arrays whatever the tensor types are."""

    def __init__(self, tf, path, threads=None):
        if not os.path.isfile(path):
            raise UsageError("TFLite model %r not found (make one with pb2tflite.sh or "
                             "convert_tflite.py)" % path)
        self.threads = "default (TF 1.15 cannot set them)"
        try:
            with native_stderr_silenced():
                try:
                    self.interp = tf.lite.Interpreter(model_path=path, num_threads=threads)
                    self.threads = str(threads)
                except TypeError:
                    self.interp = tf.lite.Interpreter(model_path=path)
                self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise UsageError("cannot load %r as a TFLite model: %s" % (path, str(err).strip().splitlines()[0]))
        self.inp = self.interp.get_input_details()[0]
        self.out = self.interp.get_output_details()[0]
        self.shape = tuple(int(v) for v in self.inp["shape"])
        if self.inp["dtype"] != np.float32:
            self.kind = "int8 (%s input/output)" % np.dtype(self.inp["dtype"]).name
        elif any(t["dtype"] == np.float16 for t in self.interp.get_tensor_details()):
            self.kind = "fp16 (float16 weights)"
        else:
            self.kind = "fp32"

    def timed_invoke(self, x):
        """Seconds of one set_tensor + invoke on a float input (quantised outside the timing)."""
        if self.inp["dtype"] != np.float32:
            x = quantize(x, *self.inp["quantization"], dtype=self.inp["dtype"])
        t0 = time.perf_counter()
        self.interp.set_tensor(self.inp["index"], x)
        self.interp.invoke()
        return time.perf_counter() - t0

    def latency(self, x, runs):
        """Median seconds of `runs` invocations after one warm-up."""
        self.timed_invoke(x)
        return statistics.median([self.timed_invoke(x) for _ in range(runs)])

    def run(self, x):
        if self.inp["dtype"] != np.float32:
            x = quantize(x, *self.inp["quantization"], dtype=self.inp["dtype"])
        self.interp.set_tensor(self.inp["index"], x)
        self.interp.invoke()
        y = self.interp.get_tensor(self.out["index"])
        if self.out["dtype"] != np.float32:
            y = dequantize(y, *self.out["quantization"])
        return y


class GraphModel:
    """A frozen .pb (Placeholder -> output_l0) run by a TF session."""

    def __init__(self, tf, path):
        from convert_tflite import read_graph
        graph_def, self.shape = read_graph(tf, path)
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(graph_def, name="")
        self.sess = tf.Session(graph=self.graph)
        self.kind = "graph"

    def run(self, x):
        return self.sess.run("output_l0:0", {"Placeholder:0": x})


def load_model(tf, path, threads=None):
    return GraphModel(tf, path) if path.endswith(".pb") else TFLiteModel(tf, path, threads)


def check_sizes(raw_dir, names, shape, crop, tflite):
    """Every RAW must be 2x the input's height and width (or larger, with crop=True)."""
    import load_dataset
    h, w = 2 * shape[1], 2 * shape[2]
    for name in names:
        iw, ih = load_dataset.raw_size(os.path.join(raw_dir, name))
        if (ih, iw) == (h, w) or (crop and ih >= h and iw >= w):
            continue
        raise UsageError("RAW %r is %dx%d but %r was converted for %dx%d (input %s); convert it for "
                         "this size (test_model.py img_w=%d img_h=%d, then pb2tflite.sh ... 1,%d,%d,4)%s" % (
                             name, iw, ih, tflite, w, h, "x".join(map(str, shape)), iw // 2 * 2, ih // 2 * 2,
                             ih // 2, iw // 2, " or set crop=True" if ih >= h and iw >= w else ""))


def main(argv):
    a = parse_args(ARGS, argv, prog="inference_tflite.py", doc=__doc__)
    if a["threads"] is not None and a["threads"] <= 0:
        raise UsageError("threads must be a positive integer or None")
    import load_dataset
    names = load_dataset.list_raws(a["raw_dir"], "RAW")  # PNGs, or a phone's DNGs
    from utils import import_tf
    tf = import_tf()
    threads = a["threads"] or os.cpu_count()
    model = TFLiteModel(tf, a["tflite"], threads)
    check_sizes(a["raw_dir"], names, model.shape, a["crop"], a["tflite"])
    reference = None
    if a["reference"]:
        if not os.path.isfile(a["reference"]):
            raise UsageError("reference model %r not found" % a["reference"])
        reference = load_model(tf, a["reference"], threads)
        if reference.shape is not None and tuple(reference.shape) != model.shape:
            raise UsageError("reference %r takes input %s but %r takes %s; compare models of one size" % (
                a["reference"], "x".join(map(str, reference.shape)), a["tflite"], "x".join(map(str, model.shape))))
    has_targets = os.path.isdir(a["target_dir"])
    tag = os.path.splitext(os.path.basename(a["tflite"]))[0]
    from test_model import SsimMeter, check_test_images, target_for, write_csv
    if a["save_images"]:  # decode every RAW and target first: a bad file stops before any is written
        check_test_images(a["raw_dir"], a["target_dir"], names, 2 * model.shape[1], 2 * model.shape[2])
        from utils import ensure_dir
        ensure_dir(a["result_dir"], "result_dir")
    import previews
    h, w = 2 * model.shape[1], 2 * model.shape[2]
    ssim = None
    rows, lines, stats = [], [], {"psnr": [], "ssim": [], "ref_psnr": [], "ref_max": []}
    first_input = None
    for name in progress(names, desc="inference %s" % tag, unit="img"):
        raw = load_dataset.read_raw(os.path.join(a["raw_dir"], name))
        x = load_dataset.extract_bayer_channels(raw[:h, :w])[None]
        first_input = x if first_input is None else first_input
        out = np.clip(model.run(x)[0], 0.0, 1.0)
        out_u8 = previews.to_uint8(out)
        stem = os.path.splitext(name)[0]
        row, text = [name, "", "", "", ""], "%-24s" % name
        target_path = target_for(a["target_dir"], name)
        if has_targets and os.path.isfile(target_path):
            target = load_dataset.read_rgb(target_path)[:h, :w].astype(np.float32) / 255.0
            if target.shape[:2] != (h, w):
                raise UsageError("target %r is smaller than its RAW's %dx%d crop" % (target_path, w, h))
            out_f = out_u8.astype(np.float32) / 255.0
            if ssim is None:
                ssim = SsimMeter(tf, [h, w, 3])
            stats["psnr"].append(psnr(float(np.mean((out_f - target) ** 2))))
            stats["ssim"].append(ssim(out_f, target))
            row[1:3] = ["%.4f" % stats["psnr"][-1], "%.5f" % stats["ssim"][-1]]
            text += "  PSNR %6.2f dB  SSIM %.4f" % (stats["psnr"][-1], stats["ssim"][-1])
            if a["save_images"]:
                previews.save_png(os.path.join(a["result_dir"], "%s_%s_vs_target.png" % (stem, tag)),
                                  previews.grid([[out_f, target]]))
        if reference is not None:
            ref = np.clip(reference.run(x)[0], 0.0, 1.0)
            stats["ref_max"].append(float(np.max(np.abs(out - ref))))
            stats["ref_psnr"].append(psnr(float(np.mean((out - ref) ** 2))))
            row[3:5] = ["%.4f" % stats["ref_psnr"][-1], "%.3g" % stats["ref_max"][-1]]
            text += "  | vs reference: PSNR %6.2f dB, max-abs %.3g" % (stats["ref_psnr"][-1], stats["ref_max"][-1])
        if a["save_images"]:
            previews.save_png(os.path.join(a["result_dir"], "%s_%s.png" % (stem, tag)), out_u8)
        rows.append(row)
        lines.append(text)
    print("\n".join(lines))
    if stats["psnr"]:
        print("mean over %d images with targets: PSNR %.2f dB  SSIM %.4f" % (
            len(stats["psnr"]), np.mean(stats["psnr"]), np.mean(stats["ssim"])))
    else:
        print("no targets in %r: PSNR/SSIM not computed" % a["target_dir"])
    if reference is not None:
        worst = max(stats["ref_max"])
        print("vs reference %s over %d images: mean PSNR %.2f dB, max-abs %.3g" % (
            a["reference"], len(names), np.mean(stats["ref_psnr"]), worst))
        if model.kind == "fp32":
            print("parity (float model, max-abs <= %g): %s" % (PARITY_TOL, "yes" if worst <= PARITY_TOL else "NO"))
    if a["save_images"]:
        csv_path = os.path.join(a["result_dir"], "%s_metrics.csv" % tag)
        write_csv(csv_path, ["image", "psnr_db", "ssim", "ref_psnr_db", "ref_max_abs"], rows)
        print("wrote %d result PNGs and %s to %s" % (len(names), os.path.basename(csv_path), a["result_dir"]))
    print("latency of %s (%s; input %s; threads %s): median %.1f ms over %d runs" % (
        a["tflite"], model.kind, "x".join(map(str, model.shape)), model.threads,
        1000 * model.latency(first_input, a["runs"]), a["runs"]))


if __name__ == "__main__":
    run_main(main)
