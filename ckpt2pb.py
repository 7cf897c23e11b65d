"""Freeze a checkpoint that has a meta graph (test_model.py save=True writes one) into a .pb.

    python ckpt2pb.py --in_path models/model_iteration_1000.ckpt \
                      --out_path models/model_iteration_1000.pb --out_nodes output_l0
    python ckpt2pb.py in_path=models/model_iteration_1000.ckpt out_path=models/model_iteration_1000.pb

Takes the seed's --key value (or --key=value) options and the key=value words of the other scripts.
"""
import argparse
import os
import sys

from checkpoints import checkpoint_exists, write_frozen_graph
from errors import UsageError, run_main
from tfimport import import_tf


def main(argv):
    parser = argparse.ArgumentParser(prog="ckpt2pb.py", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--in_path", type=str, default="models/original/punet_pretrained.ckpt",
                        help="checkpoint prefix (X.ckpt, with X.ckpt.meta beside it)")
    parser.add_argument("--out_path", type=str, default="models/original/punet_pretrained.pb",
                        help="frozen graph to write")
    parser.add_argument("--out_nodes", type=str, default="output_l0",
                        help="comma-separated output node names")
    keys = ("in_path", "out_path", "out_nodes")
    words = []
    for word in argv:  # key=value words, as every other script takes them, become --key=value
        key = word.split("=", 1)[0]
        if "=" in word and not word.startswith("-"):
            if key not in keys:
                raise UsageError("unknown argument %r; ckpt2pb.py takes %s (as key=value or --key value)"
                                 % (key, ", ".join(keys)))
            word = "--" + word
        words.append(word)
    args = parser.parse_args(words)
    meta = args.in_path + ".meta"
    if not checkpoint_exists(args.in_path):
        raise UsageError("checkpoint %s(.index) not found" % args.in_path)
    if not os.path.isfile(meta):
        raise UsageError("%s has no meta graph (%s); write one with test_model.py save=True"
                         % (args.in_path, meta))
    out_dir = os.path.dirname(os.path.abspath(args.out_path))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        raise UsageError("cannot write %s: folder missing or not writable" % args.out_path)
    tf = import_tf()
    nodes = [n.strip() for n in args.out_nodes.split(",") if n.strip()]
    with tf.Session() as sess:
        saver = tf.train.import_meta_graph(meta, clear_devices=True)
        saver.restore(sess, args.in_path)
        names = {n.name for n in sess.graph.as_graph_def().node}
        missing = [n for n in nodes if n not in names]
        if missing:
            raise UsageError("output node(s) %s not in the graph of %s" % (", ".join(missing), meta))
        count = write_frozen_graph(tf, sess, nodes, args.out_path)
    print("wrote %s (%d nodes, outputs %s)" % (args.out_path, count, ", ".join(nodes)))


if __name__ == "__main__":
    run_main(main, sys.argv[1:])
