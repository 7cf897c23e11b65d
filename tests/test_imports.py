"""Importing any library module (every module of the package isp/) changes nothing in the process: not the environment, not the warning
filters, and TensorFlow is not imported (a script imports it, quietly, when its main() needs it)."""
import subprocess
import sys

from conftest import ROOT

CHECK = """
import os, sys, warnings
import numpy, PIL.Image, rawpy, scipy.io, scipy.ndimage, tifffile, tqdm  # what third-party packages do on import is theirs
env, filters = dict(os.environ), list(warnings.filters)
import importlib, pkgutil, isp
modules = [m.name for m in pkgutil.walk_packages(isp.__path__, 'isp.')]
assert {'isp.utils', 'isp.model', 'isp.bench.speed'} <= set(modules), modules
for name in modules:
    importlib.import_module(name)
assert dict(os.environ) == env, "environment changed"
assert list(warnings.filters) == filters, "warning filters changed"
assert "tensorflow" not in sys.modules, "tensorflow imported"
print("untouched")
"""


def test_importing_library_modules_has_no_side_effects():
    proc = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "untouched", proc.stderr[-2000:]
