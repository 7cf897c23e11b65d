"""Test harness: runs train_model.py's main() unchanged, except that the patch pool is re-drawn
every POOL_EVERY iterations instead of every 1000, and that POOL_DUMP (a file) gets one JSON line
per pool built (the iteration it is for, a digest of its patches, how many, which thread built it)
and, when the process ends in any way but a kill, one line listing the loader's and the batch
producer's threads still alive (names starting pool-loader, load-worker or batch-producer) and one
with a digest of every batch the training loop took, in order.

BATCH_REFERENCE=1 swaps in the in-line reference of tests/inline_batches.py (for the batch order
and the losses): each batch drawn in line, from one stream seeded by the seed (a
resumed run: [seed, start]), rotated and flipped as a view, converted by load_dataset.to_float and
fed as float32 into float32 placeholders, the validation set too.

Used by tests/test_train_pools.py and tests/test_train_batches.py."""
import hashlib
import json
import os
import sys
import threading

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from isp import patch_pools  # noqa: E402
import train_model  # noqa: E402
from isp.errors import run_main  # noqa: E402
from inline_batches import InlineBatches, float_feed, float_input, inline_stream  # noqa: E402

patch_pools.RELOAD_EVERY = int(os.environ.get("POOL_EVERY", patch_pools.RELOAD_EVERY))
DUMP = os.environ["POOL_DUMP"]
_call = train_model.PoolDraws.__call__
_lock = threading.Lock()
_taken = []  # a digest of each batch the training loop took


def _write(record):
    with _lock, open(DUMP, "a") as f:
        f.write(json.dumps(record) + "\n")


def _recorded(self, iteration, known, stop, foreground):
    pool = _call(self, iteration, known, stop, foreground)
    digest = hashlib.sha1(pool.raw.tobytes() + pool.rgb.tobytes()).hexdigest()
    _write({"pool": iteration, "sha": digest, "n": len(pool.raw), "thread": threading.current_thread().name,
            "foreground": foreground, "new_bad": sorted(pool.new_bad)})
    return pool


def _recording(take):
    def recorded(self):
        (raw, rgb), waited = take(self)
        _taken.append(hashlib.sha1(np.ascontiguousarray(raw).tobytes() + np.ascontiguousarray(rgb).tobytes())
                      .hexdigest())
        return (raw, rgb), waited
    return recorded


train_model.PoolDraws.__call__ = _recorded
if os.environ.get("BATCH_REFERENCE") == "1":
    train_model.Batches, train_model.batch_stream = InlineBatches, inline_stream
    train_model.compact_input, train_model.feed = float_input, float_feed
train_model.Batches.take = _recording(train_model.Batches.take)

if __name__ == "__main__":
    try:
        run_main(train_model.main)
    finally:
        _write({"threads_at_exit": [t.name for t in threading.enumerate()
                                    if t.name.startswith(("pool-loader", "load-worker", "batch-producer"))]})
        _write({"batches": _taken})
