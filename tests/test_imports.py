"""Importing a library module changes nothing in the process: not the environment, not the warning
filters, and TensorFlow is not imported (a script imports it, quietly, when its main() needs it)."""
import subprocess
import sys

from conftest import ROOT

CHECK = """
import os, sys, warnings
import numpy, PIL.Image, rawpy, scipy.io, tqdm  # what third-party packages do on import is theirs
env, filters = dict(os.environ), list(warnings.filters)
from isp import archs, args, checkpoints, errors, evaluate, load_dataset, losses, model, previews, progress, tfimport, tflite, utils
assert dict(os.environ) == env, "environment changed"
assert list(warnings.filters) == filters, "warning filters changed"
assert "tensorflow" not in sys.modules, "tensorflow imported"
print("untouched")
"""


def test_importing_library_modules_has_no_side_effects():
    proc = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "untouched", proc.stderr[-2000:]
