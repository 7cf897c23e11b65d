"""The graphs test_model.py writes beside a checkpoint: at a fixed size, from the restored session,
the frozen graph <checkpoint>.pb (<checkpoint>_<h>x<w>.pb at another size than the default) and the
meta graph <checkpoint>.ckpt.meta for ckpt2pb.py; and <checkpoint>_none.pb, frozen for any size. All
of them input `Placeholder`, output `output_l0`, without default-valued attributes, so that TF 1.15
and TF 2.x read each other's. Functions take the module `tf` (imported late, see utils)."""
import os

from archs import DEFAULT_SIZE, size_tag
from checkpoints import (
    freeze_checkpoint,
    none_pb_path,
    write_frozen_graph,
    write_meta_graph,
)


def write_fixed_size(tf, sess, saver, prefix, h, w):
    """The frozen graph of the session's network at h x w and, where it is the default size or none
    exists yet, the checkpoint's meta graph; prints what it wrote."""
    name = os.path.basename(prefix)[:-len(".ckpt")]
    # the size is in the name unless it is the default: exports of other sizes sit beside it
    pb = os.path.join(os.path.dirname(prefix), name + size_tag(h, w) + ".pb")
    nodes = write_frozen_graph(tf, sess, ["output_l0"], pb)
    meta = prefix + ".meta"
    # the meta graph (for ckpt2pb.py) holds the input size too, under the checkpoint's own name:
    # written at the default size, or at another where none exists yet (never replacing one)
    if (h, w) == DEFAULT_SIZE or not os.path.exists(meta):
        write_meta_graph(saver, meta)
        print("wrote %s (input 1x%dx%dx4) and the frozen graph %s (%d nodes, Placeholder -> output_l0)"
              % (meta, h // 2, w // 2, pb, nodes))
    else:
        print("wrote the frozen graph %s (%d nodes, Placeholder -> output_l0, 1x%dx%dx4); %s kept as it was "
              "(the default %dx%d writes it)" % (pb, nodes, h // 2, w // 2, meta, DEFAULT_SIZE[0], DEFAULT_SIZE[1]))


def write_any_size(tf, arch, num_maps_base, prefix):
    """<checkpoint>_none.pb: the checkpoint frozen with input [1, None, None, 4] (a graph of its
    own); prints what it wrote."""
    pb_none = none_pb_path(prefix)
    nodes = freeze_checkpoint(tf, arch, num_maps_base, prefix, None, None, pb_none)
    print("wrote the frozen graph %s for any size (%d nodes, Placeholder -> output_l0, 1xNonexNonex4)"
          % (pb_none, nodes))
