"""A pre-empted run is the same run: checkpoints hold the optimizer's state, a run killed
with SIGKILL at precise moments (after a checkpoint, inside a training step, inside a save, after an
interim save by the clock) and resumed each time ends bit-identical to the uninterrupted run, and
goes on in the TensorBoard run it continues; old checkpoints (the network alone) still resume;
save_minutes and keep_checkpoints; out of memory.
The moments are reached through tests/train_harness.py's hooks, never by a sleep."""
import os

import numpy as np
import pytest
from conftest import (
    LOG_LINE,
    assert_usage_error,
    check_nothing_unreadable,
    ckpt_state,
    kv_words,
    log_lines,
    max_abs_difference,
    network_names,
    run_killed_at,
    run_script,
)

from isp.checkpoints import INTERIM, ckpt_prefix, existing_iterations, interim_iterations

HARNESS = "tests/train_harness.py"
# tiny: 32x32 patches, 30 iterations, a checkpoint every 5
RUN = {"patch_w": 32, "patch_h": 32, "batch_size": 2, "train_size": 12, "content_loss": False, "seed": 0,
       "tensorboard": False, "eval_step": 5, "num_train_iters": 30, "learning_rate": 1e-3, "save_minutes": 0}


def _run_killed_at(hook, options, cwd, env=None):
    return run_killed_at(hook, kv_words(options), cwd, env)


@pytest.fixture(scope="module")
def uninterrupted(demo_data, tmp_path_factory):
    """The reference: RUN from start to end in one process (train_model.py itself, no harness)."""
    model_dir = str(tmp_path_factory.mktemp("whole"))
    proc = run_script("train_model.py", *kv_words(dict(RUN, dataset_dir=demo_data, model_dir=model_dir)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return model_dir


def test_checkpoints_hold_the_optimizer_state_beside_the_network(uninterrupted):
    state = ckpt_state(ckpt_prefix(uninterrupted, "model", 30))
    network = network_names(state)
    assert network
    for name in network:  # Adam's two moments of every weight, named as TF's Adam names its slots
        assert state[name + "/Adam"].shape == state[name].shape and state[name + "/Adam_1"].shape == state[name].shape
    assert int(state["global_step"]) == 30
    np.testing.assert_allclose(state["beta1_power"], 0.9 ** 31, rtol=1e-5)  # Adam's counters after 30 steps
    np.testing.assert_allclose(state["beta2_power"], 0.999 ** 31, rtol=1e-5)
    assert sorted(state) == sorted(network + [n + s for n in network for s in ("/Adam", "/Adam_1")] +
                                   ["beta1_power", "beta2_power", "global_step"])
    lines = log_lines(os.path.join(uninterrupted, "logs_model_0-30.txt"))
    size = os.path.getsize(ckpt_prefix(uninterrupted, "model", 5) + ".index") + \
        os.path.getsize(ckpt_prefix(uninterrupted, "model", 5) + ".data-00000-of-00001")
    assert lines[0].endswith("| checkpoint %.2f MB" % (size / 1e6)), lines[0]  # the run's first line says
    assert "checkpoint" not in lines[1]


def test_killed_four_times_at_precise_moments_and_resumed_ends_bit_identical(demo_data, uninterrupted, tmp_path):
    model_dir = str(tmp_path / "m")
    options = dict(RUN, dataset_dir=demo_data, model_dir=model_dir, restore_iter="latest")
    clock = {"TRAIN_CLOCK": "steps"}  # one minute per step: save_minutes=3 saves every 3 steps
    resumed_from = []
    # after checkpoint 5 was saved and logged; inside step 12 (the weights in memory are 12's);
    # inside the save of checkpoint 15 (its data file in place, its .index not yet); after the
    # interim checkpoint 18 (save_minutes=3 from 10: 13 and 18; 15's save replaced 13)
    for hook, opts, env, left in (("saved:5", options, None, [5]),
                                  ("step:12", options, None, [5, 10]),
                                  ("saving:15", options, None, [5, 10]),
                                  ("saved:18", dict(options, save_minutes=3), clock, [5, 10, 15, 18])):
        out = _run_killed_at(hook, opts, str(tmp_path), env)
        if resumed_from:
            assert "restored %s" % ckpt_prefix(model_dir, "model", resumed_from[-1]) in out, out[-3000:]
        assert existing_iterations(model_dir, "model") == left, (hook, os.listdir(model_dir))
        resumed_from.append(left[-1])
        check_nothing_unreadable(model_dir)
    assert interim_iterations(model_dir, "model") == [18]  # only the newest interim checkpoint is kept
    proc = run_script("train_model.py", *kv_words(options), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "restored %s" % ckpt_prefix(model_dir, "model", 18) in proc.stdout
    assert "optimizer" not in proc.stdout  # every checkpoint held Adam's state
    # 20's save replaced the interim 18; the eval_step checkpoints are all there, as in one run
    assert existing_iterations(model_dir, "model") == existing_iterations(uninterrupted, "model") == [5, 10, 15, 20, 25, 30]
    assert not [n for n in os.listdir(model_dir) if n.endswith(INTERIM) or n.startswith(".tmp-")]
    difference = max_abs_difference(ckpt_state(ckpt_prefix(model_dir, "model", 30)),
                                      ckpt_state(ckpt_prefix(uninterrupted, "model", 30)))
    print("killed after checkpoint 5, in step 12, in the save of 15, after interim 18 (newest checkpoint after each "
          "kill: %s); resumed to 30: final "
          "network and Adam state max-abs difference to the uninterrupted run %g" % (resumed_from, difference))
    assert difference == 0
    for start, end in ((10, 30), (18, 30)):  # the resumed runs' logs go on where the killed ones stopped
        steps = [int(LOG_LINE.match(line).group(1)) for line in log_lines(os.path.join(model_dir, "logs_model_%d-%d.txt" % (start, end)))]
        assert steps == ([15] if start == 10 else [20, 25, 30]), (start, steps)


def _events(path, tf):
    """{tag: [steps]} of the scalars in one event file, and its session logs as [(step, status)]."""
    scalars, logs = {}, []
    for event in tf.train.summary_iterator(path):
        if event.HasField("session_log"):
            logs.append((event.step, event.session_log.status))
        for value in event.summary.value:
            scalars.setdefault(value.tag, []).append(event.step)
    return scalars, logs


def test_a_resumed_run_continues_its_tensorboard_run_and_replaces_what_the_killed_one_wrote(demo_data, tmp_path):
    """Killed inside step 8 (its events to step 7 on disk, past checkpoint 5), resumed once into a
    NaN and once for good: TensorBoard shows one run from 1 to 12, each step once."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from isp.tfimport import import_tf
    tf = import_tf()
    model_dir = str(tmp_path / "m")
    options = dict(RUN, dataset_dir=demo_data, model_dir=model_dir, tensorboard=True, summary_step=1,
                   num_train_iters=12)
    _run_killed_at("step:8", options, str(tmp_path))
    runs = os.path.join(model_dir, "tensorboard")
    folder = os.path.join(runs, "model_0-12")
    assert os.listdir(runs) == ["model_0-12"]
    # a resume that diverges before a checkpoint of its own leaves the folder it continues in place
    proc = run_script("train_model.py", *kv_words(dict(options, restore_iter="latest", learning_rate=1e30)))
    assert proc.returncode == 1 and "NaN/Inf" in proc.stderr, proc.stderr[-3000:]
    assert os.listdir(runs) == ["model_0-12"]
    proc = run_script("train_model.py", *kv_words(dict(options, restore_iter="latest")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "restored %s" % ckpt_prefix(model_dir, "model", 5) in proc.stdout
    assert os.listdir(runs) == ["model_0-12"]  # one run, not one per start
    files = sorted(os.path.join(folder, n) for n in os.listdir(folder) if "tfevents" in n)
    assert len(files) == 3  # the killed process's, the diverged one's, the resumed one's (oldest first)
    (killed, killed_logs), (_, diverged_logs), (resumed, resumed_logs) = [_events(f, tf) for f in files]
    assert killed["train/loss"] == list(range(1, 8)) and killed["val/psnr"] == [5] and not killed_logs
    # each resume starts with a START at the first step it trains, 6: TensorBoard drops the events
    # of 6 on written before it, and keeps checkpoint 5's validation, which no resume writes again
    start = tf.SessionLog.START
    assert diverged_logs == [(6, start)] and resumed_logs == [(6, start)]
    assert resumed["train/loss"] == list(range(6, 13)) and resumed["val/psnr"] == [10, 12]
    # as TensorBoard reads the folder: each step once, the resumed process's values past 5
    run = EventAccumulator(folder)
    run.Reload()
    loss = run.Scalars("train/loss")
    assert [e.step for e in loss] == list(range(1, 13))
    assert [e.step for e in run.Scalars("val/psnr")] == [5, 10, 12]
    last = [e for e in tf.train.summary_iterator(files[-1]) for v in e.summary.value if v.tag == "train/loss"]
    assert [e.value for e in loss[5:]] == pytest.approx([e.summary.value[0].simple_value for e in last])


def test_a_resume_finds_the_tensorboard_run_it_continues(tmp_path):
    """The run that made a checkpoint: the folder of the arch that started last at or before it,
    whatever end its name gives (a resume may train beyond it); none where TensorBoard was off."""
    from isp.checkpoints import continued_tensorboard_run, tensorboard_dir
    model_dir = str(tmp_path)
    runs = os.path.join(model_dir, "tensorboard")
    assert continued_tensorboard_run(model_dir, "model", 5) is None
    for name in ("model_0-400", "model_202-400", "model_202-400.2", "model_202-400.10", "punet_300-400", "model_x"):
        os.makedirs(os.path.join(runs, name))
    for iteration, found in ((0, "model_0-400"), (150, "model_0-400"), (202, "model_202-400.10"),
                             (300, "model_202-400.10"), (600, "model_202-400.10")):
        assert continued_tensorboard_run(model_dir, "model", iteration) == os.path.join(runs, found), iteration
    assert continued_tensorboard_run(model_dir, "punet", 200) is None
    # a fresh run still gets a folder of its own
    assert tensorboard_dir(model_dir, "model", 202, 400) == os.path.join(runs, "model_202-400.3")


def test_a_checkpoint_without_the_optimizer_state_resumes_with_adam_afresh(demo_data, uninterrupted, tmp_path):
    """A checkpoint written before this change holds the network alone (as export_weights writes one)."""
    from isp.checkpoints import export_weights
    from isp.tfimport import import_tf
    model_dir = str(tmp_path / "m")
    os.makedirs(model_dir)
    export_weights(import_tf(), "model", 16, ckpt_prefix(uninterrupted, "model", 10), ckpt_prefix(model_dir, "model", 10))
    assert "beta1_power" not in ckpt_state(ckpt_prefix(model_dir, "model", 10))
    proc = run_script("train_model.py", *kv_words(dict(RUN, dataset_dir=demo_data, model_dir=model_dir,
                                                     restore_iter="latest", num_train_iters=12)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    afresh = [line for line in proc.stdout.splitlines() if "optimizer" in line]
    assert afresh == ["%s holds the network's weights only (written before checkpoints held the optimizer's state): "
                      "Adam's moments and step count start afresh" % ckpt_prefix(model_dir, "model", 10)], proc.stdout
    state = ckpt_state(ckpt_prefix(model_dir, "model", 12))
    assert int(state["global_step"]) == 2  # Adam counted its steps from 0 again
    np.testing.assert_allclose(state["beta1_power"], 0.9 ** 3, rtol=1e-5)


def test_save_minutes_keeps_only_the_newest_interim_checkpoint_and_keep_checkpoints_bounds_the_rest(demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    options = dict(RUN, dataset_dir=demo_data, model_dir=model_dir, num_train_iters=17, save_minutes=2,
                   keep_checkpoints=2)
    # one minute per step, two since the last save of either kind: interim saves at 2, 4, 7, 9, 12, 14
    # (killed once it is saved), eval_step saves at 5 and 10
    out = _run_killed_at("saved:14", options, str(tmp_path), {"TRAIN_CLOCK": "steps"})
    for i in (2, 4, 7, 9, 12):
        assert "saved %s (save_minutes=2: replaced by the next checkpoint)" % ckpt_prefix(model_dir, "model", i) in out
    # each interim checkpoint went when the next checkpoint was saved
    assert existing_iterations(model_dir, "model") == [5, 10, 14] and interim_iterations(model_dir, "model") == [14]
    proc = run_script(HARNESS, *kv_words(dict(options, restore_iter="latest")), cwd=str(tmp_path),
                      env={"TRAIN_CLOCK": "steps"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "restored %s" % ckpt_prefix(model_dir, "model", 14) in proc.stdout
    # 15's save removed the interim 14 and (keep_checkpoints=2) 5; 17's removed 10
    assert existing_iterations(model_dir, "model") == [15, 17] and not interim_iterations(model_dir, "model")
    assert not [n for n in os.listdir(model_dir) if n.endswith(INTERIM)]


def test_out_of_memory_is_one_line_exit_2_and_the_last_checkpoint_stays(demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    options = dict(RUN, dataset_dir=demo_data, model_dir=model_dir, num_train_iters=12)
    proc = run_script(HARNESS, *kv_words(options), cwd=str(tmp_path), env={"TRAIN_HOOK": "oom:8"})
    last = ckpt_prefix(model_dir, "model", 5)
    assert_usage_error(proc, "out of memory training batch_size=2 on 32x32 patches (OOM when allocating tensor with "
                       "shape[2,16,32,32]", "lower batch_size= (or patch_w= and patch_h=) and resume with "
                       "restore_iter=latest (the last checkpoint, %s, is intact)" % last)
    assert existing_iterations(model_dir, "model") == [5]
    check_nothing_unreadable(model_dir)
    assert int(ckpt_state(last)["global_step"]) == 5


def test_an_interim_marker_without_its_checkpoint_is_stale_and_pruning_removes_whole_checkpoints(tmp_path):
    from isp.checkpoints import prune_checkpoints, remove_stale_temporaries
    model_dir = str(tmp_path)

    def touch(name):
        open(os.path.join(model_dir, name), "w").close()

    for i in (5, 7, 10):
        touch("model_iteration_%d.ckpt.index" % i)
        touch("model_iteration_%d.ckpt.data-00000-of-00001" % i)
    touch("model_iteration_7.ckpt" + INTERIM)  # a complete interim checkpoint
    touch("model_iteration_9.ckpt" + INTERIM)  # an interim save killed before its .index was in place
    touch(".tmp-model_iteration_9.ckpt.index")
    assert sorted(remove_stale_temporaries(model_dir, "model")) == [
        os.path.join(model_dir, n) for n in (".tmp-model_iteration_9.ckpt.index", "model_iteration_9.ckpt" + INTERIM)]
    assert interim_iterations(model_dir, "model") == [7]
    assert prune_checkpoints(model_dir, "model", 10, None) == ["model_iteration_7.ckpt"]
    assert prune_checkpoints(model_dir, "model", 10, 1) == ["model_iteration_5.ckpt"]
    assert sorted(os.listdir(model_dir)) == ["model_iteration_10.ckpt.data-00000-of-00001", "model_iteration_10.ckpt.index"]
