"""Test harness: runs train_model.py's main() unchanged, except that one write fails as on a full
disk (ENOSPC). ENOSPC_AT=<iteration>, ENOSPC_WHAT=checkpoint: the saver writes that iteration's
checkpoint under its temporary name, cut short, then fails as TensorFlow's writer does;
ENOSPC_WHAT=log: that iteration's log line fails half-written. Used only by tests/test_train_recovery.py."""
import errno
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train_model  # noqa: E402
from isp import utils  # noqa: E402
from isp.errors import run_main  # noqa: E402
from isp.tfimport import import_tf  # noqa: E402

tf = import_tf()
AT = "_iteration_%s.ckpt" % os.environ["ENOSPC_AT"]
NO_SPACE = os.strerror(errno.ENOSPC)
_save = tf.train.Saver.save


def _save_then_fail(self, sess, save_path, *args, **kwargs):
    if not save_path.endswith(AT):
        return _save(self, sess, save_path, *args, **kwargs)
    _save(self, sess, save_path, *args, **kwargs)
    for path in glob.glob(save_path + ".data-*"):  # the disk filled up half way through the data
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    raise tf.errors.ResourceExhaustedError(None, None, "%s.data-00000-of-00001.tempstate123; %s"
                                           % (save_path, NO_SPACE))


def _write_then_fail(path, text, mode="w"):
    if "step %s " % os.environ["ENOSPC_AT"] not in text:
        return utils.atomic_write_text(path, text, mode)
    with utils.atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text[:5])
        raise OSError(errno.ENOSPC, NO_SPACE, tmp)


if os.environ["ENOSPC_WHAT"] == "checkpoint":
    tf.train.Saver.save = _save_then_fail
else:
    train_model.atomic_write_text = _write_then_fail

if __name__ == "__main__":
    run_main(train_model.main)
