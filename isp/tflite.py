"""TFLite: reading frozen graphs, converting them (FP32, FP16, INT8 with calibration inputs), and
running models: the interpreter wrapper (threads, quantised input/output) and a frozen-graph
runner with the same interface. Functions take the TensorFlow module `tf` (imported late, see
tfimport.import_tf)."""
import contextlib
import inspect
import os
import shutil
import sys
import time
import warnings

import numpy as np

from isp import load_dataset
from isp.errors import RunFailure, UsageError, first_line
from isp.evaluate import median_seconds
from isp.model import EARLIER_LIGHT, GAIN_SCOPE, GAIN_SCOPES, LIGHT, LIGHT_FLOOR, float_in_int8, tile_light
from isp.nnapi import float_only_ops
from isp.tfimport import native_stderr_filtered, tf_major, tf_version

PRECISIONS = ("fp32", "fp16", "int8")
TF1_THREADS = "default (TF 1.15 cannot set them)"


def is_dynamic(shape):
    """True for an any-size input shape (1, None, None, 4)."""
    return shape is not None and None in shape


def shape_text(shape):
    """1x544x960x4, or 1xNonexNonex4 for an any-size input."""
    return "x".join(map(str, shape))


def has_light(graph_def):
    """True for a tile graph: one with the second input model.LIGHT."""
    return any(n.name == LIGHT for n in graph_def.node)


def read_graph(tf, path):
    """The GraphDef of a frozen .pb and its Placeholder's shape: fixed (1, h, w, 4), any size
    (1, None, None, 4), or None when it is neither."""
    if not os.path.isfile(path):
        raise UsageError("frozen graph %r not found (write one with test_model.py save=True or "
                         "ckpt2pb.py)" % path)
    graph_def = tf.GraphDef()
    try:
        with open(path, "rb") as f, warnings.catch_warnings():
            warnings.simplefilter("error")  # older protobufs only warn about undecodable bytes
            graph_def.ParseFromString(f.read())
    except Exception as err:  # protobuf's DecodeError has no stable import path across versions
        raise UsageError("%r is not a frozen TensorFlow graph (.pb): %s" % (path, err))
    nodes = {n.name: n for n in graph_def.node}
    for name in ("Placeholder", "output_l0"):
        if name not in nodes:
            raise UsageError("%r has no node %r; the graph must go Placeholder -> output_l0" % (path, name))
    dims = nodes["Placeholder"].attr["shape"].shape
    shape = tuple(d.size for d in dims.dim)
    if len(shape) == 4 and min(shape) > 0:
        return graph_def, shape
    if len(shape) == 4 and shape[0] == 1 and shape[3] == 4 and shape[1] < 0 and shape[2] < 0:
        return graph_def, (1, None, None, 4)
    return graph_def, None


def calibration_inputs(dataset_dir, phone_dir, shape, count, seed):
    """`count` network inputs [1, h, w, 4] from real training RAWs: random crops of the Bayer
    planes, or (when the RAWs are smaller than the input) one RAW tiled, its tiles mirrored so that
    they meet without seams. One RAW per input, because a photo has one light and one exposure:
    tiles of several RAWs would make a scene that no camera records, whose light and so whose gain
    (arch=model) lie outside what real photos give, and the INT8 ranges calibrated on them would
    clip real full-size photos."""
    folder = os.path.join(dataset_dir, "train", phone_dir)
    names = load_dataset.list_pngs(folder, "calibration (train RAW)")
    rng = np.random.RandomState(seed)
    _, h, w, _ = shape
    for _ in range(count):
        planes = load_dataset.extract_bayer_channels(
            load_dataset.read_raw(os.path.join(folder, names[rng.randint(len(names))])))
        ph, pw = planes.shape[:2]
        if ph >= h and pw >= w:
            oy, ox = rng.randint(ph - h + 1), rng.randint(pw - w + 1)
            yield np.ascontiguousarray(planes[oy:oy + h, ox:ox + w])[None]
            continue
        # mirror-tile: [p, flip(p), p, ...] along each axis, then a random offset into it
        reps = ((h + ph - 1) // ph + 1, (w + pw - 1) // pw + 1)
        rows = np.concatenate([planes if i % 2 == 0 else planes[::-1] for i in range(reps[0])], axis=0)
        tiled = np.concatenate([rows if j % 2 == 0 else rows[:, ::-1] for j in range(reps[1])], axis=1)
        oy, ox = rng.randint(tiled.shape[0] - h + 1), rng.randint(tiled.shape[1] - w + 1)
        yield np.ascontiguousarray(tiled[oy:oy + h, ox:ox + w])[None]


@contextlib.contextmanager
def _toco_found():
    """TF 1.15's converter runs its helper program toco_from_protos by name, through a shell that
    looks it up on PATH, and passes no environment of its own; pip puts the program beside python,
    which is on PATH only in an activated venv. So, for the conversion only, PATH gets python's
    folder, and is put back after it. TF 2.x converts in-process and needs nothing."""
    if tf_major() >= 2 or shutil.which("toco_from_protos"):
        yield
        return
    old = os.environ.get("PATH")
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + (old or "")
    try:
        yield
    finally:
        if old is None:
            del os.environ["PATH"]
        else:
            os.environ["PATH"] = old


def convert(tf, graph_path, shape, precision, int8_io="uint8", calibration=None, light=False):
    """The .tflite bytes of a frozen graph for input `shape` ((1, None, None, 4): any size);
    `calibration` yields float inputs (int8 only). light=True: the graph's second input LIGHT
    ([1, 1, 1, 4], a tile graph's) is kept as the file's second input, at any precision (INT8:
    see light_calibration)."""
    if is_dynamic(shape) and tf_major() < 2:
        raise UsageError("%r takes any input size (1xNonexNonex4), which TF %s's converter cannot keep (\"None "
                         "is only supported in the 1st dimension\"); convert it with .venv/bin/python (TF 2.x), "
                         "or give a fixed shape (pb2tflite.sh PB OUT 1,544,960,4)" % (graph_path, tf_version()))
    if precision == "int8" and tf_major() < 2:
        raise UsageError("precision=int8 needs the TF 2.x converter: TF %s's cannot quantise "
                         "DEPTH_TO_SPACE (arch=model) or LEAKY_RELU (arch=punet); run this with "
                         ".venv/bin/python (bash setup_env.sh tf2)" % tf_version())
    inputs = {"Placeholder": list(shape)}
    if light:
        inputs[LIGHT] = [1, 1, 1, 4]
    converter = tf.lite.TFLiteConverter.from_frozen_graph(graph_path, list(inputs), ["output_l0"], inputs)
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = (lambda: light_calibration(calibration)) if light else \
            (lambda: ([x] for x in calibration))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = getattr(tf, int8_io)
    try:
        with _toco_found():
            if precision == "int8":
                node_names = [n.name for n in read_graph(tf, graph_path)[0].node]
                return _quantize_keeping_float_ops(tf, converter, getattr(tf, int8_io), node_names)
            return converter.convert()
    except UsageError:
        raise
    except Exception as err:
        raise UsageError("the TFLite converter failed on %r (%s): %s" % (
            graph_path, precision, str(err).strip().splitlines()[-1][:300] if str(err).strip() else type(err).__name__))


def light_calibration(calibration):
    """A tile graph's INT8 calibration samples, [input, log light]: each input with its own
    (model.tile_light), then the first input darkened until its brightest pixel is at LIGHT_FLOOR
    (so its light, which no cell mean can exceed, is the floor), with its own. The file's log_light
    input is then quantised over the log of [LIGHT_FLOOR, 1] (it holds 0 too), steps of about 1 % of
    the light at any light, so no dim photo's light is clipped to the range its calibration inputs
    happened to hold. The darkened input is a photo at that exposure, not a dim light given to a
    bright photo: the gain brings its head maps to the ranges the others give, where a floor light
    on a bright photo would widen them (and coarsen every photo's int8 steps) by the gain's up to
    100-fold."""
    first = None
    for x in calibration:
        first = x if first is None else first
        yield [x, tile_light(x)]
    if first is not None:
        dark = first * np.float32(LIGHT_FLOOR / max(float(first.max()), LIGHT_FLOOR))
        yield [dark, tile_light(dark)]


def _quantize_keeping_float_ops(tf, converter, io_type, node_names):
    """Full-integer quantisation as converter.convert() does it (calibrate, then the MLIR
    quantiser with the same input/output type), except that the ops NNAPI runs only in float
    (nnapi.float_only_ops: arch=model's LOG and EXP) and the nodes model.float_in_int8 names stay float32. Quantised, they would run on
    the phone's CPU and cut the graph into three NNAPI partitions; kept in float they are NNAPI's,
    between a DEQUANTIZE and a QUANTIZE. The converter has no public switch for this: its
    calibrate-only mode and the quantiser it calls are internal (the public
    tf.lite.experimental.QuantizationDebugger uses the same two), so a TF without them is named."""
    try:
        from tensorflow.lite.python.convert import mlir_quantize
    except ImportError:
        raise UsageError("this TF %s has no tensorflow.lite.python.convert.mlir_quantize, which the INT8 export "
                         "needs to keep LOG/EXP in float for NNAPI; use the TF 2.x of requirements.txt "
                         "(bash setup_env.sh tf2)" % tf_version())
    converter._experimental_calibrate_only = True
    # the quantiser's C++ code prints its settings ("fully_quantize: 0, ...") to stderr
    with native_stderr_filtered(drop=lambda line: line.startswith("fully_quantize:")):
        calibrated = converter.convert()
        return mlir_quantize(calibrated, input_data_type=io_type, output_data_type=io_type,
                             denylisted_ops=float_only_ops(), denylisted_nodes=float_in_int8(node_names))


def convert_session(tf, sess, inputs, outputs):
    """The FP32 .tflite bytes of a live session's graph (no freezing to a file)."""
    converter = tf.lite.TFLiteConverter.from_session(sess, inputs, outputs)
    with _toco_found():
        return converter.convert()


def quantize(x, scale, zero_point, dtype):
    """Float -> the integer tensor a quantised model takes: round(x / scale) + zero_point, clipped."""
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(q, scale, zero_point):
    return (q.astype(np.float32) - zero_point) * np.float32(scale)


def interpreter_class(tf):
    """The TFLite interpreter and the name of its runtime: LiteRT's own (the ai-edge-litert
    package) on TF 2.x, whose tf.lite.Interpreter is deprecated in its favour; tf.lite on TF 1.15."""
    if tf_major() < 2:
        return tf.lite.Interpreter, "tf.lite (TF %s)" % tf_version()
    try:
        from ai_edge_litert import interpreter as litert
    except ImportError:
        raise UsageError("TFLite models run with LiteRT on TF 2.x, and the ai-edge-litert package is not "
                         "installed: pip install ai-edge-litert==2.3.0 (in requirements.txt; bash setup_env.sh tf2)")
    try:
        from importlib import metadata
        version = metadata.version("ai-edge-litert")
    except Exception:
        version = "?"
    return litert.Interpreter, "LiteRT %s" % version


def load_failure(err, printed):
    """Why an interpreter failed to load: the exception's first line (sometimes empty) and what
    TFLite's C++ printed meanwhile (its INFO notes left out)."""
    said = [line.strip() for line in printed if line.strip() and not line.startswith("INFO:")]
    if not str(err).strip():
        return "; ".join(said) or type(err).__name__
    return "; ".join([first_line(err)] + [line for line in said if line not in str(err)])


class TFLiteModel:
    """One interpreter, from a file (`path`) or from bytes (`content`); run() takes and returns
    float arrays whatever the tensor types are. It runs with `threads` threads (None: one per CPU
    core); `self.threads` says what it runs with, as text; `runtime`
    names the interpreter. A model whose input is [1, None, None, 4] (`dynamic`; `shape` is then
    (1, None, None, 4)) is resized to each input's size before it runs."""

    def __init__(self, tf, path=None, threads=None, content=None):
        if content is None and not os.path.isfile(path):
            raise UsageError("TFLite model %r not found (make one with pb2tflite.sh or "
                             "convert_tflite.py)" % path)
        source = {"model_path": path} if content is None else {"model_content": content}
        interpreter, self.runtime = interpreter_class(tf)
        self.threads = TF1_THREADS
        if "num_threads" in inspect.signature(interpreter).parameters:  # not in TF 1.15's
            threads = threads or os.cpu_count()
            source["num_threads"] = threads
            self.threads = str(threads)
        # TFLite's C++ prints notes ("INFO: Created TensorFlow Lite XNNPACK delegate") while an
        # interpreter is set up, and, when it fails, its reason: the notes are dropped, the reason
        # goes into the one-line error
        printed = []
        try:
            with native_stderr_filtered(drop=lambda line: True) as printed:
                self.interp = interpreter(**source)
                self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise UsageError("cannot load %r as a TFLite model: %s" % (path, load_failure(err, printed)))
        inputs = {d["name"]: d for d in self.interp.get_input_details()}
        # the image input is Placeholder; a tile file's second input, LIGHT, is the log of the photo's light
        self.inp = inputs.get("Placeholder", self.interp.get_input_details()[0])
        self.light = inputs.get(LIGHT)
        # arch=model's gain (or an earlier design's), inside a file without a light input: each call's
        # light is taken from its own input, so tiles of one photo would each get their own
        names = [t["name"] for t in self.interp.get_tensor_details()]
        # which design's gain the file holds (GAIN_SCOPES: today's first), None for none
        self.gain_scope = next((scope for scope in GAIN_SCOPES if any("/%s/" % scope in n for n in names)), None)
        if "Placeholder" in inputs and EARLIER_LIGHT in inputs and self.light is None:
            raise UsageError("%s is a tile file of an earlier form: its second input %r took the photo's light, where "
                             "this code gives the log of it (%r); export it again with export_challenge.py (or "
                             "test_model.py tile=True and convert_tflite.py)%s" % (
                                 path or "this model", EARLIER_LIGHT, LIGHT,
                                 "" if self.gain_scope == GAIN_SCOPE else " from a checkpoint of today's arch=model"))
        self.own_light = self.light is None and self.gain_scope is not None
        self.out = self.interp.get_output_details()[0]
        self.signature = self.signature_of(self.inp)
        self.dynamic = -1 in self.signature
        self.shape = tuple(None if v < 0 else v for v in self.signature)
        if self.inp["dtype"] != np.float32:
            self.kind = "int8 (%s input/output)" % np.dtype(self.inp["dtype"]).name
        elif any(t["dtype"] == np.float16 for t in self.interp.get_tensor_details()):
            self.kind = "fp16 (float16 weights)"
        else:
            self.kind = "fp32"

    @staticmethod
    def signature_of(detail):
        """A tensor's shape as the model declares it, -1 for a dimension of any size. TF 1.15's
        interpreter shows no shape_signature; an any-size model (made by TF 2.x's converter)
        shows there as 1 x 1 x 1 x C, the shape it is first allocated for, and is taken as one."""
        sig = detail.get("shape_signature")
        if sig is not None and len(sig):
            return tuple(int(v) for v in sig)
        shape = tuple(int(v) for v in detail["shape"])
        return (1, -1, -1, shape[3]) if len(shape) == 4 and shape[:3] == (1, 1, 1) else shape

    def input_size(self):
        """The input shape the interpreter is allocated for now."""
        return tuple(int(v) for v in self.interp.get_input_details()[0]["shape"])

    def _input(self, x):
        if self.inp["dtype"] != np.float32:
            x = quantize(x, *self.inp["quantization"], dtype=self.inp["dtype"])
        return x

    def _invoke(self, q, light=None):
        if self.light is not None:
            if light is None:
                raise UsageError("this TFLite file has a second input, %r (the log of the whole photo's light): run it "
                                 "with tile=True" % LIGHT)
            light = np.asarray(light, np.float32).reshape(1, 1, 1, 4)
            if self.light["dtype"] != np.float32:  # an INT8 tile file's
                light = quantize(light, *self.light["quantization"], dtype=self.light["dtype"])
            self.interp.set_tensor(self.light["index"], light)
        if self.dynamic and tuple(q.shape) != self.input_size():
            try:
                self.interp.resize_tensor_input(self.inp["index"], list(q.shape))
                self.interp.allocate_tensors()
            except (ValueError, RuntimeError) as err:
                raise UsageError("the any-size model cannot run at input %s: %s" % (shape_text(q.shape), first_line(err)))
        self.interp.set_tensor(self.inp["index"], q)
        self.interp.invoke()

    def timed_invoke(self, x, light=None):
        """Seconds of one set_tensor + invoke on a float input (quantised outside the timing)."""
        q = self._input(x)
        t0 = time.perf_counter()
        self._invoke(q, light)
        return time.perf_counter() - t0

    def latency(self, x, runs, light=None):
        """Median seconds of `runs` invocations after one warm-up."""
        q = self._input(x)
        self._invoke(q, light)
        return median_seconds(lambda: self._invoke(q, light), runs)

    def run(self, x, light=None):
        self._invoke(self._input(x), light)
        y = self.interp.get_tensor(self.out["index"])
        if self.out["dtype"] != np.float32:
            y = dequantize(y, *self.out["quantization"])
        return y


class GraphModel:
    """A frozen .pb (Placeholder -> output_l0) run by a TF session."""

    def __init__(self, tf, path):
        graph_def, self.shape = read_graph(tf, path)
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(graph_def, name="")
        self.sess = tf.Session(graph=self.graph)
        self.kind = "graph"
        self.light = has_light(graph_def)

    def run(self, x, light=None):
        feed = {"Placeholder:0": x}
        if self.light:
            feed[LIGHT + ":0"] = light
        return self.sess.run("output_l0:0", feed)


def load_model(tf, path, threads=None):
    """A frozen .pb or a .tflite, by its extension."""
    return GraphModel(tf, path) if path.endswith(".pb") else TFLiteModel(tf, path, threads)


PARITY_TOL = 1e-4  # an FP32 .tflite against its TF graph, max-abs on outputs in 0..1


def check_against_graph(model, graph, name, want_in, want_out, input_sizes, tol=PARITY_TOL, seed=0):
    """Check a .tflite (TFLiteModel) as the challenge wants it: input tensor `Placeholder` of
    shape `want_in`, output `output_l0` of shape `want_out` (-1: any size), and its output within
    `tol` max-abs of the frozen graph's (GraphModel) at each of `input_sizes` ((h/2, w/2) pairs) on
    random inputs. Returns [(input shape, max-abs)]; RunFailure naming the first mismatch."""
    got_in, got_out = model.signature, TFLiteModel.signature_of(model.out)
    for what, want, got in (("input", ("Placeholder", tuple(want_in)), (model.inp["name"], got_in)),
                            ("output", ("output_l0", tuple(want_out)), (model.out["name"], got_out))):
        if got != want:
            raise RunFailure("%s: %s tensor is %s %s, not %s %s" % (
                name, what, got[0], list(got[1]), want[0], list(want[1])))
    if (model.light is not None) != graph.light:
        raise RunFailure("%s: the file %s a %r input and the graph %s" % (
            name, "has" if model.light is not None else "has no", LIGHT, "has" if graph.light else "has not"))
    rng = np.random.RandomState(seed)
    diffs = []
    for hh, ww in input_sizes:
        x = rng.rand(1, hh, ww, 4).astype(np.float32)
        light = np.log(0.1 + rng.rand(1, 1, 1, 4)).astype(np.float32) if graph.light else None
        y, ref = model.run(x, light), graph.run(x, light)
        if y.shape != ref.shape:
            raise RunFailure("%s: output %s at input %s, the graph's is %s" % (
                name, list(y.shape), list(x.shape), list(ref.shape)))
        diff = float(np.max(np.abs(y - ref)))
        if not diff <= tol:
            raise RunFailure("%s: output differs from the TF graph by %.3g (max-abs) at input %s, more "
                             "than %g" % (name, diff, shape_text(x.shape), tol))
        diffs.append((x.shape, diff))
    return diffs
