"""The networks: `arch=punet` (the MAI21 baseline) and `arch=model` (our compact RRDB + LRFU net).

Both map a debayered RAW `[N, H/2, W/2, 4]` (float32, ÷1020) to RGB `[N, H, W, 3]`, and both end in
a node named `output_l0`. `build(arch, input, num_maps_base)` is the one entry point.

Every op used here converts to a TFLite builtin (CONV_2D with fused ReLU, TRANSPOSE_CONV,
MAX_POOL_2D, AVERAGE_POOL_2D, MEAN, REDUCE_MAX, STRIDED_SLICE, LEAKY_RELU, CONCATENATION, ADD, SUB,
MUL, DIV, MAXIMUM, MINIMUM, LOG, EXP, TANH, LOGISTIC, DEPTH_TO_SPACE; for any input size also SHAPE,
FLOOR_DIV, PACK and RESHAPE): no Flex ops.
"""
import math

import numpy as np

from isp.archs import check_arch
from isp.errors import first_line
from isp.tfimport import import_tf


class _TensorFlow:
    """TensorFlow's v1 API, imported (tfimport.import_tf) when the first op is built, not when this
    module is imported: importing isp/model.py leaves the environment and TensorFlow untouched."""
    module = None

    def __getattr__(self, name):
        if _TensorFlow.module is None:
            _TensorFlow.module = import_tf()
        return getattr(_TensorFlow.module, name)


tf = _TensorFlow()


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
# arch=model: a compact network for the speed-weighted MAI21 score (b = num_maps_base).
#
#   head: 3x3 conv, stride 2, on the 4-channel Bayer planes -> 2b maps at quarter resolution,
#       each map times a per-image gain from the photo's light (below)
#   LFB x BLOCKS: UNITS stacked RRDB units, their outputs fused by an LRFU
#       RRDB unit: DENSE_LAYERS dense 3x3 convs of `growth` maps each (every conv sees the unit
#       input and all earlier convs), then a 1x1 local fusion back to 2b maps with an adaptively
#       weighted residual  out = alpha * x + beta * fuse(concat(x, d0, d1))
#       LRFU: out = gamma * x + fuse(concat(x, u0, ...))  (x = the block input)
#   global residual: head + body
#   depth_to_space(2) back to half resolution (2b -> b/2 maps)
#   tail: 3x3 conv to 12 channels, sigmoid, depth_to_space(2) -> full-resolution RGB in (0, 1)
#
# Why this shape, one line per choice (the reasoning and the measurements: docs/design.md):
# - body at quarter resolution with 2b maps: at half resolution the narrow convs are memory-bound.
# - UNITS=1, BLOCKS=1: a second unit costs inference time and did not buy validation quality.
# - DENSE_LAYERS=2 with growth = b: convs of b maps run efficiently where narrower ones do not.
# - ReLU with bias_add: TF and TFLite fuse it into the conv, so activations cost no extra pass.
# - residual weights folded into the 1x1 fusion conv, whose input holds x, so they cost no pass:
#   alpha * x + beta * (W z + c) = (beta * W + alpha * E) z + beta * c, E the identity on x.
# - learned scalars start at alpha 1, beta 0.2 (a fresh body near identity) and the LRFU's gamma
#   at 2 (with one block it also carries the global residual: the same skip path).
# - sigmoid output: bounded to (0, 1) like the targets; the alternatives tried ended level with it.
# - the light's gain, the one global path: it gives the body the scene's light and exposure,
#   which a few dozen pixels cannot show; it multiplies the head's maps (no input noise amplified)
#   and starts at 1 (W, b zero), so the network starts as it would without it.
# - the light: a power mean, led by bright cells, over a fixed grid of cells that each cover the
#   same share of the image: the same at any size of a photo, so one light serves a photo's tiles
#   (the earlier white patch, the brightest 4x4 average, grew with the size; docs/experiments.md §14).
# - head conv with stride 2 rather than space-to-depth: one op that sees a 3x3 neighbourhood of
#   Bayer cells; any even photo size works (an odd half size is cropped after depth_to_space).
# --------------------------------------------------------------------------------------------

BLOCKS = 1
UNITS = 1
DENSE_LAYERS = 2
WIDTH = 2      # body maps = WIDTH * b
GROWTH = 1     # dense growth = GROWTH * b
LIGHT_GRID = 16     # the light's statistic: a LIGHT_GRID x LIGHT_GRID grid of cells over the image
SATURATION = 0.95   # cells whose mean reaches it weigh nothing (their light is clipped)
LIGHT_POWER = 4     # the power mean over the cells (a power of two: squarings): led by bright cells
LIGHT_FLOOR = 0.01  # the floor on each plane's light (a black photo)
assert LIGHT_POWER & (LIGHT_POWER - 1) == 0, "LIGHT_POWER is taken by squarings: a power of two"
LIGHT_SCOPE = "light_stat"
GAIN_RATE = 10.0  # its weights' scale (a learning-rate factor for Adam)
GAIN_CAP = 4.0   # its exponent's cap (gain <= e^4 = 55)
LIT_HEAD = "generator/lit_head"
# its variables' scope: each earlier form of the gain had its own ("white_patch": a statistic that
# averaged a green with the red plane; "light_gain": the brightest 4x4-cell average, which grew with
# the photo's size), so that their checkpoints fail to load with a clear message (restore_error)
GAIN_SCOPE = "grid_light_gain"
WHITE_PATCH_SCOPE, FIRST_GAIN_SCOPE = "light_gain", "white_patch"  # the earlier designs' scopes
GAIN_SCOPES = (GAIN_SCOPE, WHITE_PATCH_SCOPE, FIRST_GAIN_SCOPE)  # this design's and the earlier ones'
# the name of the tile graph's second input in .pb and .tflite files: the log of the whole photo's
# light (tile_light). A log, so that an INT8 file's uint8 input holds every light from LIGHT_FLOOR to 1
# to the same relative step (about 1 %), where the light itself in steps of 1/255 would be 13 % off
# for a dim plane of 0.015. EARLIER_LIGHT: the input's name when it took the light itself.
LIGHT = "log_light"
EARLIER_LIGHT = "light"


def _conv(x, k, out, name, act=True, stride=1):
    with tf.variable_scope(name):
        w = tf.get_variable("weights", [k, k, _channels(x), out],
                            initializer=tf.variance_scaling_initializer(scale=2.0 if act else 1.0))
        b = tf.get_variable("biases", [out], initializer=tf.zeros_initializer())
        y = tf.nn.bias_add(tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding="SAME"), b)
    return tf.nn.relu(y) if act else y


def _fuse_with_residual(parts, out, name, skip_init, fuse_init):
    """skip * parts[0] + fuse * conv1x1(concat(parts)), as one 1x1 conv (see the notes above)."""
    z = tf.concat(parts, axis=3)
    cin = _channels(z)
    with tf.variable_scope(name):
        w = tf.get_variable("weights", [1, 1, cin, out], initializer=tf.variance_scaling_initializer(scale=1.0))
        b = tf.get_variable("biases", [out], initializer=tf.zeros_initializer())
        skip = tf.get_variable("skip_weight", [], initializer=tf.constant_initializer(skip_init))
        fuse = tf.get_variable("fuse_weight", [], initializer=tf.constant_initializer(fuse_init))
        eye = tf.constant(np.eye(cin, out, dtype=np.float32).reshape(1, 1, cin, out))
        kernel = fuse * w + skip * eye
        return tf.nn.bias_add(tf.nn.conv2d(z, kernel, strides=[1, 1, 1, 1], padding="SAME"), fuse * b)


def _rrdb_unit(x, c, growth, name):
    with tf.variable_scope(name):
        feats = [x]
        for i in range(DENSE_LAYERS):
            inp = feats[0] if len(feats) == 1 else tf.concat(feats, axis=3)
            feats.append(_conv(inp, 3, growth, "dense%d" % i))
        return _fuse_with_residual(feats, c, "fuse", skip_init=1.0, fuse_init=0.2)


def _lfb(x, c, growth, name, skip_init):
    """Local fusion block: UNITS RRDB units whose outputs the LRFU fuses (1x1 conv) with x."""
    with tf.variable_scope(name):
        outs = [x]
        for u in range(UNITS):
            outs.append(_rrdb_unit(outs[-1], c, growth, "rrdb%d" % u))
        return _fuse_with_residual(outs, c, "lrfu", skip_init=skip_init, fuse_init=1.0)


def _cell_means(x):
    """[N, g, g, 4] (g = LIGHT_GRID): the means of a grid of cells, each 1/g^2 of the image
    (centred on it, the image cropped to a multiple of g): the same numbers at any size of one
    scene. An image smaller than the grid has a cell per pixel on that side. A fixed size (the
    fixed-size files, training) is one average pool; any size (the any-size graph) two reshapes
    and means, as a pool window must be a constant."""
    static = x.get_shape().as_list()[1:3]
    if None not in static:
        gh, gw = min(LIGHT_GRID, static[0]), min(LIGHT_GRID, static[1])
        h, w = static[0] // gh, static[1] // gw
        top, left = (static[0] - gh * h) // 2, (static[1] - gw * w) // 2
        if (gh * h, gw * w) != tuple(static):
            x = x[:, top:top + gh * h, left:left + gw * w, :]
        return tf.nn.avg_pool(x, ksize=[1, h, w, 1], strides=[1, h, w, 1], padding="VALID")
    shape = tf.shape(x)
    gh, gw = tf.minimum(LIGHT_GRID, shape[1]), tf.minimum(LIGHT_GRID, shape[2])
    h, w = shape[1] // gh, shape[2] // gw
    top, left = (shape[1] - gh * h) // 2, (shape[2] - gw * w) // 2
    x = x[:, top:top + gh * h, left:left + gw * w, :]
    rows = tf.reduce_mean(tf.reshape(x, [-1, h, gw * w, 4]), axis=1)    # [N * gh, gw * w, 4]
    cells = tf.reduce_mean(tf.reshape(rows, [-1, w, 4]), axis=1)        # [N * gh * gw, 4]
    return tf.reshape(cells, [shape[0], gh, gw, 4])


def _photo_light(x):
    """[N, 1, 1, 4]: the light and exposure of each image, in the planes' order (B, Gb, R, Gr):
    per plane, the LIGHT_POWER power mean of its grid's cell means, a cell weighing nothing
    once its mean is within 5 % of the white level (ramping from 10 %), each plane floored at
    LIGHT_FLOOR, the two greens' shared. Bright cells lead it, as a white patch would, but no single cell, and a
    few clipped highlights move only their cells' means. light_of_planes computes the same in NumPy.
    Its ops stay float32 in the INT8 export (float_in_int8)."""
    with tf.name_scope(LIGHT_SCOPE):
        m = _cell_means(x)
        w = tf.clip_by_value((SATURATION - m) * 20.0, 0.0, 1.0)
        # the powers of the cells relative to the brightest: the same light, but no 4th power of a dim
        # cell underflows where a GPU computes in float16
        top = tf.maximum(tf.reduce_max(m, axis=[1, 2], keepdims=True), LIGHT_FLOOR)
        mp = m / top
        for _ in range(LIGHT_POWER.bit_length() - 1):  # squarings: no POW op, which NNAPI lacks
            mp = mp * mp
        num = tf.reduce_mean(w * mp, axis=[1, 2], keepdims=True)
        den = tf.maximum(tf.reduce_mean(w, axis=[1, 2], keepdims=True), 1.0 / LIGHT_GRID ** 2)
        # the root as exp(log * 1/p): LOG and EXP are NNAPI's and the GPU delegate's in float, SQRT is
        # not NNAPI's; a multiply written here (not a divide the converter rewrites) keeps its node
        # name, so the INT8 export keeps it float (float_in_int8). The floor inside the log is below
        # what top * root can reach above LIGHT_FLOOR (top <= 1), so each plane is max(light, floor).
        root = tf.exp(tf.math.log(tf.maximum(num / den, LIGHT_FLOOR ** LIGHT_POWER)) * (1.0 / LIGHT_POWER))
        p = tf.maximum(top * root, LIGHT_FLOOR)
        # explicit slices: TF 1.15's TFLite cannot run a STRIDED_SLICE with an ellipsis
        green = 0.5 * (p[:, :, :, 1:2] + p[:, :, :, 3:4])
        return tf.concat([p[:, :, :, 0:1], green, p[:, :, :, 2:3], green], axis=3)


def light_of_planes(planes):
    """_photo_light of a whole photo's planes ([1, H, W, 4] float32) in NumPy, as [1, 1, 1, 4]: the
    light a tiled render gives every tile (isp/tiles.py), so that each is rendered as the whole photo
    would be."""
    x = np.asarray(planes, dtype=np.float32)[0]
    gh, gw = min(LIGHT_GRID, x.shape[0]), min(LIGHT_GRID, x.shape[1])
    h, w = x.shape[0] // gh, x.shape[1] // gw
    top, left = (x.shape[0] - gh * h) // 2, (x.shape[1] - gw * w) // 2
    m = x[top:top + gh * h, left:left + gw * w].reshape(gh, h, gw, w, 4).mean(axis=(1, 3), dtype=np.float64)
    wt = np.clip((SATURATION - m) * 20.0, 0.0, 1.0)
    ratio = (wt * m ** LIGHT_POWER).mean(axis=(0, 1)) / np.maximum(wt.mean(axis=(0, 1)), 1.0 / LIGHT_GRID ** 2)
    p = np.maximum(ratio ** (1.0 / LIGHT_POWER), LIGHT_FLOOR)  # each plane floored, then the greens shared
    green = 0.5 * (p[1] + p[3])
    out = np.array([p[0], green, p[2], green])
    return out.astype(np.float32).reshape(1, 1, 1, 4)


def tile_light(planes):
    """What a tile graph's second input (LIGHT) takes for a photo's planes [1, H, W, 4]: the log of
    its light (light_of_planes), [1, 1, 1, 4] float32. Every tile of the photo gets it."""
    return np.log(light_of_planes(planes)).astype(np.float32)


def probe_light():
    """A tile graph's or file's LIGHT input for timing runs (a light of 0.5 in every plane): the
    time does not depend on its value."""
    return np.full((1, 1, 1, 4), np.log(0.5), np.float32)


def float_in_int8(node_names):
    """The nodes of a graph (names) that its INT8 export keeps in float32 (isp/tflite.py): the
    light's statistic (a 4th power of values up to 1 would lose the dim cells to int8's one scale)
    and the head's maps times the gain (quantised, the gain would share one int8 scale from about 1
    up to GAIN_CAP's 55, too coarse for the gains most photos get; in float it is exact, and only
    the product is quantised)."""
    stat = "generator/%s/" % LIGHT_SCOPE
    return [n for n in node_names if n.startswith(stat) or n == LIT_HEAD]


def _light_gain(lw, c):
    """[N, 1, 1, c]: a gain per image and head map from the log of its light, lw:
    exp(GAIN_RATE * (W lw + b)) capped at e^GAIN_CAP. W and b start at zero: gain 1, so at step 0 the head is as without it. LOG and EXP
    stay float32 in the INT8 export (isp/tflite.py), where NNAPI runs them."""
    with tf.variable_scope(GAIN_SCOPE):
        w = tf.get_variable("weights", [1, 1, 4, c], initializer=tf.zeros_initializer())
        b = tf.get_variable("biases", [c], initializer=tf.zeros_initializer())
        e = tf.nn.bias_add(tf.nn.conv2d(lw, w * GAIN_RATE, strides=[1, 1, 1, 1], padding="SAME"), b * GAIN_RATE)
    return tf.exp(tf.minimum(e, GAIN_CAP))


def compact_model(x, num_maps_base=16, light=None):
    """arch=model on planes x; `light` ([N, 1, 1, 4], the log of a light as _photo_light gives it:
    tile_light) replaces the light taken from x itself: a tile of a photo is rendered with the
    whole photo's light."""
    check_arch("model", num_maps_base)
    b = num_maps_base
    c = WIDTH * b
    growth = GROWTH * b
    with tf.variable_scope("generator"):
        # built in this order (the light's statistic, the head, its log) so that a seed gives the
        # head the initial weights it gave before the gain took the light's log
        wp = _photo_light(x) if light is None else None
        head_maps = _conv(x, 3, c, "head", stride=2)
        if light is None:
            log_light = tf.math.log(wp)
        else:
            # floored as the photo's own light is, under the light's scope: float in INT8 (float_in_int8)
            with tf.name_scope(LIGHT_SCOPE):
                log_light = tf.maximum(light, math.log(LIGHT_FLOOR), name="given")
        head = tf.multiply(head_maps, _light_gain(log_light, c), name=LIT_HEAD.split("/")[-1])
        h = head
        for i in range(BLOCKS):
            # with one block its identity term also carries the global residual (same skip path)
            h = _lfb(h, c, growth, "lfb%d" % i, skip_init=2.0 if BLOCKS == 1 else 1.0)
        if BLOCKS > 1:
            h = head + h
        h = tf.nn.depth_to_space(h, 2)
        static = x.get_shape().as_list()[1:3]
        if None in static or static[0] % 2 or static[1] % 2:
            h = h[:, :tf.shape(x)[1], :tf.shape(x)[2], :]
        y = _conv(h, 3, 12, "tail", act=False)
        y = tf.nn.sigmoid(y)
        out = tf.nn.depth_to_space(y, 2)
    return out


# what checkpoint_arch calls arch=model checkpoints of earlier designs, and what restore_error says
EARLIER_MODEL = "model-without-white-patch"
EARLIER_GAIN = "model-with-first-white-patch-gain"
EARLIER_WHITE_PATCH = "model-with-white-patch-gain"
EARLIER = {
    EARLIER_MODEL: "the earlier arch=model (num_maps_base=%d, before the white-patch gain)",
    EARLIER_GAIN: "the earlier arch=model (num_maps_base=%d, the first white-patch gain, which averaged a green "
                  "with the red plane)",
    EARLIER_WHITE_PATCH: "the earlier arch=model (num_maps_base=%d, the white-patch gain, whose brightest 4x4 "
                         "average grew with the photo's size)",
}


def checkpoint_arch(prefix):
    """(arch, num_maps_base) that a checkpoint was made with, from its variables; None if unknown."""
    try:
        shapes = tf.train.NewCheckpointReader(prefix).get_variable_to_shape_map()
    except Exception:  # unreadable: let the restore report it
        return None
    if "generator/Variable" in shapes:              # PUNET: first conv is [3, 3, 4, b]
        return "punet", shapes["generator/Variable"][3]
    if "generator/head/weights" in shapes:          # arch=model: head is [3, 3, 4, WIDTH * b]
        b = shapes["generator/head/weights"][3] // WIDTH
        if "generator/%s/weights" % GAIN_SCOPE in shapes:
            return "model", b
        if "generator/%s/weights" % WHITE_PATCH_SCOPE in shapes:
            return EARLIER_WHITE_PATCH, b
        return (EARLIER_GAIN if "generator/%s/weights" % FIRST_GAIN_SCOPE in shapes else EARLIER_MODEL), b
    return None


def restore_error(prefix, arch, num_maps_base, err):
    """The one-line message for a checkpoint that does not fit the graph."""
    found = checkpoint_arch(prefix)
    if found and found[0] in EARLIER:
        what = ("it was made with %s, which this code no longer builds; train it again (e.g. from the "
                "shipped weights: init_from=models/original/model_pretrained.ckpt)" % (EARLIER[found[0]] % found[1]))
    elif found:
        what = "it was made with arch=%s num_maps_base=%d" % found
    else:
        what = first_line(err)[:160]
    return "checkpoint %s does not fit arch=%s num_maps_base=%d: %s" % (prefix, arch, num_maps_base, what)


def takes_light(arch):
    """Whether the arch holds a global path (arch=model's light) that a tile must be given."""
    return arch == "model"


def light_placeholder():
    """The tile graph's second input, named LIGHT: the log of the whole photo's light (tile_light)."""
    return tf.placeholder(tf.float32, [1, 1, 1, 4], name=LIGHT)


def build(arch, x, num_maps_base=16, light=None):
    """The network `arch` on input tensor x; returns the tensor named `output_l0`. UsageError
    for an arch or num_maps_base that archs.check_arch refuses. `light`: see compact_model (only
    where takes_light(arch))."""
    check_arch(arch, num_maps_base)
    if arch == "punet":
        assert light is None, "PUNET has no global path to give a light to"
        out = punet(x, num_maps_base)
    else:
        out = compact_model(x, num_maps_base, light)
    return tf.identity(out, name="output_l0")
