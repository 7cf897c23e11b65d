"""Folders and files: checking that a folder can be written before any work starts, creating
folders (all or none), atomic writes (a crash never leaves a half-written file) and folders put in
place in one step (replace_folder); `plural`, the one rule for counted words in messages."""
import contextlib
import ctypes
import errno
import os
import shutil
import tempfile

from isp.errors import UsageError


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


def _exchange(a, b):
    """Swap the names of folders a and b in one step (Linux's renameat2 with RENAME_EXCHANGE); False
    where the system or the file system has no such call."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_cwd, exchange = -100, 2
    if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), b)


def set_aside_path(dest):
    return dest.rstrip("/" + os.sep) + ".replaced"


def restore_set_aside(dest):
    """After a crash between replace_folder's two renames (systems without an exchange call):
    the old folder back at `dest`."""
    aside = set_aside_path(dest)
    if not os.path.exists(dest) and os.path.isdir(aside):
        os.rename(aside, dest)


def replace_folder(new, dest):
    """Put folder `new` at `dest` so that `dest` holds the old folder or the new one, never a mix:
    one exchange of names where the system has it (Linux), else two renames (a crash between them
    leaves the old folder at set_aside_path(dest), which restore_set_aside puts back). Returns where
    the old folder is now (to be deleted), or None if there was none. Both on one file system."""
    if not os.path.exists(dest):
        os.rename(new, dest)
        return None
    if _exchange(new, dest):
        return new
    aside = set_aside_path(dest)
    shutil.rmtree(aside, ignore_errors=True)  # left by a crash after the second rename: dest is whole
    os.rename(dest, aside)
    os.rename(new, dest)
    return aside


def plural(count, one, many=None):
    """"1 image", "2 images": `count` and the word that fits it (`many` defaults to one + "s")."""
    return "%d %s" % (count, one if count == 1 else (many or one + "s"))
