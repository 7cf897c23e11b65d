"""model.py: the two architectures."""
import os

import numpy as np
import pytest

from conftest import SHARED_FIXTURE
from utils import import_tf

tf = import_tf()
import model  # noqa: E402  (after the TF import helper)


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
    # tail 3x3x8x12+12 = 876, white-patch gain 4x32+32 = 160
    assert n_params == 17936


def _exposure_run(scale, wp_weights):
    """arch=model on a fixed RAW times `scale`, with the white-patch weights set; (output, head maps)."""
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
            variables["generator/white_patch/weights"].load(w, sess)
            # no bias: ReLU(conv(k x)) = k ReLU(conv(x)) for k > 0
            variables["generator/head/biases"].load(np.zeros(32, np.float32), sess)
            inp = 0.05 + 0.4 * np.random.RandomState(3).rand(1, 16, 16, 4).astype(np.float32)
            return sess.run([y, head], {x: scale * inp})


def test_white_patch_gain_starts_at_one_and_can_cancel_exposure():
    # at its initial (zero) weights the gain is 1: the head maps scale with the exposure
    _, h1 = _exposure_run(1.0, [0, 0, 0, 0])
    _, h2 = _exposure_run(2.0, [0, 0, 0, 0])
    assert np.abs(h2 - 2 * h1).max() < 1e-5 * np.abs(h1).max()
    # exponent -1 on the greens' white patch (the stored weights are scaled by GAIN_RATE):
    # the head maps, and so the output, no longer depend on the exposure
    w = -0.5 / model.GAIN_RATE
    out1, h1 = _exposure_run(1.0, [0, w, w, 0])
    out2, h2 = _exposure_run(2.0, [0, w, w, 0])
    assert np.abs(h1).max() > 0
    assert np.abs(h2 - h1).max() < 1e-5 * np.abs(h1).max()
    assert np.abs(out2 - out1).max() < 1e-5
    out3, _ = _exposure_run(2.0, [0, 0, 0, 0])
    assert np.abs(out3 - out1).max() > 1e-3  # without the gain the exposure shows


def test_checkpoint_of_the_earlier_model_is_named(tmp_path):
    prefix = str(tmp_path / "model_iteration_10.ckpt")
    with tf.Graph().as_default():
        model.build("model", tf.placeholder(tf.float32, [1, 8, 8, 4]), 8)
        earlier = [v for v in tf.global_variables() if "white_patch" not in v.op.name]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver(earlier).save(sess, prefix, write_meta_graph=False)
    assert model.checkpoint_arch(prefix) == (model.EARLIER_MODEL, 8)
    msg = model.restore_error(prefix, "model", 8, ValueError("not found"))
    assert "earlier arch=model (num_maps_base=8, before the white-patch gain" in msg and "\n" not in msg


def test_compact_model_scales_with_num_maps_base():
    counts = [_run("model", [1, 8, 8, 4], b)[3] for b in (8, 16, 32)]
    assert counts[0] < counts[1] < counts[2]


def test_unknown_arch():
    with tf.Graph().as_default():
        with pytest.raises(ValueError):
            model.build("resnet", tf.placeholder(tf.float32, [1, 8, 8, 4]))
