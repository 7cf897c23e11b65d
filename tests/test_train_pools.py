"""train_model.py's patch pool re-drawn in the background: the same pools and losses
as loading in the loop, a resumed run on the pools the uninterrupted one had, the loader stopped
when the loop ends in an error or by SIGTERM, a bad file met by the loader skipped or stopping the
run in one line. tests/pool_harness.py runs the script with the pool re-drawn every few iterations
instead of every 1000, and records each pool built (its iteration, a digest of its patches, the
thread that built it) and the loader's threads still alive when the process ends."""
import json
import os
import shutil
import signal

import pytest
from conftest import (
    RAW_SUB,
    RGB_SUB,
    SMALL,
    assert_usage_error,
    check_nothing_unreadable,
    copy_checkpoint,
    error_lines,
    kv_words,
    lines_read_while_running,
    log_lines,
    run_script,
    start_script,
    train_losses,
    truncate_file,
    wait_for_log_step,
)

from isp import load_dataset
from isp.checkpoints import existing_iterations
from isp.patch_pools import pool_rng
from isp.train_log import read_log_lines

POOL_HARNESS = "tests/pool_harness.py"


def _pool_env(dump, every):
    return {"POOL_EVERY": str(every), "POOL_DUMP": dump}


def _run_pooled(options, dump, every, cwd):
    return run_script(POOL_HARNESS, *kv_words(options), cwd=str(cwd), env=_pool_env(dump, every), unbuffered=True)


def _dumped(dump):
    """(the pools built, in order, as dicts; the loader threads alive at each exit)."""
    with open(dump) as f:
        records = [json.loads(line) for line in f]
    return [r for r in records if "pool" in r], [r["threads_at_exit"] for r in records if "threads_at_exit" in r]


@pytest.fixture(scope="module")
def pooled_runs(demo_data, tmp_path_factory):
    """The same seeded run to iteration 10, pools re-drawn every 3 iterations, loaded in the loop
    (load_workers=0) and in the background (load_workers=2): {workers: (model_dir, dump, process)}."""
    base = tmp_path_factory.mktemp("pooled")
    runs = {}
    for workers in (0, 2):
        model_dir, dump = str(base / ("m%d" % workers)), str(base / ("pools%d.jsonl" % workers))
        options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, train_size=6, num_train_iters=10,
                       eval_step=5, summary_step=1, seed=0, load_workers=workers)
        runs[workers] = (model_dir, dump, _run_pooled(options, dump, 3, base))
    return runs


def test_the_background_loader_gives_the_same_pools_and_losses_as_loading_in_the_loop(pooled_runs):
    for workers, (model_dir, dump, proc) in pooled_runs.items():
        assert proc.returncode == 0, proc.stderr[-2000:]
        pools, exits = _dumped(dump)
        assert [p["pool"] for p in pools] == [0, 3, 6, 9]  # re-drawn at every multiple of the period
        assert [p["n"] for p in pools] == [6] * 4
        built_by = [p["thread"] for p in pools]
        assert built_by == (["MainThread"] * 4 if workers == 0 else ["MainThread", "pool-loader-3", "pool-loader-6",
                                                                       "pool-loader-9"]), built_by
        assert exits == [[]]  # no loader thread outlives a normal end
        # the wait at each re-draw: in TensorBoard at the re-draw's iteration, and in the log lines
        assert [s for s, _ in train_losses(model_dir, "train/data_wait_s")] == [3, 6, 9]
        rows = read_log_lines(os.path.join(model_dir, "logs_model_0-10.txt"))
        assert [r["step"] for r in rows] == [5, 10] and all(r["data_wait_s"] is not None for r in rows)
    (_, dump0, _), (_, dump2, _) = pooled_runs[0], pooled_runs[2]
    assert [p["sha"] for p in _dumped(dump0)[0]] == [p["sha"] for p in _dumped(dump2)[0]]  # the same patches
    assert len(set(p["sha"] for p in _dumped(dump0)[0])) == 4  # and each pool its own
    losses0, losses2 = train_losses(pooled_runs[0][0]), train_losses(pooled_runs[2][0])
    assert [s for s, _ in losses0] == list(range(1, 11))
    assert losses0 == losses2  # bit-identical


def test_a_resumed_run_trains_on_the_pools_the_uninterrupted_run_had(pooled_runs, demo_data, tmp_path):
    src, dump, _ = pooled_runs[2]
    model_dir = str(tmp_path / "m")
    copy_checkpoint(src, model_dir, "model_iteration_5.ckpt", "model_iteration_5.ckpt")  # as if killed after 5
    resumed = str(tmp_path / "pools.jsonl")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, train_size=6, num_train_iters=10,
                   eval_step=5, seed=0, load_workers=2, restore_iter=5, tensorboard=False)
    proc = _run_pooled(options, resumed, 3, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pools, exits = _dumped(resumed)
    # from iteration 5 it trains on the pool of iteration 3 (the period counts from 0, not from the start)
    assert [p["pool"] for p in pools] == [3, 6, 9] and exits == [[]]
    uninterrupted = {p["pool"]: p["sha"] for p in _dumped(dump)[0]}
    assert [p["sha"] for p in pools] == [uninterrupted[p["pool"]] for p in pools]


def test_the_loader_stops_when_the_loop_ends_in_an_error_or_by_sigterm(demo_data, tmp_path):
    # an error inside the loop (a NaN at iteration 1) while the next pool is being built
    dump = str(tmp_path / "nan.jsonl")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=str(tmp_path / "nan"), num_train_iters=20, eval_step=1,
                   learning_rate=1e30, tensorboard=False, load_workers=2)
    proc = _run_pooled(options, dump, 2, tmp_path)
    assert proc.returncode == 1 and "became NaN/Inf at iteration 1;" in error_lines(proc)[0], proc.stderr
    assert len(error_lines(proc)) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert _dumped(dump)[1] == [[]]
    # SIGTERM with pools built in the background all the time: saved, stopped, no thread left
    model_dir, dump = str(tmp_path / "term"), str(tmp_path / "term.jsonl")
    proc = start_script(POOL_HARNESS, *kv_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=7,
                                                     seed=0, tensorboard=False, load_workers=2, num_train_iters=10 ** 6)),
                        cwd=str(tmp_path), env=_pool_env(dump, 2))
    with lines_read_while_running(proc.stdout, proc) as out, lines_read_while_running(proc.stderr, proc) as lines:
        wait_for_log_step(out, 7)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, "".join(lines)[-2000:]
    assert sum("stopped by SIGTERM after iteration" in l for l in lines) == 1, "".join(lines)
    assert "Traceback" not in "".join(lines)
    pools, exits = _dumped(dump)
    assert exits == [[]] and len(pools) >= 4 and [p["pool"] for p in pools] == list(range(0, 2 * len(pools), 2))
    check_nothing_unreadable(model_dir)


def _pool_names(demo_data, iteration, train_size):
    """The training files the pool of `iteration` draws (seed 0, no file known bad)."""
    names = load_dataset.paired_names(demo_data, "train", RAW_SUB, RGB_SUB)
    return load_dataset.draw_training_pool(names, train_size, pool_rng(0, iteration))[0]


def test_a_bad_file_met_by_the_background_loader_is_skipped_or_stops_the_run_in_one_line(demo_data, tmp_path):
    # files that the second pool draws and the first does not: the start-up check cannot see them
    later = [n for n in _pool_names(demo_data, 2, 6) if n not in _pool_names(demo_data, 0, 6)]
    assert len(later) >= 2, later
    data = str(tmp_path / "data")
    shutil.copytree(demo_data, data)
    raws = os.path.join(data, "train", RAW_SUB)
    truncate_file(os.path.join(raws, later[0]))
    model_dir, dump = str(tmp_path / "m"), str(tmp_path / "pools.jsonl")
    base = dict(SMALL, dataset_dir=data, train_size=6, eval_step=2, seed=0, tensorboard=False, load_workers=2)
    proc = _run_pooled(dict(base, model_dir=model_dir, num_train_iters=4), dump, 2, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = [l for l in error_lines(proc) if l.startswith("warning:")]
    assert "Traceback" not in proc.stderr and len(warnings) == 1, proc.stderr
    warning = warnings[0]
    assert warning.startswith("warning: skipping training file %s (cannot read RAW PNG" % later[0]), warning
    assert "1 of 12 training files skipped so far, the run stops above 1 (1%)" in warning
    pools, exits = _dumped(dump)
    assert [(p["pool"], p["thread"], p["new_bad"], p["n"]) for p in pools] == [
        (0, "MainThread", [], 6), (2, "pool-loader-2", [later[0]], 5)] and exits == [[]]
    lines = log_lines(os.path.join(model_dir, "logs_model_0-4.txt"))
    assert "skipped" not in lines[0] and lines[1].endswith("| skipped 1 bad training file"), lines
    # a second one in the same pool is more than the share: one line naming both, at the swap
    truncate_file(os.path.join(raws, later[1]))
    model_dir, dump = str(tmp_path / "m2"), str(tmp_path / "pools2.jsonl")
    proc = _run_pooled(dict(base, model_dir=model_dir, num_train_iters=6), dump, 2, tmp_path)
    assert_usage_error(proc, "2 of the 12 training files cannot be decoded, more than 1% (at most 1 may be skipped)",
                       later[0], later[1], "restore_iter=latest")
    assert existing_iterations(model_dir, "model") == [2] and _dumped(dump)[1] == [[]]
    check_nothing_unreadable(model_dir)
