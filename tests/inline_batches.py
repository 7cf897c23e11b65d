"""The training loop's batches drawn in line, the plainest way: the reference that
tests/test_train_batches.py and tests/pool_harness.py (BATCH_REFERENCE=1) hold isp/batches.py to.
Each batch drawn in line from one stream seeded by the seed (a resumed run: [seed, start]),
rotated and flipped as a view of the patches drawn, converted by load_dataset.to_float and fed as
float32 into the network's float32 placeholders. The same interface as batches.Batches,
batches.batch_stream, batches.compact_input and train_model.feed."""
import numpy as np

from isp import load_dataset


class InlineBatches:
    """The batches drawn in line by the training loop itself, one at a time."""

    def __init__(self, rng, count, mine, augment, square):
        self.rng, self.count, self.mine, self.augment, self.square = rng, count, mine, augment, square
        self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def follow(self, pool, first, stop):
        self.pool = pool

    def take(self):
        rng = self.rng
        idx = rng.randint(0, len(self.pool.raw), self.count)
        raw, rgb = self.pool.raw[idx], self.pool.rgb[idx]
        if self.augment:
            k = rng.randint(4) if self.square else 2 * rng.randint(2)
            raw, rgb = np.rot90(raw, k, axes=(1, 2)), np.rot90(rgb, k, axes=(1, 2))
            if rng.randint(2):
                raw, rgb = raw[:, :, ::-1], rgb[:, :, ::-1]
        return (raw[self.mine], rgb[self.mine]), 0.0


def inline_stream(seed, start, pool_size, count, augment, square):
    return np.random.RandomState(seed if not start else [seed, start])


def float_input(tf, dtype, shape, scale, name):
    """float32 placeholders for the network's input and target, both made before the network: the call for
    the RAW input ("raw_planes") makes both, the one for the target returns the second."""
    if name == "raw_planes":
        phone = tf.placeholder(tf.float32, shape, name="Placeholder")
        tf.placeholder(tf.float32, [None, 2 * shape[1], 2 * shape[2], 3], name="target")
        return phone, phone
    target = tf.get_default_graph().get_tensor_by_name("target:0")
    return target, target


def float_feed(net, raw, rgb):
    x, y = load_dataset.to_float(raw, rgb)
    return {net.phone: x, net.target: y}
