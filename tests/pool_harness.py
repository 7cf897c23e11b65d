"""Test harness: runs train_model.py's main() unchanged, except that the patch pool is re-drawn
every POOL_EVERY iterations instead of every 1000, and that POOL_DUMP (a file) gets one JSON line
per pool built (the iteration it is for, a digest of its patches, how many, which thread built it)
and, when the process ends in any way but a kill, one line listing the loader's threads still
alive (names starting pool-loader or load-worker). Used only by tests/test_train_pools.py."""
import hashlib
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import patch_pools  # noqa: E402
import train_model  # noqa: E402
from errors import run_main  # noqa: E402

patch_pools.RELOAD_EVERY = int(os.environ.get("POOL_EVERY", patch_pools.RELOAD_EVERY))
DUMP = os.environ["POOL_DUMP"]
_call = train_model.PoolDraws.__call__
_lock = threading.Lock()


def _write(record):
    with _lock, open(DUMP, "a") as f:
        f.write(json.dumps(record) + "\n")


def _recorded(self, iteration, known, stop, foreground):
    pool = _call(self, iteration, known, stop, foreground)
    digest = hashlib.sha1(pool.raw.tobytes() + pool.rgb.tobytes()).hexdigest()
    _write({"pool": iteration, "sha": digest, "n": len(pool.raw), "thread": threading.current_thread().name,
            "foreground": foreground, "new_bad": sorted(pool.new_bad)})
    return pool


train_model.PoolDraws.__call__ = _recorded

if __name__ == "__main__":
    try:
        run_main(train_model.main)
    finally:
        _write({"threads_at_exit": [t.name for t in threading.enumerate()
                                    if t.name.startswith(("pool-loader", "load-worker"))]})
