"""An arch built in this process to be timed (benchmark.py's speed mode and the learning curves'
trade-off): its inference graph at img_h x img_w, optionally a training step and its TFLite FP32,
and the interleaved timing that compares several of them. Takes the module `tf` (imported late)."""
import functools

import numpy as np

from isp.evaluate import interleaved, probe_input, timed
from isp.losses import build_losses
from isp.tflite import TFLiteModel, convert_session


class Subject:
    """One arch: its inference graph and session, its training graph and session, its TFLite."""

    def __init__(self, tf, arch, nmb, img_h, img_w, train=None, tflite=False, threads=None):
        """Inference at img_h x img_w; train=(batch_size, patch): also a training step on that
        many square patches of side `patch`; tflite: also its TFLite FP32 with `threads` threads."""
        from isp import model  # builds on TensorFlow: imported after it
        self.label = "%s:%d" % (arch, nmb)
        h, w = img_h, img_w
        self.infer_graph = tf.Graph()
        with self.infer_graph.as_default():
            self.x = tf.placeholder(tf.float32, [1, h // 2, w // 2, 4])
            self.y = model.build(arch, self.x, nmb)
            self.params = sum(int(np.prod(v.shape.as_list())) for v in tf.global_variables())
            flops = tf.profiler.profile(self.infer_graph, options=tf.profiler.ProfileOptionBuilder(
                tf.profiler.ProfileOptionBuilder.float_operation()).with_empty_output().build())
            self.gflop = flops.total_float_ops / 1e9
            self.sess = tf.Session(graph=self.infer_graph)
            self.sess.run(tf.global_variables_initializer())
        self.input = probe_input(h, w)
        self.train_sess = None
        if train:
            b, p = train
            self.train_graph = tf.Graph()
            with self.train_graph.as_default():
                self.tx = tf.placeholder(tf.float32, [None, p // 2, p // 2, 4])
                self.ty = tf.placeholder(tf.float32, [None, p, p, 3])
                out = model.build(arch, self.tx, nmb)
                loss = build_losses(tf, out, self.ty, None, p, p)["loss"]
                self.step = tf.train.AdamOptimizer(1e-4).minimize(loss)
                self.train_sess = tf.Session(graph=self.train_graph)
                self.train_sess.run(tf.global_variables_initializer())
            rng = np.random.RandomState(1)
            self.batch = {self.tx: rng.rand(b, p // 2, p // 2, 4).astype(np.float32),
                          self.ty: rng.rand(b, p, p, 3).astype(np.float32)}
        self.tflite = None
        if tflite:
            with self.infer_graph.as_default():
                content = convert_session(tf, self.sess, [self.x], [self.y])
            self.tflite = TFLiteModel(tf, "(%s in memory)" % self.label, threads, content=content)
        self.times = {"infer": [], "train": [], "tflite": []}

    def run_infer(self):
        return self.sess.run(self.y, {self.x: self.input})

    def run_train(self):
        self.train_sess.run(self.step, self.batch)

    def run_tflite(self):
        return self.tflite.run(self.input)

    def run(self, kind):
        """One run of kind "infer", "train" or "tflite"."""
        return getattr(self, "run_" + kind)()


def time_interleaved(subjects, kinds, rounds):
    """Time the subjects' runs of `kinds` interleaved (evaluate.interleaved: one run of each subject
    in turn for every round of `rounds`, after a warm-up); the seconds go to each subject's
    times[kind]."""
    calls = {(s, kind): functools.partial(timed, functools.partial(s.run, kind)) for kind in kinds for s in subjects}
    for (s, kind), seconds in interleaved(calls, rounds).items():
        s.times[kind].extend(seconds)
