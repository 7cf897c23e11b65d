"""After every conversion (convert_tflite.py, pb2tflite.sh, export_challenge.py): would the file run
wholly on the phone's accelerators? NNAPI's verdict (isp/nnapi.py: the NNAPI delegate at a feature
level) and the GPU delegate's (isp/gpu_delegate.py), each one line when it passes, a warning listing
the ops that fall back when it does not; with strict=True either failing is a one-line error and
the caller writes nothing."""
import sys

from isp import gpu_delegate
from isp import nnapi
from isp.errors import UsageError
from isp.tflite_ops import read_ops


def report_conversion(path, name, feature_level, strict, content=None):
    """Judge the file written at `path` (its temporary name; or the bytes `content` before they are
    written) for both delegates and print the verdicts; with strict, a UsageError for the first that
    fails. Returns (NNAPI verdict, GPU delegate verdict)."""
    # (verdict, check_nnapi.py's delegate=, the accelerator named in an error, in a warning, how it was
    # checked, what the passing line adds to the file's name); each file's ops are read once a check,
    # as a verdict marks the tensors its delegate folds
    checks = [
        (nnapi.check(ops=read_ops(path, content), feature_level=feature_level), "nnapi", "the phone's accelerator",
         "NNAPI (the phone's accelerator)", "at NNAPI feature level %d" % feature_level,
         " (feature level %d)" % feature_level),
        (gpu_delegate.check(ops=read_ops(path, content)), "gpu", "the phone's GPU",
         "the GPU delegate (the phone's GPU)", "under TFLite's GPU delegate", ""),
    ]
    if strict:
        for verdict, delegate, accelerator, _, how, _ in checks:
            if verdict.cpu:
                raise UsageError("%s would not run wholly on %s: %s %s (nothing written; python check_nnapi.py "
                                 "tflite=<file> delegate=%s lists why, or drop strict=True)" % (
                                     name, accelerator, verdict.summary(), how, delegate))
    for verdict, _, _, on, _, level in checks:
        if not verdict.cpu:
            print("%s check of %s%s: %s" % (verdict.delegate, name, level, verdict.summary()))
            continue
        lines = verdict.lines(name)
        sys.stdout.flush()
        sys.stderr.write("warning: %s would not run wholly on %s:\n%s\n" % (name, on, "\n".join(lines[1:])))
        sys.stderr.flush()
    return checks[0][0], checks[1][0]
