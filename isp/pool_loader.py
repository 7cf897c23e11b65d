"""The training patch pool, re-drawn while training goes on (docs/training.md, "Data loading").

train_model.py holds `train_size` patches in memory and re-draws them every
patch_pools.RELOAD_EVERY iterations. Each pool is a pure function of what it is asked for
(patch_pools.PoolDraws: the seed and the iteration at which the pool becomes active), so the next
one can be built before it is needed: PoolLoader builds it in a background thread while the current
one trains, and swaps it in when the training loop asks for it. At most two pools are alive: the
active one and the one being built.

    with PoolLoader(load, background=True) as pools:
        pools.first(0, args)             # built here, in the calling thread
        pools.prefetch(1000, args)       # built in the background ...
        ... train on pools.pool ...
        waited = pools.take(1000)        # ... and swapped in (waiting only if it is not ready)

`load(iteration, args, stop, foreground)` builds one pool; it should end soon after the
threading.Event `stop` is set, by raising anything (thread_pool.Cancelled). An exception raised
while building in the background is kept and raised by `take`, in the calling thread: the thread
itself never prints anything. Leaving the `with` block (normal end, an exception, an interrupt)
sets `stop` and joins the thread; the thread is a daemon, so a killed process simply ends.
With background=False every pool is built inside `take` (synchronous loading: the reference).
"""
import threading
import time


class PoolLoader:
    def __init__(self, load, background=True):
        self.load = load
        self.background = background
        self.pool = None  # the active pool
        self._stop = threading.Event()
        self._asked = None  # (iteration, args) of the pool prefetch() was asked for
        self._thread = None
        self._built = None
        self._error = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def first(self, iteration, args=None):
        """Build the pool for `iteration` here and make it the active one."""
        self.pool = None
        self.pool = self.load(iteration, args, self._stop, True)
        return self.pool

    def prefetch(self, iteration, args=None):
        """Start building the pool for `iteration` (in the background, or, with background=False,
        later, in take)."""
        if self._asked is not None:
            raise RuntimeError("pool %d is still being prepared" % self._asked[0])
        self._asked = (iteration, args)
        if self.background:
            self._built = self._error = None
            self._thread = threading.Thread(target=self._build, args=(iteration, args),
                                            name="pool-loader-%d" % iteration, daemon=True)
            self._thread.start()

    def _build(self, iteration, args):
        try:
            self._built = self.load(iteration, args, self._stop, False)
        except BaseException as err:  # raised by take(), in the training loop's thread
            self._error = err

    def take(self, iteration):
        """Make the pool for `iteration` (the one prefetched) the active one, waiting for it as
        long as needed; the seconds waited. Whatever building it raised is raised here."""
        if self._asked is None or self._asked[0] != iteration:
            raise RuntimeError("pool %d was not prefetched" % iteration)
        t0 = time.monotonic()
        self.pool = None  # the old pool goes first: with background=False only one is ever alive
        args = self._asked[1]
        self._asked = None
        if self._thread is None:
            self.pool = self.load(iteration, args, self._stop, True)
        else:
            self._thread.join()
            self._thread = None
            error, built = self._error, self._built
            self._error = self._built = None
            if error is not None:
                raise error
            self.pool = built
        return time.monotonic() - t0

    def close(self):
        """Stop a build in progress and wait for its thread to end. The active pool stays."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._built = self._error = self._asked = None
