"""losses.py: the training SSIM is tf.image.ssim's."""
import numpy as np

from losses import ssim_per_image
from tfimport import import_tf

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
