"""train_model.py distributed=True and benchmark.py mode=horovod: data-parallel training through Horovod (the TF 1.15 and TF 2.12 stacks, Gloo, 2 ranks on the CPU)."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import (
    LOG_LINE,
    assert_usage_error,
    ckpt_reader,
    ckpt_state,
    kv_words,
    log_lines,
    max_abs_difference,
    network_names,
    run_killed_at,
    run_script,
)

from isp.errors import RunFailure
from isp.tfimport import tf_version

try:
    import horovod.tensorflow  # noqa: F401
    HOROVOD = True
except ImportError:
    HOROVOD = False
needs_horovod = pytest.mark.skipif(not HOROVOD, reason="Horovod is not installed for this stack "
                                   "(bash setup_env.sh tf2-horovod or WITH_HOROVOD=1 bash setup_env.sh tf1 builds it; "
                                   "it does not build against TF 2.21)")
HARNESS = "tests/hvd_harness.py"
BASE = ["patch_w=64", "patch_h=64", "train_size=12", "eval_step=2", "content_loss=False", "seed=0",
        "learning_rate=5e-4", "tensorboard=False"]


def launcher(ranks):
    return [os.path.join(os.path.dirname(sys.executable), "horovodrun"), "-np", str(ranks), "-H",
            "localhost:%d" % ranks, "--gloo"]


def horovodrun(ranks, words, dump_dir, cwd):
    proc = run_script(HARNESS, *words, launcher=launcher(ranks), cwd=cwd, env={"HVD_DUMP_DIR": dump_dir},
                      unbuffered=True, stderr=subprocess.STDOUT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def _weights(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


@needs_horovod
def test_two_ranks_hold_the_weights_rank_0_saves_and_match_one_rank_with_twice_the_batch(demo_data, tmp_path):
    two = str(tmp_path / "two")
    os.makedirs(two)
    out = horovodrun(2, ["dataset_dir=" + demo_data, "model_dir=" + str(tmp_path / "m2"), "batch_size=2",
                         "num_train_iters=4", "augment=False", "distributed=True"] + BASE, two, str(tmp_path))
    assert "Horovod: 2 ranks, batch_size 2 per rank (4 per step)" in out
    rank0, rank1 = _weights(os.path.join(two, "rank0.npz")), _weights(os.path.join(two, "rank1.npz"))
    assert sorted(rank0) == sorted(rank1) and len(rank0) > 0
    for name in rank0:  # gradients averaged, so the ranks never drift apart
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)
    ckpt = ckpt_reader(os.path.join(str(tmp_path / "m2"), "model_iteration_4.ckpt"))
    saved = sorted(ckpt.get_variable_to_shape_map())
    assert saved and set(saved) <= set(rank1)  # the network's weights and Adam's state
    for name in saved:  # only rank 0 writes, and what it wrote is what rank 1 holds
        np.testing.assert_array_equal(ckpt.get_tensor(name), rank1[name], err_msg=name)
    assert sorted(os.listdir(str(tmp_path / "m2"))) == ["logs_model_0-4.txt", "model_iteration_2.ckpt.data-00000-of-00001",
                                                      "model_iteration_2.ckpt.index",
                                                      "model_iteration_4.ckpt.data-00000-of-00001",
                                                      "model_iteration_4.ckpt.index",
                                                      "train.lock"]  # rank 0's run lock
    assert out.count("step 4 | training loss") == 1  # one log line, from rank 0
    # one plain process with batch 4 (no Horovod) on the same patches: the same training
    one = run_script("train_model.py", "dataset_dir=" + demo_data, "model_dir=" + str(tmp_path / "m1"),
                     "batch_size=4", "num_train_iters=4", "augment=False", *BASE)
    assert one.returncode == 0, one.stderr[-2000:]
    plain = ckpt_reader(os.path.join(str(tmp_path / "m1"), "model_iteration_4.ckpt"))
    for name in saved:
        np.testing.assert_allclose(plain.get_tensor(name), rank0[name], rtol=1e-4, atol=1e-5, err_msg=name)
    logs = []
    for m in ("m1", "m2"):
        logs.append([float(re.search(r"training loss: ([\d.]+)", l).group(1))
                     for l in log_lines(os.path.join(str(tmp_path / m), "logs_model_0-4.txt"))])
    np.testing.assert_allclose(logs[0], logs[1], atol=2e-4)  # the log shows the loss averaged over ranks


@needs_horovod
def test_resume_under_two_ranks(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    dump = str(tmp_path / "dump")
    os.makedirs(dump)
    out = horovodrun(2, ["dataset_dir=" + demo_data, "model_dir=" + model_dir, "batch_size=2", "num_train_iters=6",
                         "restore_iter=latest", "distributed=True", "learning_rate=1e-12"] + BASE[:-2], dump,
                     str(tmp_path))
    assert out.count("restored %s" % os.path.join(model_dir, "model_iteration_4.ckpt")) == 1  # rank 0 only
    assert [int(LOG_LINE.match(l).group(1)) for l in log_lines(os.path.join(model_dir, "logs_model_4-6.txt"))] == [6]
    restored = ckpt_reader(os.path.join(model_dir, "model_iteration_4.ckpt"))
    rank1 = _weights(os.path.join(dump, "rank1.npz"))
    network = network_names(restored.get_variable_to_shape_map())
    assert network
    for name in network:  # rank 1 got rank 0's restored weights (a negligible learning rate since)
        np.testing.assert_allclose(rank1[name], restored.get_tensor(name), atol=1e-6, err_msg=name)


@needs_horovod
def test_two_ranks_killed_twice_and_resumed_end_bit_identical_to_an_uninterrupted_two_rank_run(demo_data, tmp_path):
    """Rank 0 saves the network and Adam's state; after each SIGKILL of both ranks the resumed ranks
    all restore that state (rank 0 hands it out), so the run ends as the uninterrupted one."""
    options = {"dataset_dir": demo_data, "patch_w": 32, "patch_h": 32, "batch_size": 2, "train_size": 12,
               "content_loss": False, "seed": 0, "learning_rate": 1e-3, "tensorboard": False, "eval_step": 2,
               "num_train_iters": 8, "save_minutes": 0, "distributed": True}
    whole, model_dir = str(tmp_path / "whole"), str(tmp_path / "m")
    os.makedirs(str(tmp_path / "d1"))
    horovodrun(2, kv_words(dict(options, model_dir=whole)), str(tmp_path / "d1"), str(tmp_path))
    resumed = dict(options, model_dir=model_dir, restore_iter="latest")
    # after rank 0 saved checkpoint 4; inside step 7, once both ranks ran it (checkpoint 6 saved)
    run_killed_at("saved:4", kv_words(resumed), str(tmp_path), launcher=launcher(2))
    out = run_killed_at("step:7", kv_words(resumed), str(tmp_path), launcher=launcher(2))
    assert out.count("restored %s" % os.path.join(model_dir, "model_iteration_4.ckpt")) == 1, out[-3000:]
    dump = str(tmp_path / "d2")
    os.makedirs(dump)
    out = horovodrun(2, kv_words(resumed), dump, str(tmp_path))
    assert out.count("restored %s" % os.path.join(model_dir, "model_iteration_6.ckpt")) == 1, out[-3000:]
    final = ckpt_state(os.path.join(model_dir, "model_iteration_8.ckpt"))
    difference = max_abs_difference(final, ckpt_state(os.path.join(whole, "model_iteration_8.ckpt")))
    print("2 ranks killed after checkpoint 4 and inside step 7, resumed from 6 to 8: network and Adam state "
          "max-abs difference to the uninterrupted 2-rank run %g" % difference)
    assert difference == 0
    rank0, rank1 = _weights(os.path.join(dump, "rank0.npz")), _weights(os.path.join(dump, "rank1.npz"))
    for name in final:  # every rank ends with the state rank 0 saved (Adam's included)
        np.testing.assert_array_equal(rank1[name], final[name], err_msg=name)
        np.testing.assert_array_equal(rank0[name], final[name], err_msg=name)


def test_distributed_without_horovod_is_one_line(demo_data, tmp_path):
    """Where Horovod cannot be imported (shadowed here by a package that fails, as when it is not
    installed), distributed=True is one line naming how to get it; plain runs never import it."""
    fake = tmp_path / "fake" / "horovod"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named horovod')\n")
    proc = run_script("train_model.py", "dataset_dir=" + demo_data, "model_dir=" + str(tmp_path / "m"),
                      "distributed=True", *BASE, env={"PYTHONPATH": str(tmp_path / "fake")})
    version = tuple(int(v) for v in tf_version().split(".")[:2])
    if version < (2, 0):  # install it here
        line = assert_usage_error(proc, "distributed=True needs Horovod", "WITH_HOROVOD=1 bash setup_env.sh tf1")
        assert "tf2-horovod" not in line
    elif version <= (2, 12):  # the TF 2.12 stack without its Horovod
        assert_usage_error(proc, "distributed=True needs Horovod", "bash setup_env.sh tf2-horovod")
    else:  # TF 2.21: both stacks where it works
        assert_usage_error(proc, "does not build against it", "bash setup_env.sh tf2-horovod",
                           "WITH_HOROVOD=1 bash setup_env.sh tf1")
    assert not os.path.exists(str(tmp_path / "m"))
    proc = run_script("train_model.py", "dataset_dir=" + demo_data, "model_dir=" + str(tmp_path / "m"),
                      "num_train_iters=1", "batch_size=2", *BASE, env={"PYTHONPATH": str(tmp_path / "fake")})
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("variable", ["HOROVOD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"])
def test_a_launch_by_horovodrun_without_distributed_is_one_line(variable, demo_data, tmp_path):
    """horovodrun/mpirun start every rank with the number of ranks in its environment: without
    distributed=True each would train on its own, so the run stops at once and says what to add."""
    model_dir = str(tmp_path / "m")
    proc = run_script("train_model.py", "dataset_dir=" + demo_data, "model_dir=" + model_dir, *BASE,
                      env={variable: "2", "HOROVOD_RANK": "0"})
    assert_usage_error(proc, "one of 2 ranks started by horovodrun/mpirun (%s=2)" % variable,
                       "add distributed=True to the command")
    assert not os.path.exists(model_dir)


def test_benchmark_horovod_mode(demo_data):
    proc = run_script("benchmark.py", "mode=horovod", "archs=model:4", "iters=2", "patch=64", "batch_size=2",
                      "dataset_dir=" + demo_data)
    if not HOROVOD:
        assert_usage_error(proc, "mode=horovod needs Horovod")
        return
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = re.findall(r"^([12]) +([\d.]+) +([\d.]+)$", proc.stdout, re.M)
    assert [r[0] for r in rows] == ["1", "2"] and float(rows[0][2]) == 1.0, proc.stdout


def test_a_failed_horovodrun_is_a_run_failure_naming_its_last_line(monkeypatch, capsys):
    """Good input, failed run: exit code 1 (not a usage error) with horovodrun's last line as text."""
    from isp.bench import horovod as bench_horovod
    monkeypatch.setattr(bench_horovod.load_dataset, "paired_names", lambda *a: None)
    calls = []

    def run(cmd, **how):
        calls.append(cmd)
        if len(calls) == 1:  # the check that Horovod imports
            return subprocess.CompletedProcess(cmd, 0)
        return subprocess.CompletedProcess(cmd, 3, stdout="[0]<stdout>: starting\ntrain_model.py: error: boom\n\n")
    monkeypatch.setattr(bench_horovod.subprocess, "run", run)
    with pytest.raises(RunFailure) as err:
        bench_horovod.horovod([("model", 4)], 0, "data", batch_size=2, patch=64, iters=5)
    assert str(err.value) == "horovodrun failed (exit 3) with 1 rank, 5 iterations: train_model.py: error: boom"
    assert "dataset_dir=data" in calls[1] and "num_train_iters=5" in calls[1] and "patch_w=64" in calls[1]
