"""Checkpoints: their names, finding them, saving them atomically, removing what a kill left,
restoring them (with a one-line explanation when one does not fit the graph), freezing a graph.

A checkpoint is <model_dir>/<arch>_iteration_<iter>.ckpt (.index + .data-*); it counts as complete
once its .index exists. A training checkpoint holds the network's variables (generator/...) and
the optimizer's state (Adam's slots generator/.../Adam and Adam_1, beta1_power, beta2_power,
global_step); whatever reads only the network restores its variables by name and ignores the rest.
Nothing here imports TensorFlow: the functions that need it take `tf`.
"""
import glob
import os
import shutil
import sys
from collections import namedtuple

from isp.archs import ARCHS
from isp.errors import RunFailure, UsageError, first_line, python_command
from isp.train_log import run_logs
from isp import ROOT
from isp.utils import atomic_output

TMP_PREFIX = ".tmp-"  # checkpoints being written; renamed into place when complete
# a training run's savers: `run` writes and restores the network's variables with the optimizer's
# state, `network` the network's alone; optimizer_names: the names of the optimizer's variables
Savers = namedtuple("Savers", "run network optimizer_names")
# an empty file <checkpoint>.interim marks a checkpoint saved by the clock, not by eval_step: it is
# written before the checkpoint, so every complete interim checkpoint has it
INTERIM = ".interim"


def ckpt_prefix(model_dir, arch, iteration):
    return os.path.join(model_dir, "%s_iteration_%d.ckpt" % (arch, iteration))


def checkpoint_exists(prefix):
    """A TF checkpoint is complete once its .index is written (the saver writes it last)."""
    return os.path.isfile(prefix + ".index")


def existing_iterations(model_dir, arch):
    """Iterations with a complete checkpoint for `arch` in model_dir, ascending."""
    found = []
    if os.path.isdir(model_dir):
        head = "%s_iteration_" % arch
        for name in os.listdir(model_dir):
            if name.startswith(head) and name.endswith(".ckpt.index"):
                number = name[len(head):-len(".ckpt.index")]
                if number.isdigit():
                    found.append(int(number))
    return sorted(found)


def tensorboard_runs(model_dir, arch):
    """[(start, end, path)] of the TensorBoard run folders <model_dir>/tensorboard/<arch>_<start>-<end>
    (and <arch>_<start>-<end>.<n>: see tensorboard_dir), in order of start, end and attempt."""
    found = []
    folder = os.path.join(model_dir, "tensorboard")
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            head, _, span = name.rpartition("_")
            start, _, end = span.partition("-")
            end, _, attempt = end.partition(".")
            if head == arch and start.isdigit() and end.isdigit() and (attempt.isdigit() or not attempt):
                found.append((int(start), int(end), int(attempt or 1), os.path.join(folder, name)))
    return [(start, end, path) for start, end, _, path in sorted(found)]


def tensorboard_dir(model_dir, arch, start, end):
    """The TensorBoard run folder of a fresh run from `start` to `end`: <arch>_<start>-<end>, or, where
    an earlier attempt from the same start left that folder (killed before it saved anything beyond
    `start`), <arch>_<start>-<end>.2 (.3, ...): a fresh run never writes its events into another's
    folder, where TensorBoard would mix both curves into one run."""
    base = os.path.join(model_dir, "tensorboard", "%s_%d-%d" % (arch, start, end))
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = "%s.%d" % (base, n)
    return path


def continued_tensorboard_run(model_dir, arch, iteration):
    """The TensorBoard run folder of the run that made checkpoint `iteration`, which a run resumed
    from it continues (so that TensorBoard shows one run however often it was resumed): the folder
    of `arch` whose run started last at or before `iteration`. Every resume writes into the folder
    it continues, so beyond the run's first start a folder exists only where TensorBoard was off
    before; a branch with overwrite=True removed the folders of runs that started after it. The
    name stays the first start's: <arch>_<start>-<end> like the run's first log, also when a resume
    trains beyond that end. None where no folder started by `iteration` (TensorBoard was off)."""
    before = [path for start, _, path in tensorboard_runs(model_dir, arch) if start <= iteration]
    return before[-1] if before else None


def outputs_after(model_dir, arch, start):
    """What earlier runs of `arch` left in model_dir beyond iteration `start`: checkpoints of later
    iterations, and the logs and TensorBoard folders of runs that started at `start` or later.
    Returns (checkpoint iterations, [paths of logs and folders])."""
    iters = [i for i in existing_iterations(model_dir, arch) if i > start]
    paths = [p for s, _, p in run_logs(model_dir, arch) + tensorboard_runs(model_dir, arch) if s >= start]
    return iters, paths


def remove_outputs_after(model_dir, arch, start):
    """Remove what outputs_after names (asked for with train_model.py overwrite=True); returns
    the names removed."""
    iters, paths = outputs_after(model_dir, arch, start)
    removed = []
    for i in iters:
        removed.append(os.path.basename(remove_checkpoint(ckpt_prefix(model_dir, arch, i))))
    for path in paths:
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
        removed.append(os.path.relpath(path, model_dir))
    return removed


def remove_checkpoint(prefix):
    """Remove a checkpoint's files, its .index first: a kill midway leaves no complete-looking
    checkpoint with missing data. Returns the prefix."""
    os.remove(prefix + ".index")
    for path in glob.glob(glob.escape(prefix) + ".*"):
        os.remove(path)
    return prefix


def checkpoint_bytes(prefix):
    """The size of a checkpoint on disk (its .index and .data files)."""
    return sum(os.path.getsize(p) for p in [prefix + ".index"] + glob.glob(glob.escape(prefix) + ".data-*"))


def interim_iterations(model_dir, arch):
    """The complete checkpoints of `arch` saved by the clock (train_model.py save_minutes=): those
    with an INTERIM marker beside them."""
    return [i for i in existing_iterations(model_dir, arch) if os.path.isfile(ckpt_prefix(model_dir, arch, i) + INTERIM)]


def prune_checkpoints(model_dir, arch, newest, keep):
    """After checkpoint `newest` is saved: remove the interim checkpoints older than it and, with
    `keep` (None: all), the eval_step checkpoints beyond the newest `keep`. The names removed."""
    removed = [i for i in interim_iterations(model_dir, arch) if i < newest]
    for i in removed:
        remove_checkpoint(ckpt_prefix(model_dir, arch, i))
    if keep is not None:
        older = existing_iterations(model_dir, arch)[:-keep]
        for i in older:
            remove_checkpoint(ckpt_prefix(model_dir, arch, i))
        removed += older
    return [os.path.basename(ckpt_prefix(model_dir, arch, i)) for i in sorted(removed)]


def latest_prefix(model_dir, arch):
    """The prefix of the newest complete checkpoint of `arch`, or None."""
    have = existing_iterations(model_dir, arch)
    return ckpt_prefix(model_dir, arch, have[-1]) if have else None


def other_arch_hint(model_dir, arch):
    """'; it holds arch=punet checkpoints (200, 400): pass arch=punet' when model_dir has no
    checkpoint of `arch` but has another arch's, else ''."""
    if existing_iterations(model_dir, arch):
        return ""
    for other in ARCHS:
        have = existing_iterations(model_dir, other) if other != arch else []
        if have:
            return "; %r holds arch=%s checkpoints (%s): pass arch=%s" % (
                model_dir, other, ", ".join(map(str, have[-5:])), other)
    return ""


def require_checkpoint(model_dir, arch, iteration):
    """The prefix of <arch>_iteration_<iteration>.ckpt, or UsageError listing the ones that exist."""
    prefix = ckpt_prefix(model_dir, arch, iteration)
    if not checkpoint_exists(prefix):
        have = existing_iterations(model_dir, arch)
        raise UsageError("no checkpoint %s; existing %s checkpoints: %s%s" % (
            prefix, arch, ", ".join(map(str, have)) if have else "none", other_arch_hint(model_dir, arch)))
    return prefix


def find_checkpoint(model_dir, arch, restore_iter=None, orig=False):
    """The checkpoint prefix that orig / restore_iter name (the last one for restore_iter=None or
    "latest")."""
    restore_iter = None if restore_iter == "latest" else restore_iter
    if orig:
        prefix = os.path.join(model_dir, "original", "%s_pretrained.ckpt" % arch)
        if not checkpoint_exists(prefix):
            where = "" if os.path.isabs(prefix) else " (relative to the current folder %s)" % os.getcwd()
            raise UsageError("orig=True but %s(.index) does not exist%s; put the pretrained %s checkpoint there, "
                             "set model_dir= the folder whose original/ holds it, or use orig=False" % (
                                 prefix, where, arch))
        return prefix
    if restore_iter is not None:
        return require_checkpoint(model_dir, arch, restore_iter)
    prefix = latest_prefix(model_dir, arch)
    if prefix is None:
        hint = other_arch_hint(model_dir, arch)
        raise UsageError("no %s checkpoint (%s_iteration_N.ckpt) in %r%s" % (
            arch, arch, model_dir, hint or "; train first (%s) or pass orig=True" % python_command("train_model.py", ["arch=" + arch])))
    return prefix


def damage(tf, prefix):
    """None when every tensor of the checkpoint reads back whole; else what is wrong, in words
    that name the file (a .data file cut short by a full disk or an interrupted copy, a missing
    one). Reads the whole checkpoint: the network's weights, a few MB."""
    data = sorted(glob.glob(glob.escape(prefix) + ".data-*"))
    sizes = ", ".join("%s (%d bytes)" % (p, os.path.getsize(p)) for p in data) or "no .data file beside it"
    try:
        reader = tf.train.NewCheckpointReader(prefix)
        for name in sorted(reader.get_variable_to_shape_map()):
            reader.get_tensor(name)
    except Exception as err:  # TF 1.15's reader raises tf.errors.*, TF 2.x's IndexError and others
        return "checkpoint %s is damaged: reading it from %s fails with %r (cut short by a full disk or an " \
               "interrupted copy?)" % (prefix, sizes, first_line(err))
    return None


def restorable(tf, model_dir, arch, iteration, fallback):
    """The iteration to restore: `iteration` if its checkpoint reads back whole. A damaged one is a
    UsageError naming the file, or, with `fallback` (restore_iter=latest), a warning and the next
    older checkpoint that reads back (None when there is no checkpoint at all)."""
    if iteration is None:
        return None
    problem = damage(tf, ckpt_prefix(model_dir, arch, iteration))
    if problem is None:
        return iteration
    if not fallback:
        raise UsageError("%s; use another restore_iter (existing: %s)" % (
            problem, ", ".join(map(str, existing_iterations(model_dir, arch)))))
    sys.stderr.write("warning: %s; trying the one before it\n" % problem)
    older = [i for i in existing_iterations(model_dir, arch) if i < iteration]
    if not older:
        raise UsageError("restore_iter=latest: no %s checkpoint in %s reads back whole (%s); move the damaged "
                         "ones away to start afresh" % (arch, model_dir, problem))
    return restorable(tf, model_dir, arch, older[-1], fallback)


def shipped_model_dir(model_dir, arch, orig, given):
    """The model_dir to read: the one given, or, for orig=True with the default model_dir when the
    working folder has no original/ checkpoint, the project's own models/ (which ships the
    pretrained arch=model), with the line that says so (else None)."""
    if not orig or "model_dir" in given or os.path.isabs(model_dir):
        return model_dir, None
    shipped = os.path.join(ROOT, model_dir)  # the files the project ships, from any working folder
    name = os.path.join("original", "%s_pretrained.ckpt" % arch)
    if checkpoint_exists(os.path.join(model_dir, name)) or not checkpoint_exists(os.path.join(shipped, name)):
        return model_dir, None
    return shipped, "orig=True: %s is not under the current folder %s; using the project's %s" % (
        os.path.join(model_dir, name), os.getcwd(), os.path.join(shipped, name))


def find_restorable(tf, model_dir, arch, restore_iter=None, orig=False):
    """find_checkpoint's prefix once it reads back whole: a damaged checkpoint named by orig or
    restore_iter is a UsageError; for the newest (restore_iter=None or "latest"), older ones are tried in turn,
    each damaged one with a warning."""
    prefix = find_checkpoint(model_dir, arch, restore_iter, orig)
    if orig:
        problem = damage(tf, prefix)
        if problem:
            raise UsageError(problem)
        return prefix
    newest = restore_iter in (None, "latest")
    iteration = existing_iterations(model_dir, arch)[-1] if newest else restore_iter
    return ckpt_prefix(model_dir, arch, restorable(tf, model_dir, arch, iteration, newest))


def save_checkpoint(saver, sess, model_dir, arch, iteration, interim=False):
    """Write <arch>_iteration_<iteration>.ckpt atomically (see save_atomically), with its INTERIM
    marker when `interim`; its prefix."""
    prefix = ckpt_prefix(model_dir, arch, iteration)
    if interim:
        open(prefix + INTERIM, "w").close()
    save_atomically(saver, sess, prefix, "resume with restore_iter=latest")
    if not interim and os.path.exists(prefix + INTERIM):  # an interrupt save over this iteration's interim one
        os.remove(prefix + INTERIM)
    return prefix


def save_atomically(saver, sess, final, then):
    """Write the checkpoint `final` so that a kill at any moment leaves either the complete
    checkpoint or none: the saver writes under a temporary name, the data file is renamed into
    place, then the .index, which marks a checkpoint complete (`checkpoint_exists`). An older
    checkpoint of the same name loses its .index first, so new data never meets an old index.
    A failed write (a full disk: ENOSPC) removes the temporary files and raises RunFailure in one
    line ending with `then` (what to do next); the checkpoints already there are untouched."""
    folder = os.path.dirname(final) or "."
    tmp = os.path.join(folder, TMP_PREFIX + os.path.basename(final))
    try:
        saver.save(sess, tmp, write_meta_graph=False, write_state=False)
    except Exception as err:  # tf.errors.OpError from the C++ writer, OSError
        _remove(glob.glob(glob.escape(tmp) + "*"))
        raise RunFailure("cannot write checkpoint %s (%s); removed its temporary files, the earlier checkpoints "
                         "are intact; free space in %s and %s" % (final, first_line(err), folder, then))
    if os.path.exists(final + ".index"):
        os.remove(final + ".index")
    for path in glob.glob(glob.escape(tmp) + ".data-*"):
        os.replace(path, final + path[len(tmp):])
    os.replace(tmp + ".index", final + ".index")
    return final


def export_weights(tf, arch, num_maps_base, src, dst):
    """Restore checkpoint `src` into a graph of arch (so a checkpoint that does not fit is a
    one-line error) and save exactly the network's variables to the checkpoint `dst`, atomically."""
    from isp import model
    with tf.Graph().as_default():
        model.build(arch, tf.placeholder(tf.float32, [1, None, None, 4]), num_maps_base)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            restore(tf, saver, sess, src, arch, num_maps_base)
            return save_atomically(saver, sess, dst, "run the same command again")


def remove_stale_temporaries(model_dir, arch):
    """Remove what a killed run of this arch may have left half-written: temporary checkpoints
    and the temporary copies of logs (those of earlier runs' logs too, whose names differ by
    their restore_iter), interim markers without their checkpoint; complete files are never touched."""
    stale = glob.glob(os.path.join(glob.escape(model_dir), TMP_PREFIX + "%s_iteration_*" % arch))
    stale += glob.glob(os.path.join(glob.escape(model_dir), "logs_*-*.txt.tmp"))
    stale += [p for p in glob.glob(os.path.join(glob.escape(model_dir), "%s_iteration_*.ckpt%s" % (arch, INTERIM)))
              if not checkpoint_exists(p[:-len(INTERIM)])]  # the marker of an interim save a kill cut short
    _remove(stale)
    return stale


def _remove(paths):
    for path in paths:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)


def restore(tf, saver, sess, prefix, arch, num_maps_base):
    """saver.restore, or UsageError in one line saying which arch/num_maps_base the checkpoint
    was made with when it does not fit the graph."""
    try:
        saver.restore(sess, prefix)
    except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as err:
        from isp import model  # builds on TensorFlow, which is imported late (see tfimport.import_tf)
        raise UsageError(model.restore_error(prefix, arch, num_maps_base, err))
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError):  # damaged since `damage` looked
        raise UsageError(damage(tf, prefix) or "checkpoint %s is damaged" % prefix)


def restore_training(tf, savers, sess, prefix, arch, num_maps_base):
    """Restore a checkpoint to resume training from with `savers` (Savers). Returns None when the
    checkpoint held the optimizer's state too, else (a checkpoint written before checkpoints held it)
    the line to print: the network is restored and the optimizer starts afresh."""
    held = tf.train.NewCheckpointReader(prefix).get_variable_to_shape_map()
    if all(name in held for name in savers.optimizer_names):
        restore(tf, savers.run, sess, prefix, arch, num_maps_base)
        return None
    restore(tf, savers.network, sess, prefix, arch, num_maps_base)
    return ("%s holds the network's weights only (written before checkpoints held the optimizer's state): "
            "Adam's moments and step count start afresh" % prefix)


def strip_default_attrs(tf, graph_def):
    """The graph without the attributes that hold their op's default value. TensorFlow documents
    this for forward compatibility: a newer TF adds attributes with defaults to existing ops (e.g.
    MaxPool's explicit_paddings in TF 2.x), which an older TF refuses ("NodeDef mentions attr ... not
    in Op"), while a graph without them loads on every version. Done by the public
    export_meta_graph(strip_default_attrs=True), in a graph of its own."""
    with tf.Graph().as_default():
        return tf.train.export_meta_graph(graph_def=graph_def, strip_default_attrs=True).graph_def


def write_frozen_graph(tf, sess, out_nodes, path):
    """Freeze the session's graph (variables -> constants) up to out_nodes, strip default-valued
    attributes (so that both TF 1.15 and TF 2.x read it) and write it atomically."""
    frozen = tf.graph_util.convert_variables_to_constants(
        sess, sess.graph.as_graph_def(), list(out_nodes))
    frozen = strip_default_attrs(tf, tf.graph_util.extract_sub_graph(frozen, list(out_nodes)))
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(frozen.SerializeToString())
    return len(frozen.node)


def write_meta_graph(saver, path):
    """The session graph's meta graph (<checkpoint>.meta), default-valued attributes stripped so
    that either stack imports it, written atomically."""
    with atomic_output(path) as tmp:
        saver.export_meta_graph(tmp, strip_default_attrs=True)


def none_pb_path(prefix):
    """<model_dir>/<checkpoint>_none.pb: the frozen graph with input [1, None, None, 4]."""
    return prefix[:-len(".ckpt")] + "_none.pb" if prefix.endswith(".ckpt") else prefix + "_none.pb"


def freeze_checkpoint(tf, arch, num_maps_base, prefix, h, w, path, light=False):
    """Write the frozen graph of a checkpoint for h x w photos (Placeholder 1 x h/2 x w/2 x 4 ->
    output_l0), or for any size with h = w = None (Placeholder 1 x None x None x 4); returns its
    node count. light=True: the tile graph, whose second input model.LIGHT is the log of the photo's light."""
    from isp import model
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [1, None if h is None else h // 2, None if w is None else w // 2, 4])
        model.build(arch, x, num_maps_base, model.light_placeholder() if light else None)
        with tf.Session() as sess:
            restore(tf, tf.train.Saver(), sess, prefix, arch, num_maps_base)
            return write_frozen_graph(tf, sess, ["output_l0"], path)
