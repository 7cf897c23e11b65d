"""What train_model.py trains on: the pool of `train_size` random training patches, re-drawn at
every multiple of RELOAD_EVERY iterations, and the policy for training files that turn out
undecodable (skipped with a warning, up to BAD_SHARE of them). pool_loader.PoolLoader builds the
pools (PoolDraws) in the background; this module says which patches a pool holds."""
import sys
from collections import namedtuple

import numpy as np

from isp import load_dataset
from isp.errors import UsageError
from isp.utils import plural

RELOAD_EVERY = 1000  # the patch pool is re-drawn at every multiple of this many iterations
POOL_STREAM = 1  # tells the pools' random streams [seed, iteration, 1] from the batches' (seeded by seed alone)
BAD_SHARE = 0.01  # training files that may turn out undecodable (skipped) before the run stops: 1%, at least 1

Pool = namedtuple("Pool", "iteration raw rgb new_bad")


class BadFiles(dict):
    """Training files found undecodable (name -> reason): skipped and never drawn again. More than
    BAD_SHARE of the training files (and more than one) stops the run."""

    def __init__(self, dataset_dir, phone_dir, dslr_dir, exclude=frozenset()):
        super().__init__()
        self.total = len(load_dataset.paired_names(dataset_dir, "train", phone_dir, dslr_dir, exclude))
        self.limit = max(1, int(BAD_SHARE * self.total))

    def note(self):
        return "skipped %s" % plural(len(self), "bad training file")


def pool_iteration(i):
    """The iteration at which the pool that iteration i (0-based) trains on became active."""
    return i - i % RELOAD_EVERY


def pool_end(i, end):
    """The iteration at which the pool that iteration i trains on is replaced (at most `end`)."""
    return min(pool_iteration(i) + RELOAD_EVERY, end)


def redraw_due(i, start):
    """Whether iteration i (0-based) of a run that started at `start` trains on a new pool."""
    return i > start and i % RELOAD_EVERY == 0


def pool_rng(seed, iteration):
    """The random stream that draws the pool becoming active at `iteration`: a function of the seed
    and that iteration alone."""
    return np.random.RandomState([seed, iteration, POOL_STREAM])


DEFAULT_TRAIN_SIZE = 5000  # train_model.py's train_size


class PoolDraws:
    """Builds the training patch pool that becomes active at an iteration: `train_size` random
    patches drawn from np.random.RandomState([seed, iteration, POOL_STREAM]) alone, so the pool
    is known before it is needed (PoolLoader builds it while the one before trains), a resumed run
    trains on the pool the uninterrupted run had at that iteration, and Horovod's ranks (which
    share the seed) hold the same pool. `known` is None for the strict first pool of a fresh run (a
    bad file is then a one-line error), else a dict of the training files already found bad: they
    are not drawn, and the pool carries the ones it finds (admit_pool warns about them)."""

    def __init__(self, seed, dataset_dir, phone_dir, dslr_dir, train_size, patch_h, patch_w, load_workers,
                 exclude=frozenset()):
        self.seed = seed
        self.exclude = exclude  # the training pairs exclude= leaves out
        self.folders = dataset_dir, phone_dir, dslr_dir  # the training pairs: <dataset_dir>/train/<phone_dir>, ...
        self.size = train_size, patch_h, patch_w  # train_size patches of patch_h x patch_w a pool
        self.load_workers = load_workers  # decoding threads (0: in the calling thread)
        # train_size larger than the data: said once, for the first pool, where the user chose it (the
        # default is a ceiling a small dataset such as the demo's never reaches)
        self.warn = train_size != DEFAULT_TRAIN_SIZE

    def rng(self, iteration):
        return pool_rng(self.seed, iteration)

    def __call__(self, iteration, known, stop, foreground):
        found = None if known is None else dict(known)
        raw, rgb = load_dataset.load_training_batch(
            *self.folders, *self.size, self.rng(iteration), found, self.load_workers, stop, show_progress=foreground,
            warn=self.warn, exclude=self.exclude)
        self.warn = False
        return Pool(iteration, raw, rgb, {k: v for k, v in (found or {}).items() if k not in known})


def admit_pool(pool, bad):
    """Add the bad files a pool found to `bad`, one warning line for each; UsageError if that makes
    more than bad.limit of them (in the training loop's thread, whichever thread built the pool)."""
    bad.update(pool.new_bad)
    if len(bad) > bad.limit:
        raise UsageError("%d of the %d training files cannot be decoded, more than %g%% (at most %d may be "
                         "skipped): %s; repair or remove them, then resume with restore_iter=latest" % (
                             len(bad), bad.total, 100 * BAD_SHARE, bad.limit, ", ".join(sorted(bad))))
    for name in sorted(pool.new_bad):
        sys.stderr.write("warning: skipping training file %s (%s); %d of %d training files skipped so far, the run "
                         "stops above %d (%g%%)\n" % (name, bad[name], len(bad), bad.total, bad.limit,
                                                        100 * BAD_SHARE))


def prefetch_after(pools, iteration, bad, end):
    """Start building the pool of the next re-draw after `iteration`, if training (up to iteration
    `end`) gets there."""
    following = iteration + RELOAD_EVERY
    if following < end:
        pools.prefetch(following, dict(bad))


def redraw(pools, i, bad, end):
    """At a re-draw (redraw_due): make the pool built meanwhile the active one, admit its bad files
    and start building the one after. The seconds waited for it."""
    waited = pools.take(i)
    admit_pool(pools.pool, bad)
    prefetch_after(pools, i, bad, end)
    return waited
