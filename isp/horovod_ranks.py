"""Horovod for train_model.py's distributed=True: data-parallel training, one process per rank.
SingleProcess is the same interface for a plain run, so the training steps have no Horovod
branches. Horovod itself is imported only by start_horovod."""
import os

import numpy as np

from isp.errors import UsageError
from isp.tfimport import import_tf, tf_version
from isp.utils import plural

HOROVOD_INSTALL = {  # where Horovod 0.28.1 builds: TF 1.15 and TF 2.12 (not TF 2.21; see README)
    "tf1": "WITH_HOROVOD=1 bash setup_env.sh tf1 (builds Horovod 0.28.1 with Gloo into .venv-tf1/)",
    "tf2": "bash setup_env.sh tf2-horovod (TF 2.12.1 with Horovod 0.28.1 in .venv-tf2-horovod/)",
}
HOROVOD_NEWEST_TF = (2, 12)  # the newest TF that this Horovod was built against here


# what launchers set in each process they start: horovodrun (Gloo and MPI), Open MPI, MPICH /
# Intel MPI, MVAPICH; the value is the number of processes started
LAUNCH_SIZE_VARIABLES = ("HOROVOD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")


def check_launch(distributed, environ=None):
    """UsageError when a launcher (horovodrun, mpirun) started this process as one of several ranks
    but distributed=False: each rank would train on its own, all into one model_dir."""
    environ = os.environ if environ is None else environ
    if distributed:
        return
    for name in LAUNCH_SIZE_VARIABLES:
        value = environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            raise UsageError("this process is one of %s ranks started by horovodrun/mpirun (%s=%s), but without "
                             "distributed=True each rank would train on its own; add distributed=True to the command"
                             % (value, name, value))


def start_horovod(use_gpu=True):
    """Import and initialise Horovod (distributed=True), or say in one line how to get it."""
    import_tf(use_gpu=use_gpu)  # quiets TF (and hides the GPUs where asked) before Horovod imports it
    try:
        import horovod.tensorflow as hvd
    except ImportError as err:
        version = tuple(int(v) for v in tf_version().split(".")[:2])
        if version < (2, 0):
            raise UsageError("distributed=True needs Horovod (%s); install it into this stack with: %s"
                             % (err, HOROVOD_INSTALL["tf1"]))
        if version <= HOROVOD_NEWEST_TF:
            raise UsageError("distributed=True needs Horovod (%s); set up the stack that has it: %s"
                             % (err, HOROVOD_INSTALL["tf2"]))
        raise UsageError("distributed=True: Horovod is not installed for TF %s, and Horovod 0.28.1 does not build "
                         "against it (its XLA ops need headers the TF wheel lacks); train distributed on "
                         "TF 2.12: %s, or on TF 1.15: %s" % (tf_version(), HOROVOD_INSTALL["tf2"],
                                                             HOROVOD_INSTALL["tf1"]))
    hvd.init()
    return hvd


class SingleProcess:
    """One process: rank 0 of 1; every hook leaves the graph and the session as they are."""
    rank, size = 0, 1

    def learning_rate(self, learning_rate, scale_lr):
        """The optimiser's rate for the command line's learning_rate (times the ranks with scale_lr)."""
        return learning_rate

    def optimizer(self, optimizer):
        return optimizer

    def mean(self, loss):
        return loss

    def share(self, tf, start, seed):
        pass

    def configure(self, config):
        pass

    def agree(self, sess, start, seed):
        """The starting iteration and the data seed (seed=None: a random one, drawn once)."""
        return start, np.random.randint(2 ** 31 - 1) if seed is None else seed

    def sync(self, sess, batch_size, learning_rate, scale_lr):
        pass


class HorovodRanks(SingleProcess):
    """Horovod's ranks: gradients (and, for the log, the loss) averaged over them; rank 0 decides
    where training starts and the data seed (its disk has the checkpoints) and hands its weights
    to every rank."""

    def __init__(self, hvd):
        self.hvd = hvd
        self.rank, self.size = hvd.rank(), hvd.size()

    def learning_rate(self, learning_rate, scale_lr):
        return learning_rate * (self.size if scale_lr else 1)

    def optimizer(self, optimizer):
        return self.hvd.DistributedOptimizer(optimizer)

    def mean(self, loss):
        return self.hvd.allreduce(loss)

    def share(self, tf, start, seed):
        self.sync_op = self.hvd.broadcast_global_variables(0)
        self.shared = self.hvd.broadcast(tf.constant([start, -1 if seed is None else seed,
                                                      np.random.randint(2 ** 31 - 1)], tf.int64), 0)

    def configure(self, config):
        config.gpu_options.visible_device_list = str(self.hvd.local_rank())  # one GPU per rank, where GPUs exist
        # ranks on one machine share its cores instead of each starting a thread per core
        config.intra_op_parallelism_threads = max(1, (os.cpu_count() or 1) // self.hvd.local_size())

    def agree(self, sess, start, seed):
        start, seed, drawn = (int(v) for v in sess.run(self.shared))
        return start, drawn if seed < 0 else seed

    def sync(self, sess, batch_size, learning_rate, scale_lr):
        sess.run(self.sync_op)  # every rank starts from rank 0's weights (fresh or restored)
        if self.rank == 0:
            print("Horovod: %s, batch_size %d per rank (%d per step), learning_rate %g%s" % (
                plural(self.size, "rank"), batch_size, self.size * batch_size,
                self.learning_rate(learning_rate, scale_lr),
                " (scaled by %d)" % self.size if scale_lr else " (not scaled; scale_lr=True multiplies it)"))
