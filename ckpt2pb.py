"""Freeze a checkpoint that has a meta graph (test_model.py save=True writes one) into a .pb.

    python ckpt2pb.py --in_path models/model_iteration_1000.ckpt --out_path models/model_iteration_1000.pb --out_nodes output_l0
    python ckpt2pb.py in_path=models/model_iteration_1000.ckpt out_path=models/model_iteration_1000.pb

Takes the seed's --key value (or --key=value) options and the key=value words of the other scripts.
"""
import os

from isp.args import Arg, parse_args
from isp.checkpoints import checkpoint_exists, write_frozen_graph
from isp.errors import UsageError, run_main
from isp.tfimport import import_tf

ARGS = [
    Arg("in_path", str, "models/original/punet_pretrained.ckpt", "checkpoint prefix (X.ckpt, with X.ckpt.meta beside it)"),
    Arg("out_path", str, "models/original/punet_pretrained.pb", "frozen graph to write"),
    Arg("out_nodes", str, "output_l0", "comma-separated output node names"),
]


def key_value_words(argv):
    """The seed's options, --key value or --key=value, as the key=value words parse_args reads."""
    words, rest = [], list(argv)
    while rest:
        word = rest.pop(0)
        if word.startswith("--") and word != "--help":
            if "=" not in word:
                if not rest:
                    raise UsageError("option %s needs a value (--key value, --key=value or key=value)" % word)
                word += "=" + rest.pop(0)
            word = word[2:]
        words.append(word)
    return words


def main(argv):
    a = parse_args(ARGS, key_value_words(argv), prog="ckpt2pb.py", doc=__doc__)
    meta = a["in_path"] + ".meta"
    if not checkpoint_exists(a["in_path"]):
        raise UsageError("checkpoint %s(.index) not found" % a["in_path"])
    if not os.path.isfile(meta):
        raise UsageError("%s has no meta graph (%s); write one with test_model.py save=True"
                         % (a["in_path"], meta))
    out_dir = os.path.dirname(os.path.abspath(a["out_path"]))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        raise UsageError("cannot write %s: folder missing or not writable" % a["out_path"])
    tf = import_tf()
    nodes = [n.strip() for n in a["out_nodes"].split(",") if n.strip()]
    with tf.Session() as sess:
        saver = tf.train.import_meta_graph(meta, clear_devices=True)
        saver.restore(sess, a["in_path"])
        names = {n.name for n in sess.graph.as_graph_def().node}
        missing = [n for n in nodes if n not in names]
        if missing:
            raise UsageError("output node(s) %s not in the graph of %s" % (", ".join(missing), meta))
        count = write_frozen_graph(tf, sess, nodes, a["out_path"])
    print("wrote %s (%d nodes, outputs %s)" % (a["out_path"], count, ", ".join(nodes)))


if __name__ == "__main__":
    run_main(main)
