"""isp/losses.py: the training SSIM is tf.image.ssim's."""
import numpy as np
import pytest

from isp.evaluate import SsimMeter
from isp.losses import ssim_per_image
from isp.tfimport import import_tf

tf = import_tf()


def test_training_ssim_equals_tf_image_ssim():
    rng = np.random.RandomState(0)
    a = rng.rand(3, 40, 52, 3).astype(np.float32)
    b = np.clip(a + rng.randn(3, 40, 52, 3).astype(np.float32) * 0.1, 0, 1)
    with tf.Graph().as_default():
        pa, pb = tf.placeholder(tf.float32, a.shape), tf.placeholder(tf.float32, b.shape)
        with tf.Session() as sess:
            ours, ref = sess.run([ssim_per_image(tf, pa, pb, 1.0), tf.image.ssim(pa, pb, 1.0)], {pa: a, pb: b})
    assert ours.shape == (3,)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert ref.min() < 0.99  # a real difference was measured


def test_the_ssim_meter_takes_images_of_every_size_in_one_session_and_closes_it():
    rng = np.random.RandomState(0)
    pairs = [(rng.rand(h, w, 3).astype(np.float32), rng.rand(h, w, 3).astype(np.float32))
             for h, w in ((32, 48), (64, 40), (32, 48))]
    with SsimMeter(tf) as meter:
        values = [meter(*pairs[0])]
        session = meter.sess
        for x, y in pairs[1:]:
            values.append(meter(x, y))
            assert meter.sess is session  # one session for every size
    assert meter.sess is None
    with pytest.raises(RuntimeError):  # closed
        session.run(meter.value, {meter.a: pairs[0][0], meter.b: pairs[0][1]})
    for (x, y), value in zip(pairs, values):
        with tf.Graph().as_default(), tf.Session() as sess:
            want = sess.run(tf.image.ssim(tf.constant(x)[None], tf.constant(y)[None], 1.0)[0])
        assert abs(value - want) < 1e-5, (value, want)
