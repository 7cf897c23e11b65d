"""The networks: `arch=punet` (the MAI21 baseline) and `arch=model` (our compact RRDB + LRFU net).

Both map a debayered RAW `[N, H/2, W/2, 4]` (float32, ÷1020) to RGB `[N, H, W, 3]`, and both end in
a node named `output_l0`. `build(arch, input, num_maps_base)` is the one entry point.

Every op used here converts to a TFLite builtin (CONV_2D, TRANSPOSE_CONV, MAX_POOL_2D,
LEAKY_RELU, CONCATENATION, ADD, MUL, TANH, LOGISTIC, DEPTH_TO_SPACE): no Flex ops.
"""
from utils import ARCHS, SIZE_MULTIPLE, import_tf  # noqa: F401  (ARCHS, SIZE_MULTIPLE re-exported)

tf = import_tf()


def _lrelu(x):
    return tf.nn.leaky_relu(x, alpha=0.2)


# --------------------------------------------------------------------------------------------
# PUNET, variable-for-variable as the baseline builds it: plain unnamed tf.Variables under the
# scope `generator`, created in forward order, weight before bias.
# --------------------------------------------------------------------------------------------

def _punet_weight(shape):
    return tf.Variable(tf.truncated_normal(shape, stddev=0.01, dtype=tf.float32))


def _punet_bias(n):
    return tf.Variable(tf.constant(0.01, shape=[n], dtype=tf.float32))


def _channels(x):
    return int(x.get_shape()[-1])


def _punet_conv(x, k, out, act=True):
    w = _punet_weight([k, k, _channels(x), out])
    b = _punet_bias(out)
    y = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME") + b
    return _lrelu(y) if act else y


def _punet_block(x, out):
    return _punet_conv(_punet_conv(x, 3, out), 3, out)


def _pool(x):
    return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")


def _punet_up(x, out):
    w = _punet_weight([3, 3, out, _channels(x)])
    static = x.get_shape().as_list()
    if None not in static:
        out_shape = [static[0], static[1] * 2, static[2] * 2, out]
    else:
        dyn = tf.shape(x)
        out_shape = tf.stack([dyn[0], dyn[1] * 2, dyn[2] * 2, out])
    y = tf.nn.conv2d_transpose(x, w, out_shape, strides=[1, 2, 2, 1], padding="SAME")
    return _lrelu(y)


def _cat(a, b):
    return tf.concat([a, b], axis=3)


def punet(x, num_maps_base=16):
    b = num_maps_base
    with tf.variable_scope("generator"):
        c1 = _punet_block(x, b)
        c2 = _punet_block(_pool(c1), 2 * b)
        c3 = _punet_block(_pool(c2), 4 * b)
        c4 = _punet_block(_pool(c3), 8 * b)
        d1 = _punet_block(_pool(c4), 16 * b)
        d2 = _punet_block(d1, 16 * b) + d1
        d3 = _punet_block(d2, 16 * b) + d2
        d4 = _punet_block(d3, 16 * b)
        e4 = _punet_block(_cat(c4, _punet_up(d4, 8 * b)), 8 * b)
        e3 = _punet_block(_cat(c3, _punet_up(e4, 4 * b)), 4 * b)
        t2 = _punet_up(e3, 2 * b)
        f2 = _punet_block(c2, 2 * b)
        e2 = _punet_block(_cat(f2, t2), 2 * b)
        t1 = _punet_up(e2, b)
        f1 = _punet_block(c1, b)
        e1 = _punet_block(_cat(_cat(f1, t1), c1), b)
        t0 = _punet_up(e1, b // 4)
        y = _punet_conv(t0, 3, 3, act=False)
        out = tf.nn.tanh(y) * 0.58 + 0.5
    return out


# --------------------------------------------------------------------------------------------
# arch=model: a compact network for the speed-weighted MAI21 score.
#
#   head conv 3x3 (4 -> b) at half resolution (the Bayer planes)
#   LFB x BLOCKS: UNITS stacked RRDB units, their outputs fused by an LRFU (concat + 1x1 conv)
#       RRDB unit: DENSE_LAYERS dense 3x3 convs of `growth` maps each (every conv sees the unit
#       input and all earlier convs), a 1x1 local fusion back to b maps, and an adaptively
#       weighted residual  out = alpha * x + beta * fused  (alpha, beta learned scalars)
#   global residual: head + body
#   tail conv 3x3 (b -> 12), sigmoid, depth_to_space(2) -> full-resolution RGB in (0, 1)
#
# Design and cost at 1088x1920 (input 544x960, b=16; one 3x3 16->16 conv there = 2.4 GFLOP):
# - Everything runs at half resolution: the cost notes show a half-resolution residual net
#   learning this mapping far better than a quarter-resolution one at a similar cost, and the
#   pixel-shuffle head produces full resolution without any full-resolution conv.
# - growth = b/2 keeps each dense 3x3 conv at half the cost of a b->b conv while the dense
#   concatenation still hands every conv all earlier features.
# - BLOCKS=1, UNITS=2, DENSE_LAYERS=2: ~9.5k MAC per input pixel, ~10 GFLOP in all, under a
#   fifth of PUNET's 78.8 GFLOP.
# - The adaptive residual weights start at alpha=1, beta=0.2 (the usual RRDB residual scaling),
#   so a fresh network is close to identity in its body and trains stably; learned, they cost
#   two multiplies per unit.
# - The sigmoid is applied on the 12-channel half-resolution tensor (same element count as the
#   output) so the output is bounded to (0, 1) like the targets.
# --------------------------------------------------------------------------------------------

BLOCKS = 1
UNITS = 2
DENSE_LAYERS = 2


def _conv(x, k, out, name, act=True):
    with tf.variable_scope(name):
        w = tf.get_variable("weights", [k, k, _channels(x), out],
                            initializer=tf.variance_scaling_initializer(scale=1.0 if not act else 2.0))
        b = tf.get_variable("biases", [out], initializer=tf.zeros_initializer())
        y = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME") + b
    return _lrelu(y) if act else y


def _rrdb_unit(x, b, growth, name):
    with tf.variable_scope(name):
        feats = [x]
        for i in range(DENSE_LAYERS):
            inp = feats[0] if len(feats) == 1 else tf.concat(feats, axis=3)
            feats.append(_conv(inp, 3, growth, "dense%d" % i))
        fused = _conv(tf.concat(feats, axis=3), 1, b, "fuse", act=False)
        alpha = tf.get_variable("alpha", [], initializer=tf.constant_initializer(1.0))
        beta = tf.get_variable("beta", [], initializer=tf.constant_initializer(0.2))
        return alpha * x + beta * fused


def _lfb(x, b, growth, name):
    """Local fusion block: UNITS RRDB units, their outputs fused by the LRFU (1x1 conv) + residual."""
    with tf.variable_scope(name):
        outs = []
        h = x
        for u in range(UNITS):
            h = _rrdb_unit(h, b, growth, "rrdb%d" % u)
            outs.append(h)
        fused = _conv(tf.concat(outs, axis=3), 1, b, "lrfu", act=False)
        return x + fused


def compact_model(x, num_maps_base=16):
    b = num_maps_base
    growth = max(b // 2, 1)
    with tf.variable_scope("generator"):
        head = _conv(x, 3, b, "head")
        h = head
        for i in range(BLOCKS):
            h = _lfb(h, b, growth, "lfb%d" % i)
        h = head + h
        y = _conv(h, 3, 12, "tail", act=False)
        y = tf.nn.sigmoid(y)
        out = tf.nn.depth_to_space(y, 2)
    return out


def build(arch, x, num_maps_base=16):
    """The network `arch` on input tensor x; returns the tensor named `output_l0`."""
    if arch == "punet":
        out = punet(x, num_maps_base)
    elif arch == "model":
        out = compact_model(x, num_maps_base)
    else:
        raise ValueError("unknown arch %r (choose from %s)" % (arch, ", ".join(ARCHS)))
    return tf.identity(out, name="output_l0")
