"""Folders and files: checking that a folder can be written before any work starts, creating
folders (all or none), and atomic writes (a crash never leaves a half-written file)."""
import contextlib
import os
import tempfile

from errors import UsageError


# The folder of the scripts and of the files the project ships (models/original/'s checkpoint): found
# from any working folder.
PROJECT_DIR = os.path.dirname(os.path.abspath(__file__))


def default_folder_note(path, key, given):
    """The line that names a default folder about to be made relative to the working folder (a
    script started elsewhere would otherwise leave a models/ or results/ there unnoticed); None
    when `key` was given or the folder exists."""
    if key in given or os.path.isdir(path):
        return None
    return "%s=%s (the default) is relative to the current folder: it will be made as %s; set %s= to choose" % (
        key, path, os.path.join(os.path.abspath(path), ""), key)


def print_if(line):
    """Print a line that may be None (nothing then)."""
    if line:
        print(line)


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
