"""isp/model.py: the two architectures."""
import os
import re

import numpy as np
import pytest
from conftest import SHARED_FIXTURE

from isp.archs import check_arch_and_size
from isp.errors import UsageError
from isp.tfimport import import_tf

tf = import_tf()
from isp import load_dataset  # noqa: E402
from isp import model  # noqa: E402  (after the TF import helper)


def _run(arch, shape, num_maps_base=16, fetch_extra=None, seed=0):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, shape)
        y = model.build(arch, x, num_maps_base)
        extra = graph.get_tensor_by_name(fetch_extra) if fetch_extra else None
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            inp = np.random.RandomState(seed).rand(*shape).astype(np.float32)
            fetched = sess.run([y] + ([extra] if extra is not None else []), {x: inp})
        n_params = sum(int(np.prod(v.shape.as_list())) for v in tf.global_variables())
        names = [v.op.name for v in tf.global_variables()]
    return x, y, fetched, n_params, names


@pytest.mark.skipif(not os.path.isdir(SHARED_FIXTURE), reason="../shared/fixtures/punet_reference is absent in this clone")
def test_punet_reproduces_the_reference_checkpoint():
    ref = np.load(os.path.join(SHARED_FIXTURE, "punet_reference_io.npz"))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, ref["input"].shape)
        y = model.build("punet", x, 16)
        with tf.Session() as sess:
            tf.train.Saver().restore(sess, os.path.join(SHARED_FIXTURE, "punet_pretrained.ckpt"))
            out = sess.run(y, {x: ref["input"]})
    assert x.op.name == "Placeholder" and y.op.name == "output_l0"
    assert out.shape == ref["output"].shape
    assert np.abs(out - ref["output"]).max() < 1e-5


def test_punet_variables_match_the_baseline():
    _, _, _, n_params, names = _run("punet", [1, 32, 32, 4])
    assert len(names) == 63 and n_params == 5725199
    assert names[:3] == ["generator/Variable", "generator/Variable_1", "generator/Variable_2"]


@pytest.mark.parametrize("arch,h,w", [("punet", 64, 96), ("punet", 128, 64), ("model", 64, 96),
                                      ("model", 34, 50), ("model", 2, 2)])
def test_both_archs_build_at_several_sizes(arch, h, w):
    _, y, (out,), _, _ = _run(arch, [2, h // 2, w // 2, 4])
    assert out.shape == (2, h, w, 3)
    assert y.op.name == "output_l0"


def test_compact_model_range_params_and_pixel_shuffle_layout():
    _, _, (out, pre), n_params, _ = _run("model", [1, 20, 24, 4], fetch_extra="generator/Sigmoid:0")
    assert out.shape == (1, 40, 48, 3) and pre.shape == (1, 20, 24, 12)
    assert out.min() > 0.0 and out.max() < 1.0
    # depth_to_space(2): output[2i+dy, 2j+dx, c] = pre[i, j, (2*dy+dx)*3 + c]
    for dy in (0, 1):
        for dx in (0, 1):
            np.testing.assert_array_equal(out[0, dy::2, dx::2, :], pre[0, :, :, (2 * dy + dx) * 3:(2 * dy + dx) * 3 + 3])
    # default config (b=16): head 3x3x4x32+32 = 1184, dense0 3x3x32x16+16 = 4624,
    # dense1 3x3x48x16+16 = 6928, unit fusion 64x32+32+2 = 2082, LRFU 64x32+32+2 = 2082,
    # tail 3x3x8x12+12 = 876, the light's gain 4x32+32 = 160
    assert n_params == 17936


def _exposure_run(scale, wp_weights):
    """arch=model on a fixed RAW times `scale`, with the light gain's weights set; (output, head maps)."""
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(0)  # the same weights in every call
        x = tf.placeholder(tf.float32, [1, 16, 16, 4])
        y = model.build("model", x, 16)
        variables = {v.op.name: v for v in tf.global_variables()}
        head = graph.get_tensor_by_name("generator/lit_head:0")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            w = np.zeros([1, 1, 4, 32], np.float32)
            w[0, 0, :, :] = np.asarray(wp_weights, np.float32)[:, None]
            variables["generator/%s/weights" % model.GAIN_SCOPE].load(w, sess)
            # no bias: ReLU(conv(k x)) = k ReLU(conv(x)) for k > 0
            variables["generator/head/biases"].load(np.zeros(32, np.float32), sess)
            # below the light's saturation ramp at both exposures: the light scales with them
            inp = 0.05 + 0.35 * np.random.RandomState(3).rand(1, 16, 16, 4).astype(np.float32)
            return sess.run([y, head], {x: scale * inp})


def test_light_gain_starts_at_one():
    # freshly initialised, the gain is 1: the head's maps are its ReLU(conv) unchanged
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [2, 16, 20, 4])
        model.build("model", x)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            inp = np.random.RandomState(0).rand(2, 16, 20, 4).astype(np.float32)
            lit_head = graph.get_operation_by_name("generator/lit_head")
            relu, gain, lit = sess.run(list(lit_head.inputs) + [lit_head.outputs[0]], {x: inp})
    assert gain.shape == (2, 1, 1, 32)
    np.testing.assert_array_equal(gain, 1.0)
    assert np.abs(relu).max() > 0
    np.testing.assert_array_equal(lit, relu)


def _light_reference(planes, saturation=0.95):
    """The light, written out loop by loop: [N, 4] (saturation=np.inf: no cell masked)."""
    out = []
    for img in planes:
        h, w = img.shape[:2]
        gh, gw = min(16, h), min(16, w)
        ch, cw = h // gh, w // gw
        top, left = (h - gh * ch) // 2, (w - gw * cw) // 2
        light = []
        for c in range(4):
            num = den = 0.0
            for i in range(gh):
                for j in range(gw):
                    m = img[top + i * ch:top + (i + 1) * ch, left + j * cw:left + (j + 1) * cw, c].mean(dtype=np.float64)
                    weight = min(max((saturation - m) * 20.0, 0.0), 1.0)
                    num += weight * m ** model.LIGHT_POWER
                    den += weight
            # the weights' mean floored at one cell of the 16x16 grid's
            ratio = (num / (gh * gw)) / max(den / (gh * gw), 1.0 / 256)
            light.append(max(ratio ** (1.0 / model.LIGHT_POWER), model.LIGHT_FLOOR))
        green = 0.5 * (light[1] + light[3])
        out.append([light[0], green, light[2], green])
    return np.array(out)


@pytest.mark.parametrize("shape", [[4, 64, 96, 4], [4, 70, 101, 4], [4, 6, 40, 4]])
@pytest.mark.parametrize("static", [True, False])
def test_light_statistic_against_numpy(shape, static):
    """The graph's light (a fixed size: one average pool; any size: reshapes and means) is the
    reference's, for sizes a multiple of the grid, not (the centre is used) and smaller than it."""
    rs = np.random.RandomState(1)
    raw = 0.3 * rs.rand(*shape).astype(np.float32)
    raw[0, :shape[1] // 2, :shape[2] // 2, :] = 1.0   # a clipped quarter: its cells weigh nothing
    raw[0, -4:, -8:, :] = [0.9, 0.6, 0.8, 0.7]        # a bright corner
    raw[2] *= 0.001                                   # a dark image: the floor
    raw[3] = 0.002                                    # greens either side of the floor: each plane is
    raw[3, :, :, 1] = 0.008                           # floored before the greens are shared
    raw[3, :, :, 3] = 0.012
    raw[3, 1:, 1:, 0] = 1.0                           # blue clipped but for a row and a column
    want = _light_reference(raw)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape if static else [None, None, None, 4])
        got = tf.Session().run(model._photo_light(x), {x: raw})
    assert got.shape == (4, 1, 1, 4)
    np.testing.assert_allclose(got[:, 0, 0, :], want, rtol=2e-6)
    np.testing.assert_allclose(got[2], model.LIGHT_FLOOR, rtol=1e-6)
    assert (got[:2] > 0.1).all()
    np.testing.assert_allclose(got[3, 0, 0, 1], 0.011, rtol=1e-4)  # (0.01 + 0.012) / 2
    # the clipped quarter is left out: averaged in, it would lift the light well above
    assert (got[0, 0, 0] < 0.8 * _light_reference(raw[:1], saturation=np.inf)[0]).all()


def test_light_statistic_is_the_same_at_any_size_and_not_dragged_by_highlights():
    """A scene binned 2x2 per plane (the same light and exposure at a quarter of the pixels) has
    the same light, and a few clipped pixels hardly move it."""
    rs = np.random.RandomState(4)
    big = (rs.rand(1, 512, 768, 4) ** 2).astype(np.float32)
    big[0, 100:300, 200:500] *= 3.0      # a bright region
    big = np.minimum(big, 1.0)
    sizes = [big]
    for _ in range(2):
        b = sizes[-1]
        sizes.append(b.reshape(1, b.shape[1] // 2, 2, b.shape[2] // 2, 2, 4).mean(axis=(2, 4)))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [1, None, None, 4])
        light = model._photo_light(x)
        with tf.Session() as sess:
            got = [sess.run(light, {x: s}) for s in sizes]
            spotted = big.copy()
            spotted[0, rs.randint(0, 512, 40), rs.randint(0, 768, 40)] = 1.0   # 40 clipped pixels
            moved = sess.run(light, {x: spotted})
    for g in got[1:]:
        np.testing.assert_allclose(g, got[0], rtol=1e-5)
    np.testing.assert_allclose(moved, got[0], rtol=1e-3)


def test_light_statistic_reads_each_colour_from_its_plane():
    # a grey scene lit by a coloured light, mosaicked RGGB and split into planes as the loaders do
    # (B, Gb, R, Gr): the statistic holds that light's B, G, R, G
    rgb = np.tile(np.array([0.8, 0.6, 0.4], np.float32), (64, 64, 1))  # R, G, B
    mosaic = np.zeros([64, 64], np.float32)
    mosaic[0::2, 0::2], mosaic[0::2, 1::2] = rgb[0::2, 0::2, 0], rgb[0::2, 1::2, 1]
    mosaic[1::2, 0::2], mosaic[1::2, 1::2] = rgb[1::2, 0::2, 1], rgb[1::2, 1::2, 2]
    planes = load_dataset.bayer_planes(mosaic)[None]
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, None, None, 4])
        got = tf.Session().run(model._photo_light(x), {x: planes})
    np.testing.assert_allclose(got[0, 0, 0], [0.4, 0.6, 0.8, 0.6], rtol=1e-5)


def test_light_gain_is_capped():
    with tf.Graph().as_default():
        lw = tf.placeholder(tf.float32, [1, 1, 1, 4])  # the log of a light
        gain = model._light_gain(lw, 8)
        variables = {v.op.name: v for v in tf.global_variables()}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            variables[model.GAIN_SCOPE + "/biases"].load(np.full(8, 10.0, np.float32), sess)  # exponent 100
            got = sess.run(gain, {lw: np.full([1, 1, 1, 4], np.log(0.5), np.float32)})
    np.testing.assert_allclose(got, np.exp(model.GAIN_CAP), rtol=1e-6)


def test_light_gain_can_cancel_exposure():
    # at zero weights the head maps scale with the exposure, and so does the output
    out1, h1 = _exposure_run(1.0, [0, 0, 0, 0])
    out2, h2 = _exposure_run(2.0, [0, 0, 0, 0])
    assert np.abs(h2 - 2 * h1).max() < 1e-5 * np.abs(h1).max()
    assert np.abs(out2 - out1).max() > 1e-3
    # exponent -1 in total on the greens' light (the stored weights are scaled by GAIN_RATE):
    # the head maps, and so the output, no longer depend on the exposure
    w = -0.5 / model.GAIN_RATE
    out1, h1 = _exposure_run(1.0, [0, w, 0, w])
    out2, h2 = _exposure_run(2.0, [0, w, 0, w])
    assert np.abs(h1).max() > 0
    assert np.abs(h2 - h1).max() < 1e-5 * np.abs(h1).max()
    assert np.abs(out2 - out1).max() < 1e-5


def _earlier_checkpoint(prefix, gain_scope):
    """An arch=model checkpoint (b=8) whose gain variables are under gain_scope (None: no gain)."""
    with tf.Graph().as_default():
        model.build("model", tf.placeholder(tf.float32, [1, 8, 8, 4]), 8)
        names = {}
        for v in tf.global_variables():
            name = v.op.name
            if model.GAIN_SCOPE in name:
                if gain_scope is None:
                    continue
                name = name.replace(model.GAIN_SCOPE, gain_scope)
            names[name] = v
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver(names).save(sess, prefix, write_meta_graph=False)


def test_checkpoints_of_the_earlier_designs_are_named(tmp_path):
    prefix = str(tmp_path / "model_iteration_10.ckpt")
    _earlier_checkpoint(prefix, None)
    assert model.checkpoint_arch(prefix) == (model.EARLIER_MODEL, 8)
    msg = model.restore_error(prefix, "model", 8, ValueError("not found"))
    assert "earlier arch=model (num_maps_base=8, before the white-patch gain" in msg and "\n" not in msg
    # the first white-patch gain (variables under white_patch/): its statistic mixed a green with red
    prefix = str(tmp_path / "model_iteration_20.ckpt")
    _earlier_checkpoint(prefix, "white_patch")
    assert model.checkpoint_arch(prefix) == (model.EARLIER_GAIN, 8)
    msg = model.restore_error(prefix, "model", 8, ValueError("not found"))
    assert "the first white-patch gain, which averaged a green" in msg and "train it again" in msg and "\n" not in msg
    assert not re.search(r"20\d\d-\d\d-\d\d|commit", msg), msg  # no history in what a user reads
    # the white-patch gain (variables under light_gain/): its brightest 4x4 cell grew with the size
    prefix = str(tmp_path / "model_iteration_25.ckpt")
    _earlier_checkpoint(prefix, "light_gain")
    assert model.checkpoint_arch(prefix) == (model.EARLIER_WHITE_PATCH, 8)
    msg = model.restore_error(prefix, "model", 8, ValueError("not found"))
    assert "the white-patch gain, whose brightest 4x4 average grew" in msg and "train it again" in msg, msg
    assert "\n" not in msg and not re.search(r"20\d\d-\d\d-\d\d|commit", msg), msg
    prefix = str(tmp_path / "model_iteration_30.ckpt")
    _earlier_checkpoint(prefix, model.GAIN_SCOPE)
    assert model.checkpoint_arch(prefix) == ("model", 8)


def test_compact_model_scales_with_num_maps_base():
    counts = [_run("model", [1, 8, 8, 4], b)[3] for b in (8, 16, 32)]
    assert counts[0] < counts[1] < counts[2]


def test_build_refuses_what_the_argument_check_refuses_with_the_same_line():
    for arch, b, says in (("resnet", 16, "unknown arch 'resnet'"), ("model", 7, "arch=model needs an even number"),
                          ("punet", 2, "arch=punet needs at least 4")):
        with pytest.raises(UsageError) as checked:
            check_arch_and_size(arch, "img_w", 64, "img_h", 64, b)
        with tf.Graph().as_default():
            with pytest.raises(UsageError) as built:
                model.build(arch, tf.placeholder(tf.float32, [1, 32, 32, 4]), b)
        assert str(built.value) == str(checked.value) and says in str(built.value)
