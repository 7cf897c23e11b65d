"""The training loop's batches as they were before batches.py: the reference that
tests/test_train_batches.py and tests/pool_harness.py (BATCH_REFERENCE=1) hold the new code to.
Each batch drawn in line from one stream seeded by the seed (a resumed run: [seed, start]),
rotated and flipped as a view of the patches drawn, converted by load_dataset.to_float and fed as
float32 into the network's float32 placeholders. The same interface as batches.Batches,
batches.batch_stream, batches.compact_inputs and train_model.feed."""
import numpy as np

import load_dataset


class TodaysBatches:
    """The batches as the training loop drew them in line before batches.py (its code, kept)."""

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


def todays_stream(seed, start, pool_size, count, augment, square):
    return np.random.RandomState(seed if not start else [seed, start])


def float_inputs(tf, patch_h, patch_w):
    """The network's input and target as float32 placeholders, as build_graph made them."""
    phone = tf.placeholder(tf.float32, [None, patch_h // 2, patch_w // 2, 4], name="Placeholder")
    target = tf.placeholder(tf.float32, [None, patch_h, patch_w, 3], name="target")
    return phone, target, phone, target


def float_feed(net, raw, rgb):
    x, y = load_dataset.to_float(raw, rgb)
    return {net.phone: x, net.target: y}
