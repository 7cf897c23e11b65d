"""train_model.py's batches built while the step before runs and fed compact: the same batches,
in the same order, and the same losses as batches drawn in line and fed float32
(tests/inline_batches.py, the reference), the pool swaps and Horovod slices included; a resumed run gets the batches of the
uninterrupted one; the graph's conversion is load_dataset.to_float's bit for bit; no producer
thread is left on any exit; the input wait in the log line and in TensorBoard. The loader's and
producer's threads at the exits of whole runs (normal end, NaN, SIGTERM, a bad file) are checked in
test_train_pools.py through the same harness."""
import json
import os
import threading

import numpy as np
import pytest
from conftest import SMALL, copy_checkpoint, kv_words, log_lines, run_script, train_losses
from inline_batches import InlineBatches, inline_stream

from isp import load_dataset
from isp.batches import Batches, batch_stream, compact_input, draws
from isp.patch_pools import Pool
from isp.tfimport import import_tf
from isp.train_log import read_log_lines

POOL_HARNESS = "tests/pool_harness.py"


def _pool(iteration, n, h, w):
    rng = np.random.RandomState([7, iteration])
    return Pool(iteration, rng.randint(0, 1024, (n, h // 2, w // 2, 4)).astype(np.uint16),
                rng.randint(0, 256, (n, h, w, 3)).astype(np.uint8), {})


def _producers():
    return [t.name for t in threading.enumerate() if t.name.startswith("batch-producer")]


@pytest.mark.parametrize("square,augment", [(True, True), (False, True), (True, False)])
def test_the_producer_builds_the_batches_of_the_inline_reference_in_its_order(square, augment):
    h, w = (8, 8) if square else (8, 12)
    segments = [(_pool(0, 7, h, w), 0, 3), (_pool(3, 5, h, w), 3, 6), (_pool(6, 6, h, w), 6, 8)]  # re-draws at 3, 6
    for rank in (0, 1):  # two Horovod ranks, each its slice of one global batch of 2 x 3 patches
        mine = slice(3 * rank, 3 * rank + 3)
        reference = InlineBatches(np.random.RandomState(5), 6, mine, augment, square)
        with Batches(np.random.RandomState(5), 6, mine, augment, square) as batches:
            for pool, first, stop in segments:
                batches.follow(pool, first, stop)
                reference.follow(pool, first, stop)
                for _ in range(first, stop):
                    (raw, rgb), waited = batches.take()
                    (want_raw, want_rgb), _ = reference.take()
                    assert raw.dtype == np.uint16 and rgb.dtype == np.uint8 and waited >= 0
                    assert raw.flags.c_contiguous and rgb.flags.c_contiguous
                    assert raw.shape == want_raw.shape == (3, h // 2, w // 2, 4) and rgb.shape == (3, h, w, 3)
                    assert np.array_equal(raw, want_raw) and np.array_equal(rgb, want_rgb)
            with pytest.raises(RuntimeError, match="no batch left"):
                batches.take()
        assert _producers() == []


def test_a_resumed_stream_continues_the_uninterrupted_one():
    def sizes(i):
        return 7 if i < 3 else 5
    uninterrupted = batch_stream(4, 0, sizes, 6, True, True)
    assert str(uninterrupted.get_state()) == str(inline_stream(4, 0, sizes, 6, True, True).get_state())  # as the reference
    for i in range(5):
        draws(uninterrupted, sizes(i), 6, True, True)
    resumed = batch_stream(4, 5, sizes, 6, True, True)
    inline = inline_stream(4, 5, sizes, 6, True, True)  # the in-line reference: other batches after a resume
    after = [draws(uninterrupted, 5, 6, True, True) for _ in range(4)]
    assert [str(d) for d in after] == [str(draws(resumed, 5, 6, True, True)) for _ in range(4)]
    assert [str(d) for d in after] != [str(draws(inline, 5, 6, True, True)) for _ in range(4)]


def test_no_producer_thread_is_left_on_any_exit():
    pool = _pool(0, 5, 8, 8)
    with Batches(np.random.RandomState(0), 2, slice(0, 2), True, True) as batches:  # stopped while far ahead
        batches.follow(pool, 0, 1000)
        batches.take()
        assert _producers() == ["batch-producer-0"]
    assert _producers() == []
    with pytest.raises(KeyboardInterrupt):  # an exception in the loop (Ctrl-C twice) while it builds
        with Batches(np.random.RandomState(0), 2, slice(0, 2), True, True) as batches:
            batches.follow(pool, 0, 1000)
            raise KeyboardInterrupt()
    assert _producers() == []
    bad = Pool(0, np.zeros((0, 4, 4, 4), np.uint16), np.zeros((0, 8, 8, 3), np.uint8), {})  # an empty pool
    with pytest.raises(ValueError):  # an error while building: raised in the loop's thread by take
        with Batches(np.random.RandomState(0), 2, slice(0, 2), True, True) as batches:
            batches.follow(bad, 0, 10)
            batches.take()
    assert _producers() == []


def test_the_graph_makes_to_floats_values_bit_for_bit():
    tf = import_tf()
    every_raw = np.random.RandomState(0).permutation(65536).astype(np.uint16).reshape(1, 128, 128, 4)
    every_rgb = np.resize(np.arange(256, dtype=np.uint8), (1, 256, 256, 3))
    with tf.Graph().as_default():
        raw, phone = compact_input(tf, tf.uint16, [None, 128, 128, 4], load_dataset.RAW_SCALE, "raw_planes")
        rgb, target = compact_input(tf, tf.uint8, [None, 256, 256, 3], load_dataset.RGB_SCALE, "target_rgb")
        assert (raw.dtype, rgb.dtype, phone.dtype, target.dtype) == (tf.uint16, tf.uint8, tf.float32, tf.float32)
        assert phone.shape.as_list() == [None, 128, 128, 4] and target.shape.as_list() == [None, 256, 256, 3]
        assert len(tf.get_default_graph().get_operations()) == 4  # a placeholder and a call each: see compact_input
        with tf.Session() as sess:
            x, y = sess.run([phone, target], {raw: every_raw, rgb: every_rgb})
    want_x, want_y = load_dataset.to_float(every_raw, every_rgb)
    assert x.dtype == want_x.dtype == np.float32 and np.array_equal(x, want_x) and np.array_equal(y, want_y)


# ---------------------------------------------------------------------------------------------
# whole runs (tests/pool_harness.py: pools re-drawn every 3 iterations; BATCH_REFERENCE=1: the in-line reference)


def _dumped(dump):
    with open(dump) as f:
        records = [json.loads(line) for line in f]
    threads = [r["threads_at_exit"] for r in records if "threads_at_exit" in r]
    return [r["batches"] for r in records if "batches" in r][0], threads


@pytest.fixture(scope="module")
def reference_and_new(demo_data, tmp_path_factory):
    """The same seeded run to iteration 10 with the in-line reference and with the producer:
    {name: (model_dir, dump, process)}."""
    base = tmp_path_factory.mktemp("batches")
    runs = {}
    for name, reference in (("inline", "1"), ("producer", "0")):
        model_dir, dump = str(base / name), str(base / (name + ".jsonl"))
        options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, batch_size=3, train_size=6,
                       num_train_iters=10, eval_step=5, summary_step=1, seed=0)
        runs[name] = (model_dir, dump, run_script(POOL_HARNESS, *kv_words(options), cwd=str(base), unbuffered=True,
                                                  env={"POOL_EVERY": "3", "POOL_DUMP": dump,
                                                       "BATCH_REFERENCE": reference}))
    return runs


def test_the_same_seed_gives_the_batches_and_losses_of_the_inline_reference(reference_and_new):
    for model_dir, dump, proc in reference_and_new.values():
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert _dumped(dump)[1] == [[]]  # no producer (or loader) thread outlives the run
    (inline_dir, inline_dump, _), (now_dir, now_dump, _) = reference_and_new["inline"], reference_and_new["producer"]
    batches = _dumped(now_dump)[0]
    assert len(batches) == 10 and len(set(batches)) == 10
    assert batches == _dumped(inline_dump)[0]  # the same patches, turns and flips, across the re-draws
    losses = train_losses(now_dir)
    assert [s for s, _ in losses] == list(range(1, 11))
    assert losses == train_losses(inline_dir)  # fed compact, made float in the graph: bit-identical losses
    rows, inline = (read_log_lines(os.path.join(d, "logs_model_0-10.txt")) for d in (now_dir, inline_dir))
    assert [r["step"] for r in rows] == [5, 10]
    for row, old in zip(rows, inline):  # the validation set, fed compact too: the same figures
        assert [row[k] for k in ("loss", "mse", "psnr", "ssim", "ms_ssim")] == \
               [old[k] for k in ("loss", "mse", "psnr", "ssim", "ms_ssim")]


def test_the_input_wait_is_in_the_log_line_and_in_tensorboard(reference_and_new):
    model_dir, _, _ = reference_and_new["producer"]
    rows = read_log_lines(os.path.join(model_dir, "logs_model_0-10.txt"))
    assert all(r["input_wait_ms"] is not None and r["input_wait_ms"] >= 0 for r in rows), rows
    assert all(" ms/step" in line for line in log_lines(os.path.join(model_dir, "logs_model_0-10.txt")))
    waits = train_losses(model_dir, "train/input_wait_ms")
    assert [s for s, _ in waits] == list(range(1, 11)) and all(v >= 0 for _, v in waits)


def test_a_resumed_run_gets_the_batches_of_the_uninterrupted_run(reference_and_new, demo_data, tmp_path):
    src, dump, _ = reference_and_new["producer"]
    model_dir = str(tmp_path / "m")
    copy_checkpoint(src, model_dir, "model_iteration_5.ckpt", "model_iteration_5.ckpt")  # as if killed after 5
    resumed = str(tmp_path / "resumed.jsonl")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, batch_size=3, train_size=6, num_train_iters=10,
                   eval_step=5, seed=0, restore_iter=5, tensorboard=False, use_gpu=False)
    proc = run_script(POOL_HARNESS, *kv_words(options), cwd=str(tmp_path), unbuffered=True,
                      env={"POOL_EVERY": "3", "POOL_DUMP": resumed})
    assert proc.returncode == 0, proc.stderr[-2000:]
    batches, threads = _dumped(resumed)
    assert batches == _dumped(dump)[0][5:] and threads == [[]]
