"""One training run per model_dir: an exclusive lock that the operating system holds for the run.

The lock is fcntl.flock on <model_dir>/train.lock, held (through an open file) for the life of the
process. The kernel drops it when the process ends in any way (kill -9 too), so a lock is never
left stale; the file itself stays, holding the pid and command line of the last run that took it,
which is what a second run's error names.

`hold` is called twice: right after the arguments are parsed, before the model_dir's checkpoints
are read (a run in progress changes them while they are read), where it only takes the lock if
the file exists (it writes nothing, so a run that then fails on its input leaves model_dir as it
was), and before the run's first write, where it creates the file, takes the lock if it does not
hold it yet and writes its pid into it.
"""
import fcntl
import os
import sys

from isp.errors import UsageError, first_line

LOCK_NAME = "train.lock"
_held = {}  # lock file path -> open descriptor holding the lock (never closed: the process holds it)


def lock_path(model_dir):
    return os.path.join(model_dir, LOCK_NAME)


def hold(model_dir, create=False):
    """Take <model_dir>/train.lock (or keep holding it); UsageError naming the process that holds
    it. Without `create`, a missing file (or folder) is left missing and nothing is locked yet."""
    path = os.path.abspath(lock_path(model_dir))
    if path not in _held:
        if not create and not os.path.exists(path):
            return False
        fd = os.open(path, os.O_RDWR | os.O_CREAT if create else os.O_RDONLY, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process holds it
            holder = _read(fd)
            os.close(fd)
            raise UsageError("model_dir %r is in use by another training run (%s); wait for it to end or stop "
                             "it, or train into another model_dir" % (model_dir, holder))
        except OSError as err:  # the file system cannot lock (e.g. ENOLCK on some NFS mounts)
            os.close(fd)
            raise UsageError("cannot lock %s (%s), which keeps two training runs out of one model_dir; train "
                             "into a model_dir on a local disk" % (path, os.strerror(err.errno) if err.errno
                                                                   else first_line(err)))
        _held[path] = fd
    if create:
        _write_pid(path)
    return True


def _read(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "pid not written yet: it is starting"


def _write_pid(path):
    """The holder's pid and command line, written in place (a reader that finds it empty says so)."""
    with open(path, "w") as f:  # another descriptor: closing it keeps the flock of _held[path]
        f.write("pid %d: %s\n" % (os.getpid(), " ".join([os.path.basename(sys.executable)] + sys.argv)))
