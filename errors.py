"""The three ways a run ends badly, and how every script reports them: `run_main` turns a
UsageError (bad input), a RunFailure (good input, failed run) or an Interrupted (a signal, work
saved) into one line on stderr and its exit code (2, 1, 128 + the signal), no traceback.
`SignalStop` lets a run finish its step and save when SIGINT or SIGTERM arrives."""
import os
import signal
import sys


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
