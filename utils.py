"""Shared helpers: strict key=value argument parsing, one-line errors, the TF import, folders and
atomic files, progress bars.

Every script declares its arguments once, as a table of `Arg(name, type, default, help)`, and
calls `parse_args(TABLE, argv)`. Bad input raises `UsageError`; `run_main` turns that into one
line on stderr and exit code 2 (no traceback), so every script fails the same way.
"""
import contextlib
import difflib
import math
import os
import signal
import sys
import tempfile
import time
import warnings
from collections import namedtuple

from tqdm import tqdm

Arg = namedtuple("Arg", "name type default help")

TRUE_WORDS = ("true", "1", "yes", "y")
FALSE_WORDS = ("false", "0", "no", "n")


# The architectures model.py builds, and the multiple that the full-resolution size must be for
# each: PUNET pools 4 times on the half-resolution input (2 * 2**4); the compact model only needs
# the 2x2 Bayer grid. Kept here so that arguments are checked before TensorFlow is imported.
ARCHS = ("punet", "model")
SIZE_MULTIPLE = {"punet": 32, "model": 2}
# The seed's export size (img_h x img_w, input 1x544x960x4). Frozen graphs and TFLite files of any
# other size carry it in their names: <stem>_<img_h>x<img_w> (a dynamic-size export: <stem>_none).
DEFAULT_SIZE = (1088, 1920)


def size_tag(h, w):
    """'' for the default size, else '_<h>x<w>' (e.g. '_512x768'): the suffix export names carry."""
    return "" if (h, w) == DEFAULT_SIZE else "_%dx%d" % (h, w)


def size_or_full(text):
    """A positive integer, or the word full (each image at its own size)."""
    if text.strip().lower() == "full":
        return "full"
    return positive_int(text)


class UsageError(Exception):
    """A problem with the user's input: reported as one line, exit code 2."""


class RunFailure(Exception):
    """A run that went wrong on good input (e.g. training diverged): one line, exit code 1."""


class Interrupted(Exception):
    """A run stopped by SIGINT/SIGTERM after saving its work: one line (how to resume), exit code
    128 + the signal's number (130 for SIGINT, 143 for SIGTERM, as a shell reports a killed job)."""

    def __init__(self, message, signum):
        super().__init__(message)
        self.code = 128 + signum


class SignalStop:
    """A block during which the first SIGINT or SIGTERM only sets `signum` (the caller finishes what
    it is doing, saves and raises Interrupted); a second one ends the process at once, by the
    signal's default action. The previous handlers are back after the block."""
    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.signum = None
        self.previous = {s: signal.signal(s, self._first) for s in self.SIGNALS}
        return self

    def _first(self, signum, frame):
        self.signum = signum
        for s in self.SIGNALS:
            signal.signal(s, signal.SIG_DFL)
        sys.stderr.write("\n%s: finishing the current step, then saving (send it again to stop at once, "
                         "without saving)\n" % signal_name(signum))
        sys.stderr.flush()

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def signal_name(signum):
    return {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}.get(signum, "signal %d" % signum)


def to_bool(text):
    low = text.strip().lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    raise ValueError("expected True or False")


def optional_int(text):
    """An integer, or None (the words None / none / empty)."""
    if text.strip().lower() in ("none", ""):
        return None
    return int(text)


def optional_int_or_latest(text):
    """An integer, None, or the word latest (resolved by the script to its newest checkpoint)."""
    if text.strip().lower() == "latest":
        return "latest"
    return optional_int(text)


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def positive_float(text):
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("must be a positive finite number")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise ValueError("must be an integer >= 0")
    return value


def non_negative_float(text):
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError("must be a finite number >= 0")
    return value


class IntList(tuple):
    """Integers as given on the command line (e.g. seed=0,1,2); str() gives them back as typed."""

    def __str__(self):
        return ",".join(map(str, self))


def distinct_ints(text):
    """One integer or several, comma-separated and each once: 0 or 0,1,2."""
    try:
        values = [int(w) for w in text.split(",")]
    except ValueError:
        raise ValueError("not a list of integers")
    if len(set(values)) < len(values):
        raise ValueError("each value once")
    return IntList(values)


TYPE_NAMES = {str: "text", int: "integer", float: "number", to_bool: "True/False", size_or_full: "positive integer or full",
              optional_int: "integer or None", optional_int_or_latest: "integer, None or latest",
              positive_int: "positive integer", non_negative_int: "integer >= 0",
              positive_float: "positive number", non_negative_float: "number >= 0",
              distinct_ints: "an integer or several, comma-separated (e.g. 0,1,2)"}


def format_help(prog, table, doc=""):
    lines = []
    if doc:
        lines.append(doc.strip())
        lines.append("")
    lines.append("usage: python %s key=value ..." % prog)
    lines.append("")
    width = max(len(a.name) for a in table) + 2
    for a in table:
        lines.append("  %-*s default %-40s %s" % (width, a.name, "=" + str(a.default), a.help))
    lines.append("  %-*s %s" % (width, "help", "print this list and exit (also --help)"))
    return "\n".join(lines)


def parse_args(table, argv, prog=None, doc=""):
    """Parse `key=value` words against a table of Arg; return a dict with every key.

    Unknown keys, repeated keys, words without '=' and malformed values raise UsageError.
    `help=True`, `--help` or `-h` print the table and exit 0.
    """
    prog = prog or os.path.basename(sys.argv[0])
    known = {a.name: a for a in table}
    values = {a.name: a.default for a in table}
    seen = set()
    for word in argv:
        if word in ("--help", "-h"):
            print(format_help(prog, table, doc))
            sys.exit(0)
        if "=" not in word:
            raise UsageError("argument %r is not of the form key=value (try help=True)" % word)
        key, text = word.split("=", 1)
        key = key.strip()
        if key == "help":
            try:
                wants = to_bool(text)
            except ValueError:
                raise UsageError("bad value %r for 'help': expected True or False" % text)
            if wants:
                print(format_help(prog, table, doc))
                sys.exit(0)
            continue
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = "; did you mean %r?" % close[0] if close else "; see help=True for the keys"
            raise UsageError("unknown argument %r%s" % (key, hint))
        if key in seen:
            raise UsageError("argument %r given twice" % key)
        seen.add(key)
        arg = known[key]
        try:
            values[key] = arg.type(text)
        except ValueError as err:
            detail = str(err) if arg.type not in (int, float, optional_int) else ""
            raise UsageError("bad value %r for %r: expected %s%s" % (
                text, key, TYPE_NAMES.get(arg.type, "a valid value"),
                " (" + detail + ")" if detail and "invalid literal" not in detail else ""))
    return values


def given_keys(argv):
    """The keys a command line sets explicitly (to tell a default from a value the user chose)."""
    return {word.split("=", 1)[0].strip() for word in argv if "=" in word}


def run_main(main_fn, argv=None):
    """Call main_fn(argv); a UsageError becomes one line on stderr and exit code 2, a RunFailure
    one line and exit code 1, an Interrupted one line and its code (no traceback for any)."""
    prog = os.path.basename(sys.argv[0])
    try:
        main_fn(sys.argv[1:] if argv is None else argv)
    except UsageError as err:
        sys.stderr.write("%s: error: %s\n" % (prog, err))
        sys.exit(2)
    except RunFailure as err:
        sys.stderr.write("%s: error: %s\n" % (prog, err))
        sys.exit(1)
    except Interrupted as err:
        sys.stderr.write("%s: %s\n" % (prog, err))
        sys.exit(err.code)
    except KeyboardInterrupt:
        sys.stderr.write("%s: interrupted\n" % prog)
        sys.exit(130)


# What TF 2.x's C++ runtime prints to stderr when it loads, whatever our log settings: absl's
# notice that logging is not initialised and the CPU-feature / oneDNN notes (with their
# continuation line). import_tf drops these lines and passes every other one through.
TF_BANNER = ("All log messages before absl::InitializeLog() is called are written to STDERR",
             "oneDNN custom operations are on", "cpu_feature_guard.cc",
             "To enable the following instructions:", "rebuild TensorFlow with the appropriate compiler flags")


def _is_tf_banner(line):
    return any(part in line for part in TF_BANNER)


@contextlib.contextmanager
def _tf_banner_filtered():
    """Send the process's stderr (file descriptor 2) to a temporary file for the block, then copy
    it back to stderr without TensorFlow's banner lines."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError):  # no stderr to filter (descriptor 2 closed: sys.stderr is None)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode("utf-8", "replace").splitlines(True)
                    if not _is_tf_banner(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def import_tf(use_gpu=True):
    """Import TensorFlow's v1 graph API on either stack (TF 1.15 or TF 2.x), quietly: C++ logs
    below errors off, Python warnings and deprecation notices off, the load banner filtered."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not use_gpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    if "tensorflow" not in sys.modules:
        with _tf_banner_filtered():
            import tensorflow.compat.v1  # noqa: F401
    import tensorflow.compat.v1 as tf
    try:  # silence "Instructions for updating" notices printed by the v1 shims
        from tensorflow.python.util import deprecation
        deprecation._PRINT_DEPRECATION_WARNINGS = False
    except ImportError:
        pass
    tf.disable_v2_behavior()
    tf.logging.set_verbosity(tf.logging.ERROR)
    return tf


def tf_version():
    import tensorflow
    return tensorflow.__version__


def tf_major():
    """TensorFlow's major version (1 or 2)."""
    return int(tf_version().split(".")[0])


def check_writable_dir(path, what):
    """UsageError unless `path` is a writable folder or could be created as one. Creates nothing.

    Writability is probed by creating a file (os.access says yes to root on a read-only mount).
    """
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise UsageError("cannot create %s %r: %r is not a folder" % (what, path, probe))
    try:
        fd, name = tempfile.mkstemp(prefix=".write-test-", dir=probe)
        os.close(fd)
        os.remove(name)
    except OSError as err:
        raise UsageError("%s %r is not writable (%s); choose another folder" % (
            what, path, err.strerror or err))


def ensure_dirs(*pairs):
    """Check every (path, what) folder first, then create them all: an error creates none."""
    for path, what in pairs:
        check_writable_dir(path, what)
    for path, what in pairs:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as err:
            raise UsageError("cannot create %s %r: %s" % (what, path, err.strerror or err))


def ensure_dir(path, what):
    """Create a folder (and parents) or raise UsageError naming what it is for."""
    ensure_dirs((path, what))


@contextlib.contextmanager
def atomic_output(path, suffix=".tmp"):
    """Yield a temporary name beside `path`; it replaces `path` only when the block succeeds.

    A crash or error never leaves `path` half-written, and a failed write leaves no temporary
    file. `suffix` keeps the extension for writers that choose the format by it (PIL, matplotlib).
    """
    tmp = path + suffix
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path, text, mode="w"):
    """Write (or append to) a text file so that a crash never leaves it half-written."""
    old = ""
    if mode == "a" and os.path.exists(path):
        with open(path) as f:
            old = f.read()
    with atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            f.write(old + text)
            f.flush()
            os.fsync(f.fileno())


def progress(iterable=None, **kwargs):
    """A progress display on stderr: a tqdm bar in a terminal; where stderr is a file or a pipe
    (nohup, CI logs) plain lines instead, at most one every PLAIN_EVERY seconds and one at the end
    (a redrawn bar would leave carriage returns and frozen bars in the file)."""
    if kwargs.get("disable"):
        kwargs.setdefault("file", sys.stderr)
        return tqdm(iterable, **kwargs)
    if not sys.stderr.isatty():
        return PlainProgress(iterable, **kwargs)
    kwargs.setdefault("mininterval", 0.2)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("delay", 1.0)  # quick steps draw no bar at all
    return tqdm(iterable, file=sys.stderr, **kwargs)


PLAIN_EVERY = 30.0  # seconds between plain progress lines


class PlainProgress:
    """tqdm's interface (iterate, update, set_postfix, write, close) as plain lines:
    'training model: 200/600 it (33%), 41.0 s, loss=0.1234'."""

    def __init__(self, iterable=None, desc="", total=None, unit="it", initial=0, mininterval=None, leave=True,
                 **_ignored):
        self.iterable, self.desc, self.unit = iterable, desc, unit
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.n = self.start = initial
        self.every = PLAIN_EVERY if mininterval is None else mininterval
        self.leave = leave
        self.postfix = ""
        self.t0 = self.last = time.time()
        self.closed = False
        self.shown = initial  # the count the last line showed

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update()

    def update(self, k=1):
        self.n += k
        now = time.time()
        if now - self.last >= self.every:
            self.last = now
            self._line()

    def set_postfix(self, refresh=True, **values):
        self.postfix = ", ".join("%s=%s" % kv for kv in values.items())

    def _line(self):
        self.shown = self.n
        done = "%d/%d" % (self.n, self.total) if self.total else "%d" % self.n
        pct = " (%d%%)" % (100 * self.n // self.total) if self.total else ""
        sys.stderr.write("%s: %s %s%s, %.1f s%s\n" % (self.desc or "progress", done, self.unit, pct,
                                                    time.time() - self.t0, ", " + self.postfix if self.postfix else ""))
        sys.stderr.flush()

    @staticmethod
    def write(text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def close(self):
        if not self.closed and self.leave and self.n > self.shown:  # no second line for the same count
            self._line()
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_arch_and_size(arch, name_w, w, name_h, h, num_maps_base=16):
    """UsageError unless arch is known, num_maps_base fits it and w, h are multiples of what it needs."""
    if arch not in ARCHS:
        raise UsageError("unknown arch %r; choose from %s" % (arch, ", ".join(ARCHS)))
    if arch == "model" and num_maps_base % 2:
        raise UsageError("num_maps_base=%d: arch=model needs an even number" % num_maps_base)
    if arch == "punet" and num_maps_base < 4:
        raise UsageError("num_maps_base=%d: arch=punet needs at least 4" % num_maps_base)
    m = SIZE_MULTIPLE[arch]
    for name, v in ((name_w, w), (name_h, h)):
        if v % m:
            raise UsageError("%s=%d is not a multiple of %d, which arch=%s needs (try %d)"
                             % (name, v, m, arch, max(m, v // m * m)))
