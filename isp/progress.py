"""Progress on stderr: a tqdm bar in a terminal, plain lines where stderr is a file or a pipe."""
import sys
import time

from tqdm import tqdm


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
    return TerminalBar(iterable, file=sys.stderr, **kwargs)


class TerminalBar(tqdm):
    """tqdm whose `delay` also holds for the lines written through it. tqdm.write redraws every bar
    after its line, shown or not; close() then takes a bar that no update drew for one never shown
    and leaves it unfinished: a short run's last log line was followed by a 0% bar, and whatever
    came next was printed onto that bar's line."""

    drawn = False

    def refresh(self, nolock=False, lock_args=None):
        start = getattr(self, "start_t", None)  # unset at tqdm's first draw (delay=0), in __init__
        if start is not None and self._time() < start + self.delay:
            return False
        shown = super().refresh(nolock, lock_args)
        self.drawn = self.drawn or bool(shown)
        return shown

    def clear(self, nolock=False):
        if self.drawn:  # nothing to wipe otherwise
            super().clear(nolock)

    def close(self):
        if self.drawn and self.last_print_t < self.start_t + self.delay:
            self.last_print_t = self.start_t + self.delay  # drawn only after a write: still end its line
        super().close()


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
        self.t0 = self.last = time.monotonic()
        self.closed = False
        self.shown = initial  # the count the last line showed

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update()

    def update(self, k=1):
        self.n += k
        now = time.monotonic()
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
                                                    time.monotonic() - self.t0, ", " + self.postfix if self.postfix else ""))
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
