"""Train a RAW -> RGB network on the MAI21 layout.

    python train_model.py arch=model batch_size=32 num_train_iters=100000

Loss: 20*MSE + VGG-19 content (relu5_4) + 20*(1 - SSIM); Adam. Random 90-degree rotations and
flips; `train_size` random training patches are re-drawn at every multiple of 1000 iterations, each
pool a function of the seed and that iteration alone, decoded in the background while the pool
before it trains (`load_workers` threads; 0: in the training loop); each step's batch is built by a
thread while the step before runs and fed as uint16/uint8, made float in the graph. Every `eval_step`
iterations: validation (loss, content, MSE, PSNR, MS-SSIM), a checkpoint
`<model_dir>/<arch>_iteration_<iter>.ckpt` (the network's variables and Adam's state) and a line in
`<model_dir>/logs_<arch>_<restore_iter>-<num_train_iters>.txt`; every `save_minutes` also a
checkpoint without validation, which the next checkpoint replaces; `keep_checkpoints=N` keeps the
newest N eval_step checkpoints.
`restore_iter=N` resumes from checkpoint N, `restore_iter=latest` from the newest (after a kill:
checkpoints are written atomically), continuing Adam as it was (from a checkpoint of the network
alone, written before checkpoints held Adam's state, Adam starts afresh, said in a line);
restore_iter=None starts afresh (the log is then named logs_<arch>_0-...), from random weights or,
with `init_from=<checkpoint>`, from that checkpoint's network weights (fine-tuning; Adam starts afresh). Nothing is replaced unasked: a fresh run into a
model_dir that holds this arch's checkpoints or logs, and a restore_iter=N below the newest
checkpoint, stop with one line (overwrite=True removes that arch's checkpoints, logs and
TensorBoard runs after the start). TensorBoard summaries (training loss every `summary_step`
iterations, validation figures and crops every `eval_step`, the graph) go to
<model_dir>/tensorboard/<arch>_<start>-<end>/, one folder per training run: a resumed run writes
into the folder of the run it continues (named by that run's first start and end), its events
replacing those an interrupted process wrote past the checkpoint (a fresh run that diverges before
its first checkpoint removes its folder again; .2, .3 ... where a killed attempt from the same start
left one);
`save_mid_imgs=True` also writes <result_dir>/<arch>_iteration_<iter>_val.png (RAW preview |
output | target for a few validation crops).
"""
import math
import os
import shutil
import sys
import time
from collections import namedtuple
from contextlib import ExitStack

from isp.errors import (  # first: a third-party module missing below is one line (isp/errors.py)
    Interrupted,
    RunFailure,
    SignalStop,
    UsageError,
    python_command,
    run_main,
    signal_name,
)

import numpy as np

from isp import load_dataset
from isp import previews
from isp import runlock
from isp import vgg
from isp.args import (
    RESTORE_ITER,
    Arg,
    given_keys,
    non_negative_float,
    non_negative_int,
    optional_int,
    optional_path,
    optional_positive_int,
    parse_args,
    positive_float,
    positive_int,
    to_bool,
)
from isp.batches import Batches, batch_stream, compact_input
from isp.checkpoints import (
    Savers,
    checkpoint_bytes,
    ckpt_prefix,
    continued_tensorboard_run,
    damage,
    latest_prefix,
    outputs_after,
    prune_checkpoints,
    remove_outputs_after,
    remove_stale_temporaries,
    restorable,
    restore,
    restore_training,
    save_checkpoint,
    tensorboard_dir,
)
from isp.evaluate import psnr
from isp.horovod_ranks import HorovodRanks, SingleProcess, check_launch, start_horovod
from isp.losses import build_losses
from isp.patch_pools import (
    DEFAULT_TRAIN_SIZE,
    BadFiles,
    PoolDraws,
    admit_pool,
    pool_end,
    pool_iteration,
    prefetch_after,
    redraw,
    redraw_due,
)
from isp.pool_loader import PoolLoader
from isp.progress import progress
from isp.session import session_config
from isp.summaries import Summaries
from isp.tfimport import import_tf
from isp.train_checks import check_args, read_exclude
from isp.train_log import format_log_line, log_path, log_text
from isp.utils import atomic_write_text, default_folder_note, ensure_dirs, print_if

ARGS = [
    Arg("dataset_dir", str, "raw_images/", "dataset root (train/, val/ inside)"),
    Arg("val_split", str, "val", "the split folder validated on (test for the Zurich RAW-to-RGB set, which has no val/)"),
    Arg("exclude", optional_path, None,
        "a file of pairs to leave out, one split/name a line (check_dataset.py's exclude.txt)"),
    Arg("model_dir", str, "models/", "where checkpoints and logs are written"),
    Arg("result_dir", str, "results/", "where save_mid_imgs writes its PNGs"),
    Arg("vgg_dir", str, "vgg_pretrained/imagenet-vgg-verydeep-19.mat", "MatConvNet VGG-19 .mat for the content loss"),
    Arg("dslr_dir", str, "fujifilm/", "target (RGB: PNG or JPEG) sub-folder of train/ and val/ (canon/ in the Zurich set)"),
    Arg("phone_dir", str, "mediatek_raw/", "RAW sub-folder of train/ and val/ (huawei_raw/ in the Zurich set)"),
    Arg("arch", str, "model", "network: model (compact) or punet (MAI21 baseline)"),
    Arg("num_maps_base", positive_int, 16, "base number of feature maps"),
    RESTORE_ITER._replace(
        help="resume from <arch>_iteration_<restore_iter>.ckpt (latest: the newest one, or start afresh if none)"),
    Arg("init_from", optional_path, None,
        "start a fresh run from this checkpoint's network weights (e.g. models/original/model_pretrained.ckpt); "
        "the optimiser starts afresh"),
    Arg("patch_w", positive_int, 256, "training patch width (full-resolution pixels)"),
    Arg("patch_h", positive_int, 256, "training patch height (full-resolution pixels)"),
    Arg("batch_size", positive_int, 32, "patches per training step (per rank with distributed=True)"),
    Arg("train_size", positive_int, DEFAULT_TRAIN_SIZE, "training patches held in memory (re-drawn every 1000 iterations)"),
    Arg("load_workers", non_negative_int, min(4, os.cpu_count() or 1),
        "threads decoding the next patch pool in the background while training goes on (0: in the training loop)"),
    Arg("learning_rate", positive_float, 5e-5, "Adam learning rate"),
    Arg("eval_step", positive_int, 1000, "validate and save a checkpoint every this many iterations"),
    Arg("save_minutes", non_negative_float, 10.0,
        "also save a checkpoint every this many minutes of training, replacing the previous such one, so that a "
        "kill loses at most that much (0: only every eval_step)"),
    Arg("keep_checkpoints", optional_positive_int, None, "keep only the newest this many eval_step checkpoints (None: all)"),
    Arg("num_train_iters", positive_int, 100000, "train up to this iteration"),
    Arg("content_loss", to_bool, True, "use the VGG-19 content loss (False: no VGG file needed)"),
    Arg("seed", optional_int, None, "random seed for data sampling and initialisation"),
    Arg("tensorboard", to_bool, True, "write TensorBoard summaries under <model_dir>/tensorboard/"),
    Arg("summary_step", positive_int, 10, "TensorBoard: mean training loss every this many iterations"),
    Arg("save_mid_imgs", to_bool, False, "write RAW preview | output | target PNGs to result_dir every eval_step"),
    Arg("augment", to_bool, True, "random 90-degree rotations and flips of each batch"),
    Arg("use_gpu", to_bool, True, "False hides all GPUs: training runs on the CPU"),
    Arg("distributed", to_bool, False, "data-parallel training through Horovod: horovodrun -np N python train_model.py ..."),
    Arg("scale_lr", to_bool, False, "distributed: multiply learning_rate by the number of ranks"),
    Arg("overwrite", to_bool, False,
        "start over an earlier run: remove this arch's checkpoints, logs and TensorBoard runs after the start"),
]
VAL_PREVIEW = 4  # validation crops shown in TensorBoard and in save_mid_imgs PNGs

Inputs = namedtuple("Inputs", "vgg_weights val_raw val_rgb")
# raw, rgb: the placeholders fed (uint16 planes, uint8 targets); phone, target: the float32 made of them
# savers: checkpoints.Savers (the run's saver writes the network's variables and the optimizer's state)
Net = namedtuple("Net", "raw rgb phone target enhanced terms loss_fetch train_step savers weights_finite")
# what every step of a run uses: `args` are the checked arguments (restore_iter resolved), `start`
# the iteration it starts from, `summaries` None without TensorBoard (and on ranks other than 0)
Run = namedtuple("Run", "sess args net inputs ranks summaries bad start")


def main(argv):
    a = parse_args(ARGS, argv, prog="train_model.py", doc=__doc__)
    check_launch(a["distributed"])
    ranks = HorovodRanks(start_horovod(a["use_gpu"])) if a["distributed"] else SingleProcess()
    if ranks.rank == 0:
        print_if(default_folder_note(a["model_dir"], "model_dir", given_keys(argv)))
        # a second run into a model_dir in use stops first: its checkpoints change while they are read
        runlock.hold(a["model_dir"])
    start = check_args(a["arch"], a["model_dir"], a["restore_iter"], a["num_train_iters"], a["patch_w"], a["patch_h"],
                       a["num_maps_base"], a["seed"], a["init_from"], a["overwrite"], ranks.rank)
    if start is None:
        return  # restore_iter=latest found the training already done
    excluded = read_exclude(a["exclude"], a["dataset_dir"], a["val_split"], a["phone_dir"], a["dslr_dir"], ranks.rank)
    args = dict(a, restore_iter=start[0], latest=start[1], init_from=start[2], excluded=excluded)
    inputs = load_inputs(args)
    tf = import_tf(use_gpu=args["use_gpu"])  # hides the GPUs before a session sees them
    if ranks.rank == 0:
        args = choose_checkpoint(tf, args)
    net = build_graph(tf, args, inputs.vgg_weights, ranks)
    config = session_config(tf)
    ranks.configure(config)
    with ExitStack() as stack:  # closed in reverse: TensorBoard, the pool loader, the session
        sess = stack.enter_context(tf.Session(config=config))
        start, seed = start_or_restore(tf, sess, args, net, ranks)
        left_out = excluded_from(args, "train")
        bad = BadFiles(args["dataset_dir"], args["phone_dir"], args["dslr_dir"], left_out)
        pool_draws = PoolDraws(seed, args["dataset_dir"], args["phone_dir"], args["dslr_dir"], args["train_size"],
                               args["patch_h"], args["patch_w"], args["load_workers"], left_out)
        pools = stack.enter_context(PoolLoader(pool_draws, background=args["load_workers"] > 0))
        # the first patches: on a fresh run a bad file is named before anything is written
        admit_pool(pools.first(pool_iteration(start), None if not start else dict(bad)), bad)
        batches = stack.enter_context(open_batches(args, ranks, seed, start, pools.pool, bad))
        if ranks.rank == 0:  # only now, with every input checked, is anything written (and only by rank 0)
            prepare_outputs(args)
        summaries = None
        if args["tensorboard"] and ranks.rank == 0:
            resumed = args["restore_iter"] is not None
            continued = continued_tensorboard_run(args["model_dir"], args["arch"], start) if resumed else None
            logdir = continued or tensorboard_dir(args["model_dir"], args["arch"], start, args["num_train_iters"])
            if not continued:  # a folder it continues holds the earlier run's events: never removed
                stack.push(forget_if_diverged(args, start, logdir))  # called after the writer below has closed
            summaries = stack.enter_context(Summaries(tf, logdir, sess.graph, start if resumed else None))
        try:
            train(Run(sess, args, net, inputs, ranks, summaries, bad, start), pools, batches)
        except tf.errors.ResourceExhaustedError as err:
            raise OutOfMemory(args, err) from None
    if ranks.rank == 0:
        print("done: checkpoints in %s, log %s" % (args["model_dir"], log_path(args["model_dir"], args["arch"], start,
                                                                               args["num_train_iters"])))


# --------------------------------------------------------------------------------------------
# read the inputs (the arguments are checked by train_checks: nothing fails on them after it)


def excluded_from(a, split):
    """The names of `split` that exclude= leaves out (train_checks.read_exclude read the file)."""
    return a["excluded"].get(split, frozenset())


def load_inputs(a):
    """Check the headers of every pair (modes, sizes), read the VGG file and the validation set."""
    for split in ("train", a["val_split"]):
        names = load_dataset.paired_names(a["dataset_dir"], split, a["phone_dir"], a["dslr_dir"], excluded_from(a, split))
        load_dataset.check_pairs(a["dataset_dir"], split, a["phone_dir"], a["dslr_dir"], names,
                                 a["patch_h"], a["patch_w"])
    vgg_weights = vgg.load_weights(a["vgg_dir"]) if a["content_loss"] else None
    val_raw, val_rgb = load_dataset.load_val_data(
        a["dataset_dir"], a["phone_dir"], a["dslr_dir"], a["patch_h"], a["patch_w"], a["val_split"],
        excluded_from(a, a["val_split"]))
    return Inputs(vgg_weights, val_raw, val_rgb)


def choose_checkpoint(tf, args):
    """Read the checkpoint to restore (or init_from's) back whole: a damaged one is a one-line
    error naming it, or, with restore_iter=latest, a warning and the newest older one that reads
    back. A copy of `args` with that restore_iter."""
    if args["init_from"] is not None:
        problem = damage(tf, args["init_from"])
        if problem:
            raise UsageError("init_from=%s: %s" % (args["init_from"], problem))
    return dict(args, restore_iter=restorable(tf, args["model_dir"], args["arch"], args["restore_iter"],
                                              args["latest"]))


def prepare_outputs(a):
    ensure_dirs(*[(a["model_dir"], "model_dir")] +
                ([(a["result_dir"], "result_dir")] if a["save_mid_imgs"] else []))
    runlock.hold(a["model_dir"], create=True)  # a run into a new model_dir takes the lock here
    remove_stale_temporaries(a["model_dir"], a["arch"])
    if a["overwrite"]:
        removed = remove_outputs_after(a["model_dir"], a["arch"], a["restore_iter"] or 0)
        if removed:
            print("overwrite=True: removed %s from %s" % (", ".join(removed), a["model_dir"]))


# --------------------------------------------------------------------------------------------
# build the graph, start or restore


def build_graph(tf, a, vgg_weights, ranks):
    """The network on patch placeholders, its loss terms, Adam on the generator's variables."""
    from isp import model  # builds on TensorFlow: imported after it
    ph, pw = a["patch_h"], a["patch_w"]
    if a["seed"] is not None:
        tf.set_random_seed(a["seed"])
    raw, phone = compact_input(tf, tf.uint16, [None, ph // 2, pw // 2, 4], load_dataset.RAW_SCALE, "raw_planes")
    enhanced = model.build(a["arch"], phone, a["num_maps_base"])
    rgb, target = compact_input(tf, tf.uint8, [None, ph, pw, 3], load_dataset.RGB_SCALE, "target_rgb")  # after it: see compact_input
    terms = build_losses(tf, enhanced, target, vgg_weights, ph, pw)
    gen_vars = [v for v in tf.global_variables() if v.name.startswith("generator")]
    optimizer = ranks.optimizer(tf.train.AdamOptimizer(ranks.learning_rate(a["learning_rate"], a["scale_lr"])))
    loss_fetch = ranks.mean(terms["loss"])
    before = set(tf.global_variables())
    global_step = tf.train.get_or_create_global_step()
    train_step = optimizer.minimize(terms["loss"], var_list=gen_vars, global_step=global_step)
    # Adam's slots and beta powers and the global step: a resumed run continues Adam as it was
    opt_vars = [v for v in tf.global_variables() if v not in before]
    ranks.share(tf, a["restore_iter"] or 0, a["seed"])  # after minimize: rank 0 hands out the optimizer's state too
    savers = Savers(tf.train.Saver(var_list=gen_vars + opt_vars, max_to_keep=None), tf.train.Saver(var_list=gen_vars),
                    [v.op.name for v in opt_vars])
    weights_finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in gen_vars])
    return Net(raw, rgb, phone, target, enhanced, terms, loss_fetch, train_step, savers, weights_finite)


def start_or_restore(tf, sess, a, net, ranks):
    """Initialise (or restore) the weights; returns the starting iteration and the data seed (a
    random one for seed=None, the same on every rank)."""
    sess.run(tf.global_variables_initializer())
    start, seed = ranks.agree(sess, a["restore_iter"] or 0, a["seed"])
    if a["restore_iter"] is not None and ranks.rank == 0:
        path = ckpt_prefix(a["model_dir"], a["arch"], start)
        afresh = restore_training(tf, net.savers, sess, path, a["arch"], a["num_maps_base"])
        print("restored %s" % path)
        if afresh:
            print(afresh)
    elif a["init_from"] is not None and ranks.rank == 0:  # the network's weights only: Adam's start afresh
        restore(tf, net.savers.network, sess, a["init_from"], a["arch"], a["num_maps_base"])
        print("initialised from %s" % a["init_from"])
    ranks.sync(sess, a["batch_size"], a["learning_rate"], a["scale_lr"])
    return start, seed


def open_batches(a, ranks, seed, start, pool, bad):
    """The run's Batches from iteration `start` on (`pool`: the first pool, that of `start`):
    every rank draws the same global batch of ranks x batch_size patches and builds its own slice,
    together exactly the patches one process with ranks x batch_size sees. A resumed run's stream
    is made again from the seed as the uninterrupted run drew it, every earlier pool taken to hold
    min(train_size, training files) patches (more files found bad before `start` make it differ)."""
    batch, square = a["batch_size"], a["patch_h"] == a["patch_w"]
    full = min(a["train_size"], bad.total)
    rng = batch_stream(seed, start, lambda i: len(pool.raw) if pool_iteration(i) == pool.iteration else full,
                       batch * ranks.size, a["augment"], square)
    return Batches(rng, batch * ranks.size, slice(ranks.rank * batch, (ranks.rank + 1) * batch), a["augment"], square)


def feed(net, raw, rgb):
    """The feed of a batch as the pools hold it: the graph makes it float (batches.compact_input)."""
    return {net.raw: raw, net.rgb: rgb}


# --------------------------------------------------------------------------------------------
# train


class Diverged(RunFailure):
    """A NaN/Inf: training stops with one line naming the iteration; nothing of it is saved."""

    def __init__(self, a, what, iteration):
        last = latest_prefix(a["model_dir"], a["arch"])
        super().__init__("%s became NaN/Inf at iteration %d; stopped without saving (last good checkpoint: %s); "
                         "lower learning_rate and %s" % (what, iteration, last or "none",
                                                         "resume with restore_iter=latest" if last else "start again"))


class OutOfMemory(UsageError):
    """The session ran out of memory (a GPU with too large a batch or patch): one line naming
    both and what to lower; nothing of the failed iterations is saved."""

    def __init__(self, a, err):
        last = latest_prefix(a["model_dir"], a["arch"])
        detail = (str(getattr(err, "message", "") or err).strip().splitlines() or ["ResourceExhaustedError"])[0]
        super().__init__("out of memory training batch_size=%d on %dx%d patches (%s); lower batch_size= (or patch_w= "
                         "and patch_h=) and %s" % (
                             a["batch_size"], a["patch_w"], a["patch_h"], detail[:200],
                             "resume with restore_iter=latest (the last checkpoint, %s, is intact)" % last
                             if last else "start again"))


def forget_if_diverged(a, start, logdir):
    """An ExitStack callback: when the run ends by Diverged before it saved a checkpoint of its
    own, remove the TensorBoard run folder it created (and tensorboard/ if it created that too).
    Such a run leaves nothing to resume, so its curve would only block the fresh run that the
    error line asks for, or mix into its folder. A run that saved checkpoints keeps its events."""
    parent = os.path.dirname(logdir)
    parent_existed = os.path.isdir(parent)

    def on_exit(kind, value, tb):
        if kind is not None and issubclass(kind, Diverged) and not outputs_after(a["model_dir"], a["arch"], start)[0]:
            shutil.rmtree(logdir, ignore_errors=True)
            if not parent_existed and os.path.isdir(parent) and not os.listdir(parent):
                os.rmdir(parent)
        return False
    return on_exit


def train(run, pools, batches):
    """Iterations start+1 .. num_train_iters on the patch pools of `pools` (a PoolLoader holding
    the first one), each on the next batch of `batches` (built while the step before runs);
    every eval_step (and at the last) rank 0 validates, saves a checkpoint and logs
    a line. Raises Diverged on a NaN/Inf loss or weight, and, after saving the iteration it
    finished, Interrupted on a SIGINT/SIGTERM (single process only)."""
    a, sess, net, ranks, summaries, start = run.args, run.sess, run.net, run.ranks, run.summaries, run.start
    end = a["num_train_iters"]
    running = []
    waits = []  # seconds the loop waited for its patch pool at each re-draw since the last log line
    batch_waits = []  # seconds the loop waited for each step's batch since the last log line
    t0 = time.monotonic()
    last_save = clock_minutes()
    bar = progress(range(start, end), desc="training %s" % a["arch"],
                   unit="it", initial=start, total=end, disable=ranks.rank != 0)
    finished = False
    try:
        with ExitStack() as stack:
            # a signal stops the run at a step boundary; Horovod's ranks would have to agree on the step
            stop = stack.enter_context(SignalStop()) if ranks.size == 1 else None
            prefetch_after(pools, pool_iteration(start), run.bad, end)
            batches.follow(pools.pool, start, pool_end(start, end))
            for i in bar:
                if redraw_due(i, start):  # swap in the next pool (built meanwhile), fetch the one after
                    waits.append(redraw(pools, i, run.bad, end))
                    if summaries is not None:
                        summaries.scalars(i, {"train/data_wait_s": waits[-1]})
                    batches.follow(pools.pool, i, pool_end(i, end))
                (raw, rgb), waited = batches.take()
                loss, _ = sess.run([net.loss_fetch, net.train_step], feed(net, raw, rgb))
                if not math.isfinite(loss):
                    raise Diverged(a, "the training loss", i + 1)
                running.append(loss)
                batch_waits.append(waited)
                if ranks.rank != 0 and len(running) > 1000:  # only rank 0 validates (and empties them)
                    del running[:-100], batch_waits[:-100]
                bar.set_postfix(loss="%.4f" % np.mean(running[-100:]), refresh=False)
                done = i + 1
                if summaries is not None and done % a["summary_step"] == 0:
                    summaries.scalars(done, {"train/loss": np.mean(running[-a["summary_step"]:]),
                                             "train/input_wait_ms": 1000 * np.mean(batch_waits[-a["summary_step"]:])})
                saved = done % a["eval_step"] == 0 or done == end
                if ranks.rank == 0 and saved:
                    line = validate_and_save(run, done, np.mean(running), time.monotonic() - t0, waits, batch_waits)
                    running, waits, batch_waits = [], [], []
                    bar.write(line)
                    last_save = clock_minutes()
                elif ranks.rank == 0 and a["save_minutes"] and clock_minutes() - last_save >= a["save_minutes"]:
                    bar.write(save_interim(run, done))
                    last_save = clock_minutes()
                if stop and stop.signum is not None and done < end:
                    if not saved:
                        bar.write(validate_and_save(run, done, np.mean(running), time.monotonic() - t0, waits,
                                                    batch_waits, signal_name(stop.signum)))
                    raise Interrupted("stopped by %s after iteration %d, saved as %s; resume with: %s" % (
                        signal_name(stop.signum), done, ckpt_prefix(a["model_dir"], a["arch"], done),
                        resume_command()), stop.signum)
        finished = True
    finally:
        if not finished:  # an error or interrupt line follows: no last progress line before it
            bar.leave = False
        bar.close()


def clock_minutes():
    """Minutes on a clock that only goes forward, for save_minutes."""
    return time.monotonic() / 60


def save_interim(run, done):
    """save_minutes: check the weights, save checkpoint `done` marked interim (no validation, no
    log line) and remove the interim one before it. The line to print."""
    a, sess, net = run.args, run.sess, run.net
    if not sess.run(net.weights_finite):
        raise Diverged(a, "a weight", done)
    prefix = save_checkpoint(net.savers.run, sess, a["model_dir"], a["arch"], done, interim=True)
    prune_checkpoints(a["model_dir"], a["arch"], done, None)
    return "saved %s (save_minutes=%g: replaced by the next checkpoint)" % (prefix, a["save_minutes"])


def resume_command():
    """This run's command line with restore_iter=latest, with this interpreter: it runs as printed,
    also outside an activated venv."""
    words = [w for w in sys.argv[1:] if not w.startswith("restore_iter=")] + ["restore_iter=latest"]
    return python_command("train_model.py", words)


def validate_and_save(run, done, train_loss, seconds, waits=(), batch_waits=(), interrupt=None):
    """Validate; unless that finds a NaN/Inf, save the checkpoint, then append the log line (after
    its checkpoint: nothing logged is ever missing one; it gives the time waited for patch pools at
    the re-draws and the mean wait for a step's batch since the last line, counts skipped training
    files, says when the save was for an interrupt and, in the run's first line, how big a checkpoint
    is); then removes the interim checkpoint before it and, with keep_checkpoints, the oldest
    checkpoints; TensorBoard and preview PNGs. The line. A failed write (a full disk) raises RunFailure."""
    a, sess, net, summaries = run.args, run.sess, run.net, run.summaries
    v, crops = validate(sess, net, run.inputs, a["batch_size"])
    if not (math.isfinite(v["loss"]) and sess.run(net.weights_finite)):
        raise Diverged(a, "the validation loss" if not math.isfinite(v["loss"]) else "a weight", done)
    prefix = save_checkpoint(net.savers.run, sess, a["model_dir"], a["arch"], done)
    path = log_path(a["model_dir"], a["arch"], run.start, a["num_train_iters"])
    # the run's first line says how much disk a checkpoint takes (the network and Adam's state)
    size = [] if os.path.isfile(path) else ["checkpoint %.2f MB" % (checkpoint_bytes(prefix) / 1e6)]
    notes = ([run.bad.note()] if run.bad else []) + (["interrupt save (%s)" % interrupt] if interrupt else []) + size
    line = format_log_line(done, train_loss, v, seconds, notes, data_wait=sum(waits) if waits else None,
                           input_wait=1000 * np.mean(batch_waits) if batch_waits else None)
    try:
        atomic_write_text(path, log_text(path, line), mode="a")
    except OSError as err:
        raise RunFailure("cannot append to the log %s (%s); checkpoint %s is saved; free space in %s and resume "
                         "with restore_iter=latest" % (path, err.strerror or err, prefix, a["model_dir"]))
    prune_checkpoints(a["model_dir"], a["arch"], done, a["keep_checkpoints"])
    if summaries is not None:
        summaries.scalars(done, {"val/" + k: v[k] for k in ("loss", "content", "mse", "psnr", "ssim", "ms_ssim")})
        summaries.images(done, {"val/%s" % name: previews.grid([[c[k] for c in crops]])
                                for k, name in enumerate(("input_preview", "output", "target"))})
    if a["save_mid_imgs"]:
        previews.save_png(os.path.join(a["result_dir"], "%s_iteration_%d_val.png" % (a["arch"], done)),
                          previews.labelled_grid([list(c) for c in crops], ("RAW preview", "output", "target"),
                                                 "%s iteration %d: validation PSNR %.2f dB" % (a["arch"], done, v["psnr"])))
    return line


def validate(sess, net, inputs, batch_size):
    """Mean validation figures, and the first crops as (input preview, output, target). The
    validation set is fed as it is held (uint16, uint8), batch by batch."""
    val_raw, val_rgb = inputs.val_raw, inputs.val_rgb
    sums = dict.fromkeys(net.terms, 0.0)
    crops = []
    for i in range(0, len(val_raw), batch_size):
        raw, rgb = val_raw[i:i + batch_size], val_rgb[i:i + batch_size]
        values, out = sess.run([net.terms, net.enhanced], feed(net, raw, rgb))
        for j in range(min(VAL_PREVIEW - len(crops), len(raw))):
            x, y = load_dataset.to_float(raw[j], rgb[j])
            crops.append((previews.raw_preview(x), out[j], y))
        for k in sums:
            sums[k] += values[k] * len(raw)
    means = {k: v / len(val_raw) for k, v in sums.items()}
    means["psnr"] = psnr(means["mse"])
    return means, crops


if __name__ == "__main__":
    run_main(main)
