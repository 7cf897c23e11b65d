"""isp/pool_loader.py and the pool loading of isp/load_dataset.py: the same patches whatever the number of
decoding threads; the next pool built in a background thread and swapped in; an error there raised
in the caller's thread; the thread stopped and joined on every way out of the with-block."""
import os
import shutil
import threading

import numpy as np
import pytest
from conftest import RAW_SUB, truncate_file

from isp import load_dataset
from isp.errors import UsageError
from isp import pool_loader
from isp.pool_loader import PoolLoader
from isp.thread_pool import Cancelled


def _loader_threads():
    return [t for t in threading.enumerate() if t.name.startswith(("pool-loader", "load-worker"))]


def _pool(data, seed, bad=None, workers=0, stop=None, train_size=8):
    return load_dataset.load_training_batch(data, "mediatek_raw/", "fujifilm/", train_size, 32, 32,
                                            np.random.RandomState(seed), bad, workers, stop, show_progress=False)


def test_decoding_threads_give_the_same_patches_as_one(demo_data, tmp_path):
    reference = _pool(demo_data, 3)
    assert reference[0].dtype == np.uint16 and reference[1].dtype == np.uint8  # never float copies
    for workers in (2, 5):
        raw, rgb = _pool(demo_data, 3, workers=workers)
        assert np.array_equal(raw, reference[0]) and np.array_equal(rgb, reference[1]), workers
    assert not np.array_equal(_pool(demo_data, 4)[0], reference[0])  # the stream decides the patches
    # a file that cannot be decoded: skipped (and named) alike, the other patches unchanged
    data = str(tmp_path / "data")
    shutil.copytree(demo_data, data)
    names = sorted(os.listdir(os.path.join(data, "train", RAW_SUB)))
    truncate_file(os.path.join(data, "train", RAW_SUB, names[0]))
    results = []
    for workers in (0, 3):
        bad = {}
        raw, rgb = _pool(data, 0, bad, workers, train_size=12)
        results.append((raw, rgb, bad))
        assert list(bad) == [names[0]] and "cannot read RAW PNG" in bad[names[0]] and len(raw) == 11
    assert np.array_equal(results[0][0], results[1][0]) and np.array_equal(results[0][1], results[1][1])
    with pytest.raises(UsageError, match="cannot read RAW PNG"):  # without a dict for bad files: the error
        _pool(data, 0, None, 3, train_size=12)
    assert not _loader_threads()


def test_a_set_stop_event_ends_loading_between_files(demo_data):
    stop = threading.Event()
    stop.set()
    for workers in (0, 3):
        with pytest.raises(Cancelled):
            _pool(demo_data, 0, {}, workers, stop)
    assert not _loader_threads()


def _recording_load(log):
    def load(iteration, args, stop, foreground):
        log.append((iteration, args, threading.current_thread().name, foreground))
        return "pool %d" % iteration
    return load


class _Clock:
    """A monotonic clock that moves only when told (the seconds a build takes), and that opens
    `gate` when take() first reads it: a build held at the gate is then seen to be waited for."""

    def __init__(self):
        self.now, self.gate = 100.0, threading.Event()

    def monotonic(self):
        self.gate.set()
        return self.now


def test_take_returns_the_seconds_it_waited_for_the_build_by_the_monotonic_clock(monkeypatch):
    clock, built = _Clock(), threading.Event()
    monkeypatch.setattr(pool_loader, "time", clock)

    def load(iteration, args, stop, foreground):
        if not foreground and iteration == 10:
            clock.gate.wait()  # still building when take() starts waiting
        clock.now += 2.5  # the seconds the build takes
        built.set()
        return "pool %d" % iteration

    for background in (True, False):
        with PoolLoader(load, background=background) as pools:
            pools.first(0)
            clock.gate.clear()
            pools.prefetch(10)
            assert pools.take(10) == 2.5  # waited for the whole build, by either way of loading
            built.clear()
            pools.prefetch(20)
            if background:
                built.wait()  # built before take() is called: nothing to wait for
                assert pools.take(20) == 0.0


def test_pools_are_built_in_the_background_and_swapped_in_by_take():
    log = []
    with PoolLoader(_recording_load(log)) as pools:
        assert pools.first(0, "a") == "pool 0" and pools.pool == "pool 0"
        pools.prefetch(10, "b")
        pools.take(10)
        assert pools.pool == "pool 10"
        pools.prefetch(20, "c")
    assert not _loader_threads()
    assert log[:2] == [(0, "a", "MainThread", True), (10, "b", "pool-loader-10", False)]
    # the last prefetch may or may not have started before the with-block closed it
    with pytest.raises(RuntimeError, match="not prefetched"):
        PoolLoader(_recording_load([])).take(5)


def test_synchronous_loading_builds_each_pool_in_take():
    log = []
    with PoolLoader(_recording_load(log), background=False) as pools:
        pools.first(0)
        pools.prefetch(10, "b")
        assert log == [(0, None, "MainThread", True)]  # nothing built yet
        pools.take(10)
        assert pools.pool == "pool 10"
    assert log == [(0, None, "MainThread", True), (10, "b", "MainThread", True)]


def test_an_error_in_the_background_is_raised_by_take_and_the_thread_prints_nothing(capfd):
    def load(iteration, args, stop, foreground):
        if iteration:
            raise UsageError("cannot read RAW PNG 'x.png'")
        return "pool 0"

    with PoolLoader(load) as pools:
        pools.first(0)
        pools.prefetch(10)
        with pytest.raises(UsageError, match="cannot read RAW PNG 'x.png'"):
            pools.take(10)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no traceback from the thread
    assert not _loader_threads()


def test_leaving_the_block_by_an_exception_stops_a_build_in_progress():
    started = threading.Event()

    def load(iteration, args, stop, foreground):
        if foreground:
            return "first"
        started.set()
        stop.wait()  # a long build: it ends only when asked to stop
        raise Cancelled()

    with pytest.raises(KeyError):
        with PoolLoader(load) as pools:
            pools.first(0)
            pools.prefetch(10)
            started.wait()
            assert _loader_threads()
            raise KeyError("an error in the training loop")
    assert not _loader_threads()  # stopped and joined by the with-block
