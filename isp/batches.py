"""The batches train_model.py trains on (docs/training.md, "Batches"): built while the step before
runs, and fed as compact as the patch pools hold them.

Every step trains on `count` patches of the active patch pool (isp/patch_pools.py), drawn, rotated and
flipped (augment=True) by one random stream of the run, in iteration order: `draws` is that order
(the order the training loop has always drawn them in). A background thread (Batches) builds the batches of a
pool's iterations into a small bounded queue while the steps before them run, so the training loop
only takes them, and times how long it waited. A batch stays uint16 RAW planes and uint8 targets
(a third of the bytes of float32); the graph makes them float (`compact_input`).

    with Batches(rng, count, mine, augment, square) as batches:
        batches.follow(pool, first, stop)      # iterations first .. stop-1 train on `pool`
        (raw, rgb), waited = batches.take()    # one per iteration, in order
        ...
        batches.follow(next_pool, stop, ...)   # at the re-draw, once every batch of `pool` is taken

An exception raised while building is raised by `take`, in the calling thread. Leaving the `with`
block (normal end, an exception, an interrupt) stops the thread and joins it; it is a daemon, so a
killed process simply ends.
"""
import queue
import threading
import time

import numpy as np

DEPTH = 2  # batches built ahead: one to cover a slow build, one being taken


def draws(rng, pool_size, count, augment, square):
    """The random part of one batch: `count` patch indices into a pool of `pool_size`, the quarter
    turns k (0-3; 0 or 2 for non-square patches) and whether to flip, drawn from `rng` in the
    order the training loop always drew them (indices, turn, flip)."""
    idx = rng.randint(0, pool_size, count)
    if not augment:
        return idx, 0, False
    k = rng.randint(4) if square else 2 * rng.randint(2)
    return idx, k, bool(rng.randint(2))


def turned(pool, idx, k, flip):
    """The patches `idx` of a pool (its .raw planes and .rgb targets), turned k quarter turns and
    flipped left-right where asked: views of one copy of them."""
    raw = np.rot90(pool.raw[idx], k, axes=(1, 2))
    rgb = np.rot90(pool.rgb[idx], k, axes=(1, 2))
    if flip:
        raw, rgb = raw[:, :, ::-1], rgb[:, :, ::-1]
    return raw, rgb


def make_batch(pool, idx, k, flip):
    """turned()'s batch as contiguous arrays of the pool's dtypes (the copy a feed would make)."""
    raw, rgb = turned(pool, idx, k, flip)
    return np.ascontiguousarray(raw), np.ascontiguousarray(rgb)


def batch_stream(seed, start, pool_size, count, augment, square):
    """The run's random stream of batches as it stands at iteration `start`: RandomState(seed)
    after the draws of iterations 0 .. start-1, made again without building their batches (the pool
    of iteration i holding pool_size(i) patches). A resumed run so gets the batches that the
    uninterrupted run had from `start` on."""
    rng = np.random.RandomState(seed)
    for i in range(start):
        draws(rng, pool_size(i), count, augment, square)
    return rng


def compact_input(tf, dtype, shape, scale, name):
    """A placeholder `name` for batches as the pools hold them (`dtype`: tf.uint16 RAW planes,
    tf.uint8 targets) and its values divided by `scale` as float32, made in the graph:
    (placeholder, float tensor), load_dataset.to_float's values bit for bit. DivNoNan, because TF
    rewrites a plain division by a constant as a multiplication by its reciprocal, one ulp off for
    most values. Two ops, the placeholder and one function call: on TF 1.15 an op's random seed is
    the number of ops made before it, so a network built on the RAW input (with the target made after
    it) gets the initial weights it had on the two float32 placeholders before."""
    fed = tf.placeholder(dtype, shape, name=name)

    @tf.function
    def divided(x):
        return tf.math.divide_no_nan(tf.cast(x, tf.float32), np.float32(scale))
    with tf.name_scope(name + "_float"):
        return fed, divided(fed)


class Batches:
    """The batches of a run's iterations, in order, built by a background thread a pool at a time.
    `rng`: the run's batch stream (batch_stream); `count` patches are drawn a step (every Horovod
    rank draws the same global batch) and the slice `mine` of them is built; `augment`, `square`
    as draws takes them."""

    def __init__(self, rng, count, mine, augment, square, depth=DEPTH):
        self.rng, self.count, self.mine, self.augment, self.square = rng, count, mine, augment, square
        self.depth = depth
        self._stop = threading.Event()
        self._thread = None
        self._queue = None
        self._left = 0  # batches of the current pool not taken yet

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def follow(self, pool, first, stop):
        """Start building the batches of iterations first .. stop-1 from `pool`, once every batch
        of the pool before has been taken."""
        if self._left:
            raise RuntimeError("%d batches of the pool before were not taken" % self._left)
        self._join()
        self._queue = queue.Queue(self.depth)
        self._left = stop - first
        self._thread = threading.Thread(target=self._produce, args=(pool, stop - first, self._queue),
                                        name="batch-producer-%d" % first, daemon=True)
        self._thread.start()

    def build(self, pool):
        """The next batch of the stream from `pool`, built here."""
        idx, k, flip = draws(self.rng, len(pool.raw), self.count, self.augment, self.square)
        return make_batch(pool, idx[self.mine], k, flip)

    def _produce(self, pool, n, out):
        try:
            for _ in range(n):
                if self._stop.is_set():
                    return
                out.put(self.build(pool))  # blocks while the queue is full; close() empties it
        except BaseException as err:  # raised by take(), in the training loop's thread
            out.put(err)

    def take(self):
        """The next iteration's batch (raw planes, targets) and the seconds waited for it."""
        if not self._left:
            raise RuntimeError("no batch left: follow() the next pool first")
        t0 = time.perf_counter()
        while True:
            try:
                item = self._queue.get(timeout=1.0)
                break
            except queue.Empty:  # a thread that ended without its batches was stopped by close()
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError("the batch producer has stopped")
        waited = time.perf_counter() - t0
        if isinstance(item, BaseException):
            self._left = 0
            raise item
        self._left -= 1
        return item, waited

    def close(self):
        """Stop the thread (after the batch it is building) and wait for it to end."""
        self._stop.set()
        if self._queue is not None:
            while True:  # unblocks a put() waiting for room
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
        self._join()
        self._left = 0

    def _join(self):
        if self._thread is not None:
            self._thread.join()
            self._thread = None
