"""The graphs test_model.py writes beside a checkpoint: at a fixed size, from the restored session,
the frozen graph <checkpoint>.pb (<checkpoint>_<w>x<h>.pb at another size than the default) and the
meta graph <checkpoint>.ckpt.meta for ckpt2pb.py, or (tile=True, arch=model) the tile graph
<checkpoint>[_<w>x<h>]_tiled.pb, whose second input is model.LIGHT; and <checkpoint>_none.pb, frozen
for any size. All of them input `Placeholder`, output `output_l0`, without default-valued attributes, so that TF 1.15
and TF 2.x read each other's. A file already there with the same bytes is left as it is. The
writers return what they did, as words; `saved_line` puts them in one line. Functions take the
module `tf` (imported late, see isp/tfimport.py)."""
import os

from isp.archs import DEFAULT_SIZE, size_tag
from isp.checkpoints import (
    freeze_checkpoint,
    none_pb_path,
    write_frozen_graph,
    write_meta_graph,
)
from isp.model import LIGHT


def _same(a, b, message):
    """True when two files hold the same bytes, or the same protobuf `message` (a class): the
    serializer writes a graph's attribute maps in no fixed order, so one graph may have several
    byte strings."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        da, db = fa.read(), fb.read()
    if da == db:
        return True
    pa, pb = message(), message()
    try:
        pa.ParseFromString(da)
        pb.ParseFromString(db)
    except Exception:  # not a readable protobuf (a damaged file): not the same
        return False
    return pa == pb


def write_unless_same(path, write, message):
    """write(tmp) writes the file under a temporary name beside `path`; it replaces `path` only when
    it differs (a run on the same checkpoint writes the same graph: the file, and its time, stay as
    they were). `message`: the protobuf class the file holds. Returns (what write returned,
    "wrote" | "replaced" | "unchanged")."""
    tmp = path + ".new"
    try:
        result = write(tmp)
        if not os.path.exists(path):
            state = "wrote"
        elif _same(path, tmp, message):
            return result, "unchanged"
        else:
            state = "replaced"
        os.replace(tmp, path)
        return result, state
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _said(state, what, path, detail):
    """'wrote the frozen graph X (detail)' or 'the frozen graph X (detail) unchanged'."""
    text = "%s %s (%s)" % (what, path, detail)
    return text + " unchanged" if state == "unchanged" else "%s %s" % (state, text)


def _freeze_beside(tf, sess, prefix, h, w, suffix):
    """The session's graph frozen beside the checkpoint as <checkpoint>[_<w>x<h>]<suffix>.pb (the size
    is in the name unless it is the default: exports of other sizes sit beside it); (path, node
    count, what write_unless_same did)."""
    name = os.path.basename(prefix)[:-len(".ckpt")]
    pb = os.path.join(os.path.dirname(prefix), name + size_tag(h, w) + suffix + ".pb")
    nodes, state = write_unless_same(pb, lambda tmp: write_frozen_graph(tf, sess, ["output_l0"], tmp),
                                    tf.GraphDef)
    return pb, nodes, state


def write_fixed_size(tf, sess, saver, prefix, h, w):
    """The frozen graph of the session's network at h x w and, where it is the default size or none
    exists yet, the checkpoint's meta graph; returns what it did, as words."""
    pb, nodes, state = _freeze_beside(tf, sess, prefix, h, w, "")
    said = [_said(state, "the frozen graph", pb, "input 1x%dx%dx4, %d nodes" % (h // 2, w // 2, nodes))]
    meta = prefix + ".meta"
    # the meta graph (for ckpt2pb.py) holds the input size too, under the checkpoint's own name:
    # written at the default size, or at another where none exists yet (never replacing one)
    if (h, w) == DEFAULT_SIZE or not os.path.exists(meta):
        _, state = write_unless_same(meta, lambda tmp: write_meta_graph(saver, tmp), tf.MetaGraphDef)
        said.append(_said(state, "the meta graph", meta, "input 1x%dx%dx4" % (h // 2, w // 2)))
    else:
        said.append("the meta graph %s kept as it was (the default %dx%d writes it)"
                    % (meta, DEFAULT_SIZE[1], DEFAULT_SIZE[0]))
    return said


def write_tile_graph(tf, sess, prefix, h, w):
    """<checkpoint>[_<w>x<h>]_tiled.pb: the session's tile graph (arch=model's, inputs Placeholder and
    model.LIGHT, the log of the whole photo's light) frozen at h x w, the tile size; convert_tflite.py turns it
    into a tile file at any precision. Returns what it did, as words."""
    pb, nodes, state = _freeze_beside(tf, sess, prefix, h, w, "_tiled")
    return _said(state, "the tile graph", pb, "inputs 1x%dx%dx4 and %s 1x1x1x4, %d nodes" % (h // 2, w // 2, LIGHT, nodes))


def write_any_size(tf, arch, num_maps_base, prefix):
    """<checkpoint>_none.pb: the checkpoint frozen with input [1, None, None, 4] (a graph of its
    own); returns what it did, as words."""
    pb_none = none_pb_path(prefix)
    nodes, state = write_unless_same(
        pb_none, lambda tmp: freeze_checkpoint(tf, arch, num_maps_base, prefix, None, None, tmp), tf.GraphDef)
    return _said(state, "the frozen graph", pb_none, "input 1xNonexNonex4, %d nodes" % nodes).replace(
        pb_none + " (", pb_none + " for any size (", 1)


def saved_line(said, full):
    """The one line save=True prints: each file written, replaced or unchanged."""
    line = "save=True (Placeholder -> output_l0): " + "; ".join(said)
    if full:
        line += "; no frozen graph of a fixed size: img_h=full img_w=full has no one size (give img_h= img_w= to " \
                "export one)"
    return line
