"""TensorBoard summaries of a training run (train_model.py): scalars, image strips and the graph,
through the tf.compat.v1 API. Takes the module `tf` (imported late, see isp/tfimport.py)."""
from isp import previews


class Summaries:
    """TensorBoard event file of one run: scalars, image strips and the graph; a context manager
    that closes the file.

    Values are written as Summary protos from numbers the training loop already has, so they add
    no ops to the graph and no extra session runs.

    A run resumed from checkpoint N writes into the folder of the run it continues (`resumed_at`=N):
    a SessionLog START at step N + 1, the first step it writes, makes TensorBoard drop that run's
    events of step N + 1 on that came before it (what an interrupted process wrote past the
    checkpoint), so the resumed events replace them. Not at N itself: TensorBoard drops the START's
    own step too, and the restored checkpoint's validation at N, which the resumed run does not
    write again, belongs to the run.
    """

    def __init__(self, tf, logdir, graph, resumed_at=None):
        self.tf = tf
        self.writer = tf.summary.FileWriter(logdir)
        if resumed_at is not None:
            self.writer.add_session_log(tf.SessionLog(status=tf.SessionLog.START), resumed_at + 1)
        graph_def = graph.as_graph_def()
        for node in graph_def.node:  # the graph view needs no weights: drop big constants (VGG)
            if node.op == "Const" and len(node.attr["value"].tensor.tensor_content) > 4096:
                node.attr["value"].tensor.ClearField("tensor_content")
        self.writer.add_graph(None, graph_def=graph_def)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def scalars(self, step, values):
        summary = self.tf.Summary(value=[self.tf.Summary.Value(tag=k, simple_value=float(v))
                                         for k, v in values.items()])
        self.writer.add_summary(summary, step)

    def images(self, step, images):
        value = []
        for tag, img in images.items():
            value.append(self.tf.Summary.Value(tag=tag, image=self.tf.Summary.Image(
                height=img.shape[0], width=img.shape[1], colorspace=3,
                encoded_image_string=previews.png_bytes(img))))
        self.writer.add_summary(self.tf.Summary(value=value), step)
        self.writer.flush()

    def close(self):
        self.writer.close()
