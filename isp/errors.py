"""The three ways a run ends badly, and how every script reports them: `run_main` turns a
UsageError (bad input), a RunFailure (good input, failed run) or an Interrupted (a signal, work
saved) into one line on stderr and its exit code (2, 1, 128 + the signal), no traceback.
`SignalStop` lets a run finish its step and save when SIGINT or SIGTERM arrives.

A third-party module missing from the Python that runs a script (run outside the project's
environment) is one line naming the set-up command, exit code 2: inside main_fn through run_main,
and for a script's own top-level imports through a sys.excepthook (which is why every script
imports errors before any third-party module). The hook is installed only when the program being
run (`__main__`) is one of the project's scripts: a program of the user's own that imports a
library module keeps Python's hook, and its own tracebacks.
`python_command` prints a command the way it runs here: this interpreter, the script's path."""
import contextlib
import os
import shlex
import signal
import subprocess
import sys

from isp import ROOT as HERE  # noqa: E402  (the project folder: scripts, setup_env.sh, venvs)


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


@contextlib.contextmanager
def signals_passed_to(proc):
    """A block during which this process's SIGINT and SIGTERM are sent on to the child `proc` (started
    in a session of its own, so that a Ctrl-C reaches it once, through here); yields the list of
    the signals received."""
    received = []

    def forward(signum, frame):
        received.append(signum)
        if proc.poll() is None:
            proc.send_signal(signum)
    previous = {s: signal.signal(s, forward) for s in SignalStop.SIGNALS}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def child_with_signals(cmd, **how):
    """Start the child process `cmd` (Popen keywords `how`) in a session of its own, so that a
    Ctrl-C in the terminal reaches this process only, and pass on each SIGINT/SIGTERM this process
    gets to it, once (a training's first saves and stops it, a second stops it at once). Left to
    itself, a child whose parent was killed would run on unseen. Yields (proc, the list of the
    signals received); the block's end waits for the child (an error in the block first sends it
    SIGTERM)."""
    proc = subprocess.Popen(cmd, start_new_session=True, **how)
    with signals_passed_to(proc) as received:
        try:
            yield proc, received
        except BaseException:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            raise
        finally:
            proc.wait()


def signal_name(signum):
    return {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}.get(signum, "signal %d" % signum)


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
    except ImportError as err:
        line = missing_module_line(err)
        if line is None:
            raise
        sys.stderr.write("%s: error: %s\n" % (prog, line))
        sys.exit(2)


def first_line(err):
    """An exception's first line for a one-line message (its type's name when it says nothing)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def shown_path(path):
    """`path` as a command line shows it: relative to the working folder when it lies inside it
    (.venv/bin/python, train_model.py), else absolute."""
    path = os.path.abspath(path)
    rel = os.path.relpath(path, os.getcwd())
    return path if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def python_command(script, words=()):
    """The shell command that runs the project's `script` with `words` as they would run here:
    this interpreter (sys.executable: also outside an activated venv) and the script's path, both
    as seen from the working folder, every word shell-quoted."""
    python = shown_path(sys.executable) if sys.executable else "python3"
    if os.sep not in python:  # a bare name would be looked up on PATH, not in the working folder
        python = os.curdir + os.sep + python
    return " ".join(shlex.quote(w) for w in [python, shown_path(os.path.join(HERE, script))] + list(words))


def missing_module_line(err):
    """The one line for an ImportError of a third-party module (numpy, TensorFlow, ... not
    installed for this Python): what is missing and the set-up command of the stack that fits
    this Python's version; None for an ImportError of the project's own modules (a bug, shown
    with its traceback)."""
    top = (getattr(err, "name", None) or "").split(".")[0]
    if not top or os.path.exists(os.path.join(HERE, top + ".py")) or os.path.isdir(os.path.join(HERE, top)):
        return None
    stack, venv = ("tf1", ".venv-tf1") if sys.version_info[:2] == (3, 7) else ("tf2", ".venv")
    python = os.path.join(HERE, venv, "bin", "python")
    run = "run it with %s (%s by: bash %s %s)" % (
        shown_path(python), "set up" if os.path.isfile(python) else "to be set up",
        shown_path(os.path.join(HERE, "setup_env.sh")), stack)
    return "%s in this Python (%s); %s" % (first_line(err), sys.executable, run)


def _excepthook(kind, value, tb):
    """A script's top-level import of a missing third-party module: its one line, exit code 2."""
    line = missing_module_line(value) if issubclass(kind, ImportError) else None
    if line is None:
        sys.__excepthook__(kind, value, tb)
        return
    sys.stderr.write("%s: error: %s\n" % (os.path.basename(sys.argv[0]) if sys.argv else "python", line))
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(2)  # from inside the hook sys.exit would be reported as an error of the hook


def running_a_script():
    """Whether the program being run (`__main__`) is one of the project's scripts (a file in this
    folder), not a program of the user's own, an interactive session or a test runner."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return bool(main_file) and os.path.dirname(os.path.abspath(main_file)) == HERE


if running_a_script() and sys.excepthook is sys.__excepthook__:
    sys.excepthook = _excepthook
