"""Importing TensorFlow's v1 graph API on either stack (TF 1.15 or TF 2.x), quietly, and the one
place that redirects the process's native stderr (file descriptor 2), which TensorFlow's and
TFLite's C++ write to. Only import_tf, called by a script's main() (or a test), changes the
environment, the warning filters and TensorFlow's logging; importing this module changes nothing."""
import contextlib
import os
import sys
import tempfile
import warnings

# What TF 2.x's C++ runtime prints to stderr when it loads, whatever our log settings: absl's
# notice that logging is not initialised and the CPU-feature / oneDNN notes (with their
# continuation line). import_tf drops these lines and passes every other one through.
TF_BANNER = ("All log messages before absl::InitializeLog() is called are written to STDERR",
             "oneDNN custom operations are on", "cpu_feature_guard.cc",
             "To enable the following instructions:", "rebuild TensorFlow with the appropriate compiler flags")


def is_tf_banner(line):
    return any(part in line for part in TF_BANNER)


@contextlib.contextmanager
def native_stderr_filtered(drop):
    """Send the process's stderr (file descriptor 2, where C++ libraries write) to a temporary file
    for the block, then copy back to stderr every line for which drop(line) is false. Yields a list
    that holds the dropped lines once the block has ended (also when it raised)."""
    dropped = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError):  # no stderr to filter (descriptor 2 closed: sys.stderr is None)
        yield dropped
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield dropped
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = []
            for line in capture.read().decode("utf-8", "replace").splitlines(True):
                (dropped if drop(line) else kept).append(line)
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
        with native_stderr_filtered(is_tf_banner):
            import tensorflow.compat.v1  # noqa: F401
    import tensorflow.compat.v1 as tf
    # TensorFlow's logger below errors: also silences the "Instructions for updating" notices of
    # the v1 shims, which it logs as warnings
    tf.logging.set_verbosity(tf.logging.ERROR)
    tf.disable_v2_behavior()
    return tf


def tf_version():
    import tensorflow
    return tensorflow.__version__


def tf_major():
    """TensorFlow's major version (1 or 2)."""
    return int(tf_version().split(".")[0])
