"""Test harness: runs train_model.py's main() unchanged, and when its session closes, saves every
rank's variables (the network's and the optimizer's state) to <HVD_DUMP_DIR>/rank<k>.npz, so that a
test can compare what the ranks hold with each other and with the checkpoint rank 0 wrote. Used only by tests/test_horovod.py."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from isp.errors import run_main  # noqa: E402
from isp.tfimport import import_tf  # noqa: E402

tf = import_tf()
_close = tf.Session.close


def _dump_then_close(self):
    if not getattr(self, "_dumped", False) and not self._closed:
        self._dumped = True
        import horovod.tensorflow as hvd
        variables = self.graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
        values = self.run(variables)
        np.savez(os.path.join(os.environ["HVD_DUMP_DIR"], "rank%d.npz" % hvd.rank()),
                 **{v.op.name: x for v, x in zip(variables, values)})
    _close(self)


tf.Session.close = _dump_then_close

if __name__ == "__main__":
    import train_model
    run_main(train_model.main)
