"""Shared fixtures and helpers: a tiny generated dataset, a random VGG-19 .mat, one short training
run, the frozen graph and TFLite models made from it; running scripts, checking one-line errors,
damaging files, writing DNGs, running frozen graphs and .tflite files.

Tests run on whichever stack's Python runs pytest (run_tests.sh runs them on both); scripts are
started as subprocesses with that same Python, exactly as a user types them. Test files import
helpers from here, never from each other.
"""
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_FIXTURE = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "punet_reference")
sys.path.insert(0, ROOT)
from isp import dng  # noqa: E402  (the scripts' folder is on the path from here)
from isp import load_dataset  # noqa: E402
from isp import model  # noqa: E402
from isp.checkpoints import ckpt_prefix, existing_iterations  # noqa: E402
from make_demo_data import make_dataset  # noqa: E402
from make_vgg_mat import write_random_vgg  # noqa: E402
from isp.tfimport import import_tf, tf_major  # noqa: E402
from isp.tflite import TFLiteModel  # noqa: E402

# a train_model.py log line (checked here by its own pattern, not by isp/train_log.py's parser)
LOG_LINE = re.compile(r"step (\d+) \| training loss: [\d.]+ \| validation: loss [\d.]+, content ([\d.]+), "
                      r"mse [\d.]+, psnr ([\d.]+), ms-ssim [\d.]+")
RAW_SUB, RGB_SUB = "mediatek_raw", "fujifilm"


def log_lines(path):
    """The lines of a training log after its header line (which is checked)."""
    from isp.train_log import LOG_HEADER
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines and lines[0] == LOG_HEADER, lines[:1]
    return lines[1:]
SMALL = {"patch_w": 64, "patch_h": 64, "batch_size": 2, "train_size": 12, "num_train_iters": 2,
         "content_loss": False}


def start_script(*words, cwd=ROOT, env=None, python=None, launcher=(), stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, unbuffered=True):
    """Start `python <script> words...` as a user types it (`bash <x>.sh`; `python -c code ...`
    for a first word "-c"), the script's path under the project folder (a harness:
    "tests/<name>.py"), and return the Popen (text streams). `python`: this stack's unless given
    (e.g. other_python()); `launcher`: words before it (horovodrun's); `env`: added to the
    environment. Unbuffered: a test can read its lines while it runs (lines_read_while_running)."""
    script = words[0]
    python = python or sys.executable
    if script.endswith(".sh"):
        cmd = ["bash", os.path.join(ROOT, script)]
    elif script.startswith("-"):
        cmd = [python, script]
    else:
        cmd = [python, os.path.join(ROOT, script)]
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHON=python)
    if unbuffered:
        full_env["PYTHONUNBUFFERED"] = "1"
    full_env.update(env or {})
    return subprocess.Popen(list(launcher) + cmd + [str(w) for w in words[1:]], cwd=cwd, env=full_env,
                            stdout=stdout, stderr=stderr, universal_newlines=True)


def run_script(*words, timeout=600, **how):
    """Run a script to its end (start_script's words and keywords; its output buffered as in a
    user's pipe) and return the CompletedProcess."""
    how.setdefault("unbuffered", False)
    with start_script(*words, **how) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


class Lines(list):
    """A stream's lines, appended by a reader thread as they come; wait_for waits for one."""

    def __init__(self):
        super().__init__()
        self.ended = False
        self._changed = threading.Condition()

    def read(self, stream):
        for line in stream:
            with self._changed:
                self.append(line)
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def wait_for(self, test, timeout=300):
        """The first line for which test(line) holds, as soon as it has been read; AssertionError
        if the stream ends (the process exited) or `timeout` seconds pass first."""
        def found():
            return next((line for line in self if test(line)), None)
        with self._changed:
            self._changed.wait_for(lambda: found() is not None or self.ended, timeout)
            line = found()
            if line is None:
                raise AssertionError("the line did not come (%s); read so far:\n%s" % (
                    "the stream ended" if self.ended else "%g s passed" % timeout, "".join(self)[-2000:]))
        return line


@contextlib.contextmanager
def lines_read_while_running(stream, proc):
    """A Lines list that a thread fills with `stream`'s lines (proc.stdout or proc.stderr,
    opened as text) while the block runs; on leaving, proc is killed if it still runs, and the
    list is then complete."""
    lines = Lines()
    reader = threading.Thread(target=lines.read, args=(stream,))
    reader.start()
    try:
        yield lines
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join()


def wait_for(condition, timeout=300, proc=None):
    """For an event no stream announces (a file appearing): condition()'s value once it holds;
    AssertionError after `timeout` seconds or, with `proc`, when that process has ended first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError("the process ended (exit code %s) before the awaited event" % proc.returncode)
        if time.monotonic() > deadline:
            raise AssertionError("the awaited event did not happen within %g s" % timeout)
        time.sleep(0.002)  # how often it looks: short next to a training step


def assert_usage_error(proc, *needles):
    """Exit code 2, exactly one line on stderr naming the problem, no traceback."""
    lines = error_lines(proc)
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def error_lines(proc):
    """The lines of proc's stderr but blank ones and TensorFlow's start-up noise (TF 2.x's oneDNN
    banner is printed by its C++ runtime at import, before any of our code runs)."""
    return [l for l in proc.stderr.splitlines() if l.strip()
            and "oneDNN custom operations" not in l and "absl::InitializeLog" not in l]


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("data") / "raw_images")
    make_dataset(out, train_count=12, val_count=4, test_count=1, patch_size=64,
                 test_h=128, test_w=192, seed=0, progress=False)
    return out


@pytest.fixture(scope="session")
def vgg_mat(tmp_path_factory):
    return write_random_vgg(str(tmp_path_factory.mktemp("vgg") / "random-vgg19.mat"), width_div=16)


@pytest.fixture(scope="session")
def trained(demo_data, vgg_mat, tmp_path_factory):
    """A 4-iteration arch=model run with the VGG content loss, TensorBoard summaries every
    iteration and save_mid_imgs; returns (model_dir, process)."""
    model_dir = str(tmp_path_factory.mktemp("trained") / "models")  # "models": outputs named as the default model_dir's
    result_dir = os.path.join(model_dir, "results")
    proc = run_script("train_model.py", "dataset_dir=" + demo_data, "model_dir=" + model_dir,
                      "result_dir=" + result_dir,
                      "vgg_dir=" + vgg_mat, "patch_w=64", "patch_h=64", "batch_size=4",
                      "train_size=12", "eval_step=2", "num_train_iters=4", "seed=0",
                      "save_mid_imgs=True", "summary_step=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return model_dir, proc


# ---------------------------------------------------------------------------------------------
# helpers


def kv_words(options):
    return ["%s=%s" % kv for kv in options.items()]


def first_file(folder):
    return os.path.join(folder, sorted(os.listdir(folder))[0])


def truncate_file(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:  # the header survives: only decoding finds it
        f.write(data[:len(data) // 2])


def save_image(path, array):
    Image.fromarray(array).save(path)


def ckpt_reader(prefix):
    tf = import_tf()
    return tf.train.NewCheckpointReader(prefix)


def ckpt_state(prefix):
    """Every tensor of a checkpoint by name: a training checkpoint's network and optimizer state."""
    reader = ckpt_reader(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def network_names(names):
    """Of a training checkpoint's tensor names, the network's variables (not Adam's slots, its
    counters or the global step)."""
    return sorted(n for n in names if n.startswith("generator/") and not n.endswith(("/Adam", "/Adam_1")))


def max_abs_difference(a, b):
    """The largest absolute difference between two ckpt_state dicts of the same tensors."""
    assert sorted(a) == sorted(b)
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) for k in a)


def run_killed_at(hook, words, cwd, env=None, launcher=()):
    """Run tests/train_harness.py with `words` and TRAIN_HOOK=hook (under `launcher`, e.g.
    horovodrun's words), wait until it pauses there, SIGKILL it and every process it started (the
    ranks); its output (stdout and stderr)."""
    hook_dir = os.path.join(cwd, "hook")
    shutil.rmtree(hook_dir, ignore_errors=True)
    os.makedirs(hook_dir)
    proc = start_script("tests/train_harness.py", *words, cwd=cwd, stderr=subprocess.STDOUT, launcher=launcher,
                        env=dict(env or {}, TRAIN_HOOK=hook, HOOK_DIR=hook_dir))
    with lines_read_while_running(proc.stdout, proc) as out:
        try:
            wait_for(lambda: os.path.exists(os.path.join(hook_dir, "paused")), proc=proc)
        finally:
            pids = os.path.join(hook_dir, "pids")
            for pid in os.listdir(pids) if os.path.isdir(pids) else ():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    out = "".join(out)
    assert proc.returncode == -signal.SIGKILL, out[-3000:]
    return out


def run_pb(pb, x):
    tf = import_tf()
    graph_def = tf.GraphDef()
    with open(pb, "rb") as f:
        graph_def.ParseFromString(f.read())
    with tf.Graph().as_default():
        tf.import_graph_def(graph_def, name="")
        with tf.Session() as sess:
            return sess.run("output_l0:0", {"Placeholder:0": x})


def run_tflite(path, x):
    """A float .tflite's output for x, on the stack's runtime (LiteRT on TF 2.x, tf.lite on TF
    1.15); a fixed-size model must have x's size, an any-size one is resized to it."""
    tflite_model = TFLiteModel(import_tf(), path)
    assert tflite_model.dynamic or list(tflite_model.shape) == list(x.shape)
    return tflite_model.run(x)


def other_python():
    """The other stack's Python (TF 1.15's on TF 2.x, TF 2.x's on TF 1.15), for writing files
    there that this stack reads. Absent: a skip that says so, but under CI (CI=true), which has
    both stacks, a failure."""
    venv = ".venv-tf1" if tf_major() >= 2 else ".venv"
    path = os.path.join(ROOT, venv, "bin", "python")
    if not os.path.isfile(path):
        message = "the other stack's Python %s is absent (bash setup_env.sh %s)" % (
            path, "tf1" if venv == ".venv-tf1" else "tf2")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def tf2_python():
    """A TF 2.x Python: this one, or on TF 1.15 the other stack's (any-size .tflite files need TF
    2.x's converter)."""
    return sys.executable if tf_major() >= 2 else other_python()


def run_checkpoint(prefix, arch, num_maps_base, x):
    """The network's output for x from a graph built at x's size, the checkpoint restored: the
    reference for frozen graphs and .tflite files at sizes they were not frozen for."""
    tf = import_tf()
    with tf.Graph().as_default():
        inp = tf.placeholder(tf.float32, x.shape)
        out = model.build(arch, inp, num_maps_base)
        with tf.Session() as sess:
            tf.train.Saver().restore(sess, prefix)
            return sess.run(out, {inp: x})


def save_random_checkpoint(prefix, arch, num_maps_base, seed=0):
    """A freshly initialised checkpoint of arch (random weights), written at `prefix`."""
    tf = import_tf()
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        model.build(arch, tf.placeholder(tf.float32, [1, None, None, 4]), num_maps_base)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, prefix, write_meta_graph=False, write_state=False)
    return prefix


def val_inputs(demo_data):
    names = load_dataset.paired_names(demo_data, "val", "mediatek_raw/", "fujifilm/")
    raw, rgb = load_dataset.load_pairs(demo_data, "val", "mediatek_raw/", "fujifilm/", names, 64, 64)
    return load_dataset.to_float(raw, rgb)


# ---------------------------------------------------------------------------------------------
# what a training run leaves in model_dir, and its progress read from its stdout


def latest_iteration(model_dir):
    """The newest complete arch=model checkpoint's iteration, 0 for none."""
    have = existing_iterations(model_dir, "model")
    return have[-1] if have else 0


def check_nothing_unreadable(model_dir):
    """Every checkpoint that counts as complete restores with finite weights; every log line is whole."""
    for it in existing_iterations(model_dir, "model"):
        reader = ckpt_reader(ckpt_prefix(model_dir, "model", it))
        for name in reader.get_variable_to_shape_map():
            assert np.all(np.isfinite(reader.get_tensor(name))), (it, name)
    logged = 0
    for name in os.listdir(model_dir):
        if name.startswith("logs_") and name.endswith(".txt"):
            with open(os.path.join(model_dir, name)) as f:
                text = f.read()
            assert text.endswith("\n") or not text, name
            for line in log_lines(os.path.join(model_dir, name)) if text else []:
                assert LOG_LINE.match(line), (name, line)
                logged = max(logged, int(LOG_LINE.match(line).group(1)))
    # the log line is written after its checkpoint: nothing logged is ever missing a checkpoint
    assert latest_iteration(model_dir) >= logged


def copy_checkpoint(src, dst, old, new):
    """Copy the files of checkpoint `old` (a file-name prefix) in src to dst, renamed to `new`."""
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        if name.startswith(old):
            shutil.copy(os.path.join(src, name), os.path.join(dst, name.replace(old, new)))


def train_losses(model_dir, tag="train/loss"):
    """(step, value) of a TensorBoard scalar of a run from iteration 0 to 10."""
    tf = import_tf()
    logdir = os.path.join(model_dir, "tensorboard", "model_0-10")
    (events,) = [os.path.join(logdir, f) for f in os.listdir(logdir) if "tfevents" in f]
    return [(e.step, v.simple_value) for e in tf.train.summary_iterator(events) for v in e.summary.value
            if v.tag == tag]


def wait_for_log_step(stdout_lines, step, timeout=300):
    """Wait until a running training prints the log line of `step` or a later one (it is then in
    its training loop); stdout_lines: its stdout from lines_read_while_running."""
    return stdout_lines.wait_for(lambda line: LOG_LINE.match(line) and int(LOG_LINE.match(line).group(1)) >= step,
                                 timeout)


# ---------------------------------------------------------------------------------------------
# DNG files


BLACK = (60, 64, 72, 68)  # per 2x2 position: top-left, top-right, bottom-left, bottom-right
WHITE = 4156


def write_dng(path, mosaic, cfa="RGGB", black=BLACK, white=WHITE, **tags):
    """A real DNG, written by isp/dng.py (the writer make_demo_data.py uses) with these tests' black
    and white levels; `tags`: dng.write_dng's other keywords (photometric, repeat, planes)."""
    return dng.write_dng(path, mosaic, cfa, black, white, **tags)


def sensor_mosaic(truth, cfa, black=BLACK, white=WHITE, seed=0):
    """The mosaic a sensor with `cfa` records for an RGGB-aligned 10-bit `truth`: the truth sits
    one row/column in where R is not top-left; each site gets its position's black level plus the
    value scaled to white; the extra row/column is noise."""
    dy, dx = divmod(cfa.index("R"), 2)
    h, w = truth.shape
    raw = np.random.RandomState(seed).randint(0, white, (h + 2, w + 2)).astype(np.float64)
    ys, xs = np.mgrid[0:h + 2, 0:w + 2]
    blacks = np.array(black, np.float64).reshape(2, 2)[ys % 2, xs % 2]
    inner = truth * (white - blacks[dy:dy + h, dx:dx + w]) / 1023.0 + blacks[dy:dy + h, dx:dx + w]
    raw[dy:dy + h, dx:dx + w] = np.round(inner)
    return raw[:h + dy, :w + dx].astype(np.uint16)


@pytest.fixture(scope="module")
def truth():
    return np.random.RandomState(7).randint(0, 1024, (64, 96)).astype(np.uint16)


# ---------------------------------------------------------------------------------------------
# the frozen graph and TFLite models of the short training run


@pytest.fixture(scope="session")
def tested(trained, demo_data, tmp_path_factory):
    """test_model.py on the trained checkpoint at the test RAW's full size (192x128)."""
    model_dir, _ = trained
    result_dir = str(tmp_path_factory.mktemp("results"))
    proc = run_script("test_model.py", "dataset_dir=" + demo_data, "model_dir=" + model_dir,
                      "result_dir=" + result_dir, "img_h=128", "img_w=192", "runs=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return model_dir, result_dir, proc


@pytest.fixture(scope="session")
def graph64(trained, tmp_path_factory):
    """The 4-iteration arch=model checkpoint frozen for 64x64 photos (the demo validation size)."""
    src, _ = trained
    model_dir = str(tmp_path_factory.mktemp("tfl") / "models")
    shutil.copytree(src, model_dir)
    proc = run_script("test_model.py", "model_dir=" + model_dir, "restore_iter=4", "img_h=64", "img_w=64",
                      "test_image=False", "runs=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return os.path.join(model_dir, "model_iteration_4_64x64.pb")


@pytest.fixture(scope="session")
def converted(graph64, demo_data):
    """FP32 (through the baseline's pb2tflite.sh command line), FP16 and, on TF 2.x, INT8."""
    out = {}
    stem = graph64[:-3]
    proc = run_script("pb2tflite.sh", graph64, stem + ".tflite", "1,32,32,4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out["fp32"] = stem + ".tflite"
    proc = run_script("convert_tflite.py", "pb=" + graph64, "precision=fp16")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out["fp16"] = stem + "_fp16.tflite"
    if tf_major() >= 2:
        proc = run_script("pb2tflite.sh", graph64, stem + "_int8.tflite", "precision=int8",
                          "dataset_dir=" + demo_data, "calib_size=8")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "uint8 input/output, calibrated on 8 training RAW inputs" in proc.stdout
        out["int8"] = stem + "_int8.tflite"
    for path in out.values():
        assert os.path.getsize(path) > 0
    return out


@pytest.fixture(scope="session")
def none_tflite(tested):
    """pb2tflite.sh on test_model.py's <checkpoint>_none.pb: an FP32 .tflite of any input size,
    converted by TF 2.x (this stack's Python, or on TF 1.15 the other stack's: TF 1.15's converter
    cannot keep an any-size input)."""
    model_dir, _, _ = tested
    pb = os.path.join(model_dir, "model_iteration_4_none.pb")
    out = pb[:-3] + ".tflite"
    proc = run_script("pb2tflite.sh", pb, out, python=tf2_python())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "FP32, input 1xNonexNonex4 (any size)" in proc.stdout, proc.stdout
    return out
