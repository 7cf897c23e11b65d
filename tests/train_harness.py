"""Test harness: runs train_model.py's main() unchanged but for two test hooks, so that a test can
kill a run at a precise moment or make its session fail. Used by tests/test_train_resume.py.

TRAIN_HOOK=<moment>:<iteration> (one of):
  saved:N   pause once checkpoint N is complete (and logged, for an eval_step one)
  step:N    pause inside training step N, once the session ran it (the weights in memory are N's)
  saving:N  pause inside the save of checkpoint N: its data file is in place, its .index not yet
  oom:N     the session raises ResourceExhaustedError in training step N
A pause flushes the TensorBoard events written so far (what a run killed long after the writer's
last flush, every two minutes, leaves on disk), writes <HOOK_DIR>/paused and sleeps: the test then
sends SIGKILL to every process that wrote its id into <HOOK_DIR>/pids/ (each one at its start: the
ranks of a Horovod run too).
TRAIN_CLOCK=steps: train_model's save_minutes clock reads one minute per training step run (a
clock that a test can count on, whatever the machine's speed)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from isp.errors import run_main  # noqa: E402
from isp.tfimport import import_tf  # noqa: E402

tf = import_tf()
MOMENT, _, ITERATION = os.environ.get("TRAIN_HOOK", "none:0").partition(":")
ITERATION = int(ITERATION)
steps = []  # the training steps this process ran
summaries = []  # the TensorBoard writers this process opened


def pause():
    for each in summaries:
        each.writer.flush()
    with open(os.path.join(os.environ["HOOK_DIR"], "paused"), "w") as f:
        f.write("%s:%d\n" % (MOMENT, ITERATION))
    while True:
        time.sleep(60)


def main():
    if os.environ.get("HOOK_DIR"):
        pids = os.path.join(os.environ["HOOK_DIR"], "pids")
        os.makedirs(pids, exist_ok=True)
        open(os.path.join(pids, str(os.getpid())), "w").close()
    import train_model
    build, validate_and_save, save_interim = train_model.build_graph, train_model.validate_and_save, train_model.save_interim
    run, replace, train = tf.Session.run, os.replace, train_model.train
    train_step, start = [], []  # the run's training op and first iteration, once known
    opened = train_model.Summaries

    def summaries_(*args, **kwargs):
        summaries.append(opened(*args, **kwargs))
        return summaries[-1]

    def build_graph(*args):
        net = build(*args)
        train_step.append(net.train_step)
        return net

    def session_run(self, fetches, *args, **kwargs):
        if not (isinstance(fetches, list) and train_step and train_step[0] in fetches):
            return run(self, fetches, *args, **kwargs)
        iteration = start[0] + len(steps) + 1
        if MOMENT == "oom" and iteration == ITERATION:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[2,16,32,32] "
                                                   "(raised by tests/train_harness.py)")
        out = run(self, fetches, *args, **kwargs)
        steps.append(iteration)
        if MOMENT == "step" and iteration == ITERATION:
            pause()
        return out

    def saved(save):
        def wrapped(run_, done, *args, **kwargs):
            out = save(run_, done, *args, **kwargs)
            if MOMENT == "saved" and done == ITERATION:
                pause()
            return out
        return wrapped

    def os_replace(src, dst):
        if MOMENT == "saving" and dst.endswith("_iteration_%d.ckpt.index" % ITERATION):
            pause()
        return replace(src, dst)

    def train_(run_, *args):
        start.append(run_.start)
        return train(run_, *args)

    train_model.build_graph, train_model.train, train_model.Summaries = build_graph, train_, summaries_
    train_model.validate_and_save, train_model.save_interim = saved(validate_and_save), saved(save_interim)
    tf.Session.run, os.replace = session_run, os_replace
    if os.environ.get("TRAIN_CLOCK") == "steps":
        train_model.clock_minutes = lambda: float(len(steps))
    run_main(train_model.main)


if __name__ == "__main__":
    main()
