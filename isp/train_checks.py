"""train_model.py's checks of its arguments against model_dir, before anything is read or
written: restore_iter (latest resolved), init_from, exclude (read), and that a run never replaces or
mixes with an earlier run's files (a fresh run where one is, a branch below the newest checkpoint)."""
import os

from isp import load_dataset
from isp.archs import check_arch_and_size
from isp.checkpoints import checkpoint_exists, ckpt_prefix, existing_iterations, outputs_after, require_checkpoint
from isp.errors import UsageError


def check_args(arch, model_dir, restore_iter, num_train_iters, patch_w, patch_h, num_maps_base, seed, init_from,
               overwrite, rank=0):
    """UsageError for bad arguments. Where to start: (restore_iter with latest resolved: the newest
    checkpoint's iteration, or None; whether latest was asked for; the init_from to use, None when
    the run resumes); None when there is nothing to train (restore_iter=latest and the newest
    checkpoint is already at num_train_iters)."""
    check_arch_and_size(arch, "patch_w", patch_w, "patch_h", patch_h, num_maps_base)
    if min(patch_w, patch_h) < 32:
        raise UsageError("patch_w and patch_h must be at least 32 (SSIM needs 11x11 windows)")
    asked = restore_iter
    asked_latest = asked == "latest"
    if asked_latest:
        have = existing_iterations(model_dir, arch)
        restore_iter = have[-1] if have else None
        if not have:
            print("restore_iter=latest: no %s checkpoint in %s yet; starting afresh" % (arch, model_dir))
        elif have[-1] >= num_train_iters:
            print("restore_iter=latest: %s already reached iteration %d of num_train_iters=%d; nothing to train"
                  % (ckpt_prefix(model_dir, arch, have[-1]), have[-1], num_train_iters))
            return None
    if seed is not None and not 0 <= seed < 2 ** 32:
        raise UsageError("seed=%d: the seed must be an integer from 0 to 2**32 - 1, or None" % seed)
    if restore_iter is not None:
        if restore_iter < 0:
            raise UsageError("restore_iter must be a non-negative integer or None")
        if rank == 0:  # the other ranks get the weights from rank 0 (their disks may not hold them)
            require_checkpoint(model_dir, arch, restore_iter)
        if restore_iter >= num_train_iters:
            raise UsageError("restore_iter=%d is not below num_train_iters=%d: nothing to train"
                             % (restore_iter, num_train_iters))
    if init_from is not None:
        check_init_from(init_from, asked, restore_iter, model_dir, arch, rank)
    if rank == 0 and not overwrite and not (asked_latest and restore_iter is None):
        check_no_earlier_run(arch, model_dir, restore_iter)
    return restore_iter, asked_latest, init_from if restore_iter is None else None



def read_exclude(exclude, dataset_dir, val_split, phone_dir, dslr_dir, rank=0):
    """{split: names} that exclude= leaves out of training and validation ({} without it); said in
    one line (by rank 0). UsageError for a bad file (load_dataset.read_exclude)."""
    if exclude is None:
        return {}
    if not os.path.isdir(dataset_dir):
        return {}  # load_inputs names the missing dataset folder, with the fix
    found, other = load_dataset.read_exclude(exclude, dataset_dir, ("train", val_split), phone_dir, dslr_dir)
    if rank == 0:
        print("exclude=%s: leaving out %d training and %d validation pairs%s" % (
            exclude, len(found["train"]), len(found[val_split]),
            "" if not other else " (%d lines of other splits not used here)" % other))
    return found


def check_init_from(init_from, asked, restore_iter, model_dir, arch, rank=0):
    """init_from starts a fresh run (restore_iter=None, or latest where no checkpoint is yet, so
    that the printed resume command works); with restore_iter=N (`asked`: as given) it is a
    UsageError, with a checkpoint for latest to resume (`restore_iter`: resolved) it is not used
    (said in a line). A missing or damaged checkpoint is a UsageError naming it."""
    if asked not in (None, "latest"):
        raise UsageError("init_from=%s starts a fresh run, but restore_iter=%s resumes one; drop init_from to resume, "
                         "or restore_iter to start afresh from %s" % (init_from, asked, init_from))
    if restore_iter is not None:
        print("init_from=%s is not used: the run resumes from %s" % (
            init_from, ckpt_prefix(model_dir, arch, restore_iter)))
        return
    if rank == 0 and not checkpoint_exists(init_from):  # the other ranks get the weights from rank 0
        raise UsageError("init_from=%s: no such checkpoint (%s.index does not exist); name a checkpoint by its "
                         "prefix, e.g. models/original/model_pretrained.ckpt" % (init_from, init_from))


def check_no_earlier_run(arch, model_dir, start):
    """UsageError when this run would replace or mix with an earlier run's files in model_dir:
    a fresh run (start None) where this arch's checkpoints, logs or TensorBoard runs exist; a
    branch from restore_iter=start where later checkpoints exist."""
    iters, paths = outputs_after(model_dir, arch, start or 0)
    if start is None:
        iters = existing_iterations(model_dir, arch)
        if iters or paths:
            raise UsageError("model_dir %r already holds an arch=%s run (%s); resume it with restore_iter=latest, "
                             "choose another model_dir=, or pass overwrite=True to start afresh over it (removes "
                             "its checkpoints, logs and TensorBoard runs)" % (
                                 model_dir, arch, describe(iters, paths, model_dir)))
    elif iters:
        raise UsageError("restore_iter=%d: model_dir %r holds later arch=%s checkpoints (%s), which this run would "
                         "replace or leave mixed with its own; continue the newest with restore_iter=latest, branch "
                         "in another model_dir= (copy %s.* there), or pass overwrite=True to remove them" % (
                             start, model_dir, arch, describe(iters, paths, model_dir),
                             os.path.basename(ckpt_prefix(model_dir, arch, start))))


def describe(iters, paths, model_dir):
    parts = []
    if iters:
        parts.append("checkpoints of iteration%s %s" % ("" if len(iters) == 1 else "s", ", ".join(map(str, iters))))
    if paths:
        parts.append(", ".join(sorted(os.path.relpath(p, model_dir) for p in paths)))
    return "; ".join(parts)
