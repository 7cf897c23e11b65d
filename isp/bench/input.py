"""benchmark.py's input mode: the training loop's batches built in line and fed as float32 against
built by batches.Batches' producer thread while the step runs and fed
as the pools hold them (uint16/uint8, made float in the graph). For each: the host time to build
a batch alone, the bytes fed a step, the session run of a ready batch alone, and the loop's time a
step with the time it waited for its batch; so that the step time can be held against the sum and
the larger of host and run. Both loops train the first arch (loss 20*MSE + 20*(1-SSIM), no VGG)
on one random pool, interleaved round by round so that a slow moment of the machine hits both."""
import functools
import os
import platform
import statistics
import time

import numpy as np

from isp.batches import Batches, compact_input, draws, make_batch, turned
from isp.evaluate import interleaved, timed
from isp.load_dataset import RAW_SCALE, RGB_SCALE, to_float
from isp.losses import build_losses
from isp.patch_pools import Pool
from isp.progress import progress
from isp.tfimport import import_tf, tf_version

POOL = 512  # random patches in the benchmark's pool: the batch draws stay random accesses far beyond the caches
STEPS = 10  # training steps a loop runs in each round


class Loop:
    """One way of feeding the training step of `arch` with nmb base maps: compact (the producer,
    uint feed) or not (in line, float32 feed), each in a graph and session of its own."""

    def __init__(self, tf, arch, nmb, patch, compact):
        from isp import model  # builds on TensorFlow: imported after it
        p = patch
        self.compact = compact
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.set_random_seed(0)
            if compact:
                self.raw, phone = compact_input(tf, tf.uint16, [None, p // 2, p // 2, 4], RAW_SCALE, "raw_planes")
                self.rgb, target = compact_input(tf, tf.uint8, [None, p, p, 3], RGB_SCALE, "target_rgb")
            else:
                phone = self.raw = tf.placeholder(tf.float32, [None, p // 2, p // 2, 4])
                target = self.rgb = tf.placeholder(tf.float32, [None, p, p, 3])
            loss = build_losses(tf, model.build(arch, phone, nmb), target, None, p, p)["loss"]
            self.fetch = [loss, tf.train.AdamOptimizer(1e-4).minimize(loss)]
            self.sess = tf.Session(graph=self.graph)
            self.sess.run(tf.global_variables_initializer())
        self.times = {"host": [], "run": [], "step": [], "wait": []}

    def host(self, pool, rng, b):
        """One batch built in the calling thread, as this loop feeds it."""
        idx, k, flip = draws(rng, len(pool.raw), b, True, True)
        return make_batch(pool, idx, k, flip) if self.compact else to_float(*turned(pool, idx, k, flip))

    def run(self, batch):
        return self.sess.run(self.fetch, {self.raw: batch[0], self.rgb: batch[1]})

    def round(self, pool, rng, b, ready):
        """One timed round: median host ms of building STEPS batches, median of 3 session runs of
        the batch `ready`, the loop's time a step and its mean wait after the first step."""
        host = statistics.median(timed(lambda: self.host(pool, rng, b)) for _ in range(STEPS))
        run = statistics.median(timed(lambda: self.run(ready)) for _ in range(3))
        step, waits = self.loop(pool, rng, b)
        return {"host": host, "run": run, "step": step, "wait": statistics.mean(waits[1:])}

    def loop(self, pool, rng, b):
        """STEPS training steps as train_model.py runs them; the seconds a step and the seconds each
        step waited for its batch (in line: building it)."""
        waits = []
        t0 = time.perf_counter()
        if self.compact:
            with Batches(rng, b, slice(0, b), True, True) as batches:
                batches.follow(pool, 0, STEPS)
                for _ in range(STEPS):
                    batch, waited = batches.take()
                    waits.append(waited)
                    self.run(batch)
        else:
            for _ in range(STEPS):
                t1 = time.perf_counter()
                batch = self.host(pool, rng, b)
                waits.append(time.perf_counter() - t1)
                self.run(batch)
        return (time.perf_counter() - t0) / STEPS, waits


def random_pool(p, rng):
    return Pool(0, rng.randint(0, 1024, (POOL, p // 2, p // 2, 4)).astype(np.uint16),
                rng.randint(0, 256, (POOL, p, p, 3)).astype(np.uint8), {})


def input_pipeline(archs, batch_size, patch, runs):
    """Print the table of the two ways of feeding the first arch of archs [(arch, nmb)]: batches of
    batch_size patches of side `patch`, medians of `runs` interleaved rounds."""
    tf = import_tf()
    arch, nmb = archs[0]
    b, p = batch_size, patch
    rng = np.random.RandomState(0)
    pool = random_pool(p, rng)
    loops = {name: Loop(tf, arch, nmb, p, compact) for name, compact in
             progress([("inline", False), ("producer", True)], desc="building", unit="graph")}
    ready = {name: loop.host(pool, rng, b) for name, loop in loops.items()}
    fed = {name: sum(x.nbytes for x in batch) for name, batch in ready.items()}
    rounds = interleaved({name: functools.partial(loop.round, pool, rng, b, ready[name]) for name, loop in loops.items()},
                         progress(range(runs), desc="timing", unit="round"))
    for name, loop in loops.items():
        for one in rounds[name]:
            for k, seconds in one.items():
                loop.times[k].append(seconds)
    print("TensorFlow %s, Python %s, %s, %d CPUs; arch %s:%d, training batch %d of %dx%d patches from a pool of %d "
          "random ones; medians of %d interleaved rounds of %d steps; host: build a batch alone, run: the session run "
          "of a ready batch alone, wait: the loop's wait a step for its batch after the first (in line: building it)"
          % (tf_version(), platform.python_version(), platform.machine(), os.cpu_count(), arch, nmb, b, p, p, POOL,
             runs, STEPS))
    print("%-30s %8s %8s %8s %9s %9s %8s %8s" % ("pipeline", "host ms", "fed MB", "run ms", "host+run",
                                                 "max", "step ms", "wait ms"))
    labels = {"inline": "in line, float32 fed", "producer": "producer, uint16/uint8"}
    for name, loop in loops.items():
        med = {k: 1000 * statistics.median(v) for k, v in loop.times.items()}
        print("%-30s %8.1f %8.2f %8.1f %9.1f %9.1f %8.1f %8.2f" % (
            labels[name], med["host"], fed[name] / 1e6, med["run"], med["host"] + med["run"],
            max(med["host"], med["run"]), med["step"], med["wait"]))
    print("fed bytes producer / in line: %.3f" % (fed["producer"] / fed["inline"]))
