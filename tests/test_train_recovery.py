"""train_model.py when a run goes wrong: kill -9 at different moments
and resume, the temporaries a killed save leaves, a NaN loss, a second run in one model_dir (or a
branch) and its lock, a damaged checkpoint, SIGTERM/SIGINT (once and twice), a full disk. A
running script is waited for by its output lines or the files it writes, never by a fixed sleep."""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

import pytest
from conftest import (
    LOG_LINE,
    ROOT,
    SMALL,
    assert_usage_error,
    check_nothing_unreadable,
    copy_checkpoint,
    error_lines,
    kv_words,
    latest_iteration,
    lines_read_while_running,
    log_lines,
    run_script,
    start_script,
    truncate_file,
    wait_for,
    wait_for_log_step,
)

from isp.checkpoints import ckpt_prefix, existing_iterations

# The moments of a training cycle at which test_kill_9_at_different_moments_then_resume kills a run
# that has saved a checkpoint (iteration n) of its own. With eval_step=1 every iteration trains,
# validates, saves its checkpoint, appends and prints its log line, then writes TensorBoard and its
# preview PNG: "saved" is at once (n's log line not yet written), "saving" while a checkpoint or
# log line is being written (its temporary exists), "logged" once n's log line is printed,
# "preview" once n's preview PNG exists (the next step's training follows), "later" two
# iterations on.
KILL_MOMENTS = ("saved", "saving", "logged", "preview", "later", "saving")


def _await_kill_moment(moment, out, proc, model_dir, result_dir):
    n = latest_iteration(model_dir)
    if moment == "saving":
        wait_for(lambda: [x for x in os.listdir(model_dir) if x.startswith(".tmp-") or x.endswith(".tmp")], proc=proc)
    elif moment == "logged":
        wait_for_log_step(out, n)
    elif moment == "preview":
        wait_for(lambda: os.path.exists(os.path.join(result_dir, "model_iteration_%d_val.png" % n)), proc=proc)
    elif moment == "later":
        wait_for_log_step(out, n + 2)


def test_kill_9_at_different_moments_then_resume(demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, result_dir=str(tmp_path / "r"),
                   save_mid_imgs=True, eval_step=1, summary_step=1, seed=0, restore_iter="latest")
    last = 0
    for moment in KILL_MOMENTS:
        proc = start_script("train_model.py", *kv_words(dict(options, num_train_iters=10 ** 6)), cwd=str(tmp_path),
                            stderr=subprocess.DEVNULL)
        with lines_read_while_running(proc.stdout, proc) as out:
            wait_for(lambda: latest_iteration(model_dir) > last, proc=proc)  # it saved a checkpoint: it is mid-run
            _await_kill_moment(moment, out, proc, model_dir, options["result_dir"])
            assert proc.poll() is None, "training ended before it was killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        out = "".join(out)
        assert proc.returncode == -signal.SIGKILL
        if last:  # it went on from the newest checkpoint the previous kill left
            assert "restored %s" % os.path.join(model_dir, "model_iteration_%d.ckpt" % last) in out, out
        check_nothing_unreadable(model_dir)
        assert latest_iteration(model_dir) > last
        last = latest_iteration(model_dir)
    proc = run_script("train_model.py", *kv_words(dict(options, num_train_iters=last + 3)), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "restored %s" % os.path.join(model_dir, "model_iteration_%d.ckpt" % last) in proc.stdout
    log = os.path.join(model_dir, "logs_model_%d-%d.txt" % (last, last + 3))
    assert [int(LOG_LINE.match(l).group(1)) for l in log_lines(log)] == [last + 1, last + 2, last + 3]
    check_nothing_unreadable(model_dir)
    assert not [n for n in os.listdir(model_dir) if n.startswith(".tmp-") or n.endswith(".tmp")]
    # nothing left to do: restore_iter=latest says so and exits 0
    proc = run_script("train_model.py", *kv_words(dict(options, num_train_iters=last + 3)), cwd=str(tmp_path))
    assert proc.returncode == 0 and "nothing to train" in proc.stdout, proc.stderr[-2000:]


def test_stale_temporaries_of_a_killed_save_are_removed(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    # what a kill during a save leaves: a temporary checkpoint; its iteration does not count
    copy_checkpoint(src, model_dir, "model_iteration_4.ckpt", ".tmp-model_iteration_6.ckpt")
    os.mkdir(os.path.join(model_dir, ".tmp-model_iteration_6.ckpt_temp"))
    # and a half-written copy of an earlier run's log (another restore_iter, so another name)
    with open(os.path.join(model_dir, "logs_0-1000000.txt.tmp"), "w") as f:
        f.write("step 2 | training lo")
    assert existing_iterations(model_dir, "model") == [2, 4]
    proc = run_script("train_model.py", *kv_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir,
                                                     restore_iter="latest", num_train_iters=5, tensorboard=False)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model_iteration_4.ckpt" in proc.stdout
    assert not [n for n in os.listdir(model_dir) if n.startswith(".tmp-") or n.endswith(".tmp")]
    assert existing_iterations(model_dir, "model") == [2, 4, 5]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    before = {n: open(os.path.join(model_dir, n), "rb").read() for n in os.listdir(model_dir) if ".ckpt" in n}
    # a learning rate of 1e30 makes the weights overflow after the first update
    proc = run_script("train_model.py", *kv_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir,
                                                     restore_iter=4, num_train_iters=20, eval_step=2,
                                                     learning_rate=1e30, tensorboard=False)))
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = error_lines(proc)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    match = re.search(r"became NaN/Inf at iteration (\d+); stopped without saving \(last good checkpoint: (.*)\)",
                      lines[0])
    assert match, lines[0]
    assert int(match.group(1)) in (5, 6) and match.group(2) == os.path.join(model_dir, "model_iteration_4.ckpt")
    assert lines[0].endswith("lower learning_rate and resume with restore_iter=latest"), lines[0]
    after = {n: open(os.path.join(model_dir, n), "rb").read() for n in os.listdir(model_dir) if ".ckpt" in n}
    assert after == before  # no new checkpoint, the old ones untouched
    # validating every iteration: the update that overflows is caught before it is saved
    fresh = str(tmp_path / "fresh")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=fresh, num_train_iters=20, eval_step=1, learning_rate=1e30)
    proc = run_script("train_model.py", *kv_words(options))
    assert proc.returncode == 1 and "became NaN/Inf at iteration 1;" in error_lines(proc)[0], proc.stderr
    # no checkpoint to resume: the line says to start again, not restore_iter=latest
    assert error_lines(proc)[0].endswith("(last good checkpoint: none); lower learning_rate and start again")
    check_nothing_unreadable(fresh)
    assert latest_iteration(fresh) == 0
    # it removed the TensorBoard run it created: the same command with a lower learning rate starts afresh
    assert os.listdir(fresh) == ["train.lock"]
    proc = run_script("train_model.py", *kv_words(dict(options, learning_rate=5e-4, num_train_iters=1)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.listdir(os.path.join(fresh, "tensorboard")) == ["model_0-1"]


def test_a_run_never_writes_into_the_tensorboard_run_of_an_earlier_attempt(demo_data, tmp_path):
    """What a run killed before its first checkpoint leaves: its TensorBoard folder. The next run
    from the same start (restore_iter=latest, nothing to restore) writes its own folder beside it."""
    model_dir = str(tmp_path / "m")
    killed = os.path.join(model_dir, "tensorboard", "model_0-1")
    os.makedirs(killed)
    with open(os.path.join(killed, "events.out.tfevents.1.killed"), "wb") as f:
        f.write(b"the killed attempt's events")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, num_train_iters=1)
    assert_usage_error(run_script("train_model.py", *kv_words(options)), "tensorboard/model_0-1",
                       "restore_iter=latest", "overwrite=True")
    proc = run_script("train_model.py", *kv_words(dict(options, restore_iter="latest")))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.listdir(killed) == ["events.out.tfevents.1.killed"]  # untouched
    runs = os.path.join(model_dir, "tensorboard")
    assert sorted(os.listdir(runs)) == ["model_0-1", "model_0-1.2"]
    assert len([n for n in os.listdir(os.path.join(runs, "model_0-1.2")) if "tfevents" in n]) == 1
    # overwrite=True counts both as this arch's TensorBoard runs
    proc = run_script("train_model.py", *kv_words(dict(options, overwrite=True)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tensorboard/model_0-1.2" in proc.stdout and os.listdir(runs) == ["model_0-1"]
    assert os.listdir(os.path.join(runs, "model_0-1")) != ["events.out.tfevents.1.killed"]


def test_a_second_fresh_run_or_a_branch_never_replaces_an_earlier_run(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    before = sorted(os.listdir(model_dir))
    base = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, tensorboard=False)
    proc = run_script("train_model.py", *kv_words(base))  # a fresh run where arch=model's run is
    assert_usage_error(proc, "already holds an arch=model run (checkpoints of iterations 2, 4; logs_model_0-4.txt",
                       "restore_iter=latest", "another model_dir=", "overwrite=True")
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter=2, num_train_iters=3)))  # a branch
    assert_usage_error(proc, "restore_iter=2:", "later arch=model checkpoints (checkpoints of iteration 4",
                       "restore_iter=latest", "overwrite=True")
    assert sorted(os.listdir(model_dir)) == before
    # asked for: the branch removes the later checkpoint and the runs that started after iteration 2
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter=2, num_train_iters=3, overwrite=True)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "overwrite=True: removed model_iteration_4.ckpt" in proc.stdout
    assert existing_iterations(model_dir, "model") == [2, 3]
    assert {"logs_model_0-4.txt", "logs_model_2-3.txt"} <= set(os.listdir(model_dir))
    # another arch beside it is not an earlier run of its own: its log names its arch
    proc = run_script("train_model.py", *kv_words(dict(base, arch="punet", num_maps_base=4, num_train_iters=1)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.isfile(os.path.join(model_dir, "logs_punet_0-1.txt"))
    assert existing_iterations(model_dir, "model") == [2, 3]


def _cut_short(prefix):
    (data,) = [p for p in os.listdir(os.path.dirname(prefix)) if p.startswith(os.path.basename(prefix) + ".data-")]
    truncate_file(os.path.join(os.path.dirname(prefix), data))
    return os.path.join(os.path.dirname(prefix), data)


def test_damaged_checkpoint_is_named_or_skipped_for_the_one_before(trained, demo_data, tmp_path):
    src, _ = trained
    model_dir = str(tmp_path / "m")
    shutil.copytree(src, model_dir)
    data = _cut_short(ckpt_prefix(model_dir, "model", 4))
    base = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=2, num_train_iters=6, tensorboard=False)
    before = sorted(os.listdir(model_dir))
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter=4)))
    assert_usage_error(proc, "checkpoint %s is damaged" % ckpt_prefix(model_dir, "model", 4), data,
                       "Read less bytes than requested", "existing: 2, 4")
    assert sorted(os.listdir(model_dir)) == before  # nothing written
    proc = run_script("train_model.py", *kv_words(dict(base, restore_iter="latest")))
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = [l for l in error_lines(proc) if l.startswith("warning:")]
    assert len(warnings) == 1 and "model_iteration_4.ckpt is damaged" in warnings[0], proc.stderr
    assert "restored %s" % ckpt_prefix(model_dir, "model", 2) in proc.stdout
    assert [int(LOG_LINE.match(l).group(1)) for l in log_lines(os.path.join(model_dir, "logs_model_2-6.txt"))] == [4, 6]
    check_nothing_unreadable(model_dir)  # iteration 4 was written again, whole


def test_second_run_in_one_model_dir_stops_and_kill_9_leaves_no_stale_lock(demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=1, tensorboard=False, seed=0,
                   num_train_iters=10 ** 6)
    first = start_script("train_model.py", *kv_words(options), cwd=str(tmp_path), stderr=subprocess.DEVNULL)
    with lines_read_while_running(first.stdout, first) as out:
        wait_for_log_step(out, 1)
        proc = run_script("train_model.py", *kv_words(dict(options, restore_iter="latest")), cwd=str(tmp_path))
        assert_usage_error(proc, "model_dir %r is in use by another training run" % model_dir,
                           "pid %d:" % first.pid, "train_model.py")
        assert first.poll() is None  # the first run goes on
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the kernel dropped the dead run's lock: the same command now trains
    last = latest_iteration(model_dir)
    proc = run_script("train_model.py", *kv_words(dict(options, restore_iter="latest", num_train_iters=last + 1)),
                      cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "restored %s" % ckpt_prefix(model_dir, "model", last) in proc.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_saves_the_current_iteration_then_resume(signum, demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    name = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT"}[signum]
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=7, tensorboard=False, seed=0,
                   num_train_iters=10 ** 6)
    proc = start_script("train_model.py", *kv_words(options), cwd=str(tmp_path))
    with lines_read_while_running(proc.stdout, proc) as out, lines_read_while_running(proc.stderr, proc) as lines:
        wait_for_log_step(out, 7)  # iteration 7 saved and logged: the signal comes in the steps after it
        proc.send_signal(signum)
        proc.wait(timeout=300)
    assert proc.returncode == 128 + signum, "".join(lines)[-2000:]
    said = [l for l in lines if "stopped by %s after iteration" % name in l]
    assert len(said) == 1 and "Traceback" not in "".join(lines), "".join(lines)
    match = re.search(r"after iteration (\d+), saved as (\S+); resume with: (.*)$", said[0])
    done = int(match.group(1))
    assert match.group(2) == ckpt_prefix(model_dir, "model", done) and latest_iteration(model_dir) == done
    # the command names this Python and the script's path (a run outside an activated venv works)
    command = shlex.split(match.group(3))
    assert command[:2] == [sys.executable, os.path.join(ROOT, "train_model.py")], match.group(3)
    assert command[-1] == "restore_iter=latest" and "model_dir=%s" % model_dir in command
    with open(os.path.join(model_dir, "logs_model_0-%d.txt" % 10 ** 6)) as f:
        last_line = f.read().splitlines()[-1]
    assert int(LOG_LINE.match(last_line).group(1)) == done
    if done % 7:  # not a regular save: the log line says what it was
        assert last_line.endswith("| interrupt save (%s)" % name), last_line
    check_nothing_unreadable(model_dir)
    assert not [n for n in os.listdir(model_dir) if n.startswith(".tmp-") or n.endswith(".tmp")]
    # resume it the way the line says (up to the next iteration), with no Python on PATH
    with open(str(tmp_path / "resume.sh"), "w") as f:
        f.write(match.group(3).replace("num_train_iters=%d" % 10 ** 6, "num_train_iters=%d" % (done + 1)) + "\n")
    only_bash = tmp_path / "bin"
    only_bash.mkdir()
    os.symlink(shutil.which("bash"), str(only_bash / "bash"))
    proc = run_script(str(tmp_path / "resume.sh"), cwd=str(tmp_path), env={"PATH": str(only_bash)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "restored %s" % ckpt_prefix(model_dir, "model", done) in proc.stdout
    assert latest_iteration(model_dir) == done + 1


def test_a_second_signal_stops_at_once(demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    options = dict(SMALL, dataset_dir=demo_data, model_dir=model_dir, eval_step=3, tensorboard=False,
                   num_train_iters=10 ** 6)
    proc = start_script("train_model.py", *kv_words(options), cwd=str(tmp_path))
    with lines_read_while_running(proc.stdout, proc) as out, lines_read_while_running(proc.stderr, proc) as lines:
        wait_for_log_step(out, 3)
        proc.send_signal(signal.SIGTERM)
        lines.wait_for(lambda l: "finishing the current step" in l, timeout=120)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
    assert any("SIGTERM: finishing the current step" in l for l in lines), "".join(lines)
    assert proc.returncode == -signal.SIGTERM, "".join(lines)[-2000:]  # killed by the second one
    assert not any("stopped by SIGTERM" in l for l in lines)
    check_nothing_unreadable(model_dir)


@pytest.mark.parametrize("what", ["checkpoint", "log"])
def test_a_full_disk_while_saving_is_one_line_and_leaves_the_earlier_checkpoints(what, demo_data, tmp_path):
    model_dir = str(tmp_path / "m")
    proc = run_script("tests/enospc_harness.py", *kv_words(dict(SMALL, dataset_dir=demo_data, model_dir=model_dir,
                                                                eval_step=2, num_train_iters=6, tensorboard=False)),
                      cwd=str(tmp_path), env={"ENOSPC_AT": "4", "ENOSPC_WHAT": what})
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = error_lines(proc)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "No space left on device" in lines[0] and "resume with restore_iter=latest" in lines[0], lines[0]
    if what == "checkpoint":
        assert "cannot write checkpoint %s" % ckpt_prefix(model_dir, "model", 4) in lines[0]
        assert existing_iterations(model_dir, "model") == [2]
    else:
        assert "cannot append to the log" in lines[0]
        assert existing_iterations(model_dir, "model") == [2, 4]
    assert [int(LOG_LINE.match(l).group(1)) for l in log_lines(os.path.join(model_dir, "logs_model_0-6.txt"))] == [2]
    assert not [n for n in os.listdir(model_dir) if n.startswith(".tmp-") or n.endswith(".tmp")], os.listdir(model_dir)
    check_nothing_unreadable(model_dir)
